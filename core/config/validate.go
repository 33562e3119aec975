package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
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
	// A change must also fit in a message to a peer and in a log record
	// (256 MiB each, with room for the path and the chain): a bigger one
	// would be applied here and stop replication.
	check("server.conn.max_message", sizeIn(s.Conn.MaxMessage, 64*KiB, 255*MiB))
	check("server.conn.input_budget", atLeast(s.Conn.InputBudget, MiB))
	check("server.serf.bind", hostPort(s.Serf.Bind))
	check("server.serf.port", inRange(s.Serf.Port, 1, 65535))
	check("server.serf.key", serfKey(s.Serf.Key))
	check("server.serf.profile", oneOf(s.Serf.Profile, "lan", "wan", "local"))
	if s.Peer.Bind != "" {
		check("server.peer.bind", hostPort(s.Peer.Bind))
	}
	check("server.bind_default.ssl", serverSSL(s.BindDefault.SSL))
	check("server.peer.ssl", serverSSL(s.Peer.SSL))
	if s.HTTP.Bind != "" {
		check("server.http.bind", hostPort(s.HTTP.Bind))
	}
	check("server.http.ssl", serverSSL(s.HTTP.SSL))
	if s.SyncTimeout < 0 {
		check("server.sync_timeout", fmt.Errorf("%w %v: want 0 (wait for ever) or more", ErrInvalid, s.SyncTimeout))
	}
	check("server.ack", oneOf(s.Ack, "local", "peer"))
	check("server.ack_timeout", positive(s.AckTimeout))

	check("connect.port", inRange(c.Connect.Port, 1, 65535))
	check("connect.timeout", positive(c.Connect.Timeout))
	if ssl := c.Connect.SSL; (ssl.Cert == "") != (ssl.Key == "") {
		check("connect.ssl", fmt.Errorf("%w: a client certificate needs both cert and key", ErrInvalid))
	}
	errs = append(errs, c.Runner.validate()...)
	return errs
}

// validate checks the runner section alone: dynamic configuration
// replaces it while a runner runs.
func (r *Runner) validate() []*Error {
	var errs []*Error
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, &Error{Key: key, Err: err})
		}
	}
	check("runner.timeout", positive(r.Timeout))
	check("runner.max_timeout", atLeast(r.MaxTimeout, 0))
	check("runner.nodes", atLeast(r.Nodes, 0))
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

func sizeIn(v, lo, hi Size) error {
	if v < lo || v > hi {
		return fmt.Errorf("%w %v: want %v to %v", ErrInvalid, v, lo, hi)
	}
	return nil
}

func positive(d Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w %v: want more than 0", ErrInvalid, d)
	}
	return nil
}

func hostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%w %q: want host:port", ErrInvalid, s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%w %q: the port must be 0..65535", ErrInvalid, s)
	}
	return nil
}

func serfKey(k string) error {
	if k == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil || (len(b) != 16 && len(b) != 24 && len(b) != 32) {
		return fmt.Errorf("%w: want the base64 of 16, 24 or 32 bytes (serf keygen)", ErrInvalid)
	}
	return nil
}

func serverSSL(s ServerSSL) error {
	switch {
	case !s.On():
		return nil
	case s.Cert == "" || s.Key == "":
		return fmt.Errorf("%w: TLS needs both cert and key", ErrInvalid)
	}
	return nil
}
