package config

import (
	"errors"
	"fmt"
)

// Validate checks ranges and allowed words. It reports every bad key, each
// as an *Error wrapping ErrInvalid, joined with errors.Join.
func (c *Config) Validate() error {
	var errs []error
	for _, e := range c.validate() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (c *Config) validate() []*Error {
	var errs []*Error
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, &Error{Key: key, Err: err})
		}
	}
	check("logging.level", oneOf(c.Logging.Level, LevelDebug, LevelInfo, LevelWarn, LevelError))

	s := &c.Server
	check("server.bind_default.port", inRange(s.BindDefault.Port, 0, 65535))
	if s.Root == "" {
		check("server.root", fmt.Errorf("%w: the network name must not be empty", ErrInvalid))
	}
	check("server.change.length", inRange(s.Change.Length, 1, 100))
	check("server.log.sync", oneOf(s.Log.Sync, SyncAlways, SyncInterval, SyncNever))
	check("server.log.interval", positive(s.Log.Interval))
	check("server.conn.queue", atLeast(s.Conn.Queue, 10))
	check("server.conn.max_message", atLeast(s.Conn.MaxMessage, 64*KiB))

	check("connect.port", inRange(c.Connect.Port, 1, 65535))
	check("connect.timeout", positive(c.Connect.Timeout))
	return errs
}

func inRange(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%w %d: want %d..%d", ErrInvalid, v, lo, hi)
	}
	return nil
}

func atLeast[T interface{ ~int | ~int64 }](v, lo T) error {
	if v < lo {
		return fmt.Errorf("%w %v: want at least %v", ErrInvalid, v, lo)
	}
	return nil
}

func positive(d Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w %v: want more than 0", ErrInvalid, d)
	}
	return nil
}
