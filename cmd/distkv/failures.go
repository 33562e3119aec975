package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/quietlog"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/luart"
	"github.com/distkv-go/distkv/types"
)

// failures records the run-time failures of stored types and codecs in
// the error subtree (package errlog), as a runner records its jobs': a
// codec that cannot convert a value, a type whose script breaks a limit or
// crashes (a type that refuses a value works as meant: that is no
// failure). It writes through a connection of the server to itself, as a
// client logged in with connect.auth (with logins on, the login servers
// use among themselves, which has no ACL).
//
// One record per type or codec (its path, subsystem "type" or "codec"),
// updated at most every recordEvery, however many values fail: a broken
// codec must not write a record per value. Storing a new version of the
// type or codec marks its record resolved. Recording never delays a
// request: failures wait in a queue, and when it is full they are dropped.
type failures struct {
	log  *slog.Logger
	dial func(ctx context.Context) (*client.Client, error)
	node string

	queue chan failure
	quiet quietlog.Log

	mu   sync.Mutex // protects last and open
	last map[failureKey]time.Time
	open map[failureKey]bool // recorded and not yet resolved here
}

type failureKey struct {
	subsystem string
	at        path.Path
}

type failure struct {
	key      failureKey
	message  string
	resolved bool // a resolution, not a failure
}

// recordEvery is how often one type's or codec's record is updated at
// most.
const recordEvery = 10 * time.Second

func newFailures(log *slog.Logger, node string, dial func(ctx context.Context) (*client.Client, error)) *failures {
	return &failures{log: log, dial: dial, node: node, queue: make(chan failure, 256),
		last: map[failureKey]time.Time{}, open: map[failureKey]bool{}}
}

// dialSelf returns a dial function for the server at addr, with the
// connect settings of cfg (TLS, login).
func dialSelf(cfg config.Connect, addr net.Addr) func(ctx context.Context) (*client.Client, error) {
	return func(ctx context.Context) (*client.Client, error) {
		c := client.FromConfig(cfg)
		c.Host, c.Port = "127.0.0.1", addr.(*net.TCPAddr).Port
		if ip := addr.(*net.TCPAddr).IP; ip != nil && !ip.IsUnspecified() {
			c.Host = ip.String()
		}
		c.Reconnect = true
		return client.Open(ctx, c)
	}
}

// typeFailed notes the error of a type check, if it is a failure.
func (f *failures) typeFailed(err error) {
	var ce *types.CheckError
	if f == nil || !errors.As(err, &ce) {
		return
	}
	var le *luart.LimitError
	var se *luart.ScriptError
	if errors.As(ce.Err, &le) || errors.As(ce.Err, &se) && se.Panic {
		f.note(failure{key: failureKey{"type", types.TypeRoot.Join(ce.Type)}, message: err.Error()})
	}
}

// codecFailed notes a codec that could not convert a value.
func (f *failures) codecFailed(err error) {
	var ce *codecs.Error
	if f == nil || !errors.As(err, &ce) {
		return
	}
	f.note(failure{key: failureKey{"codec", codecs.CodecRoot.Join(ce.Codec)}, message: err.Error()})
}

// fixed notes that the type or codec record at p is stored anew: its
// failure, if one is recorded, is resolved.
func (f *failures) fixed(subsystem string, p path.Path) {
	if f == nil {
		return
	}
	k := failureKey{subsystem, p}
	f.mu.Lock()
	open := f.open[k]
	delete(f.open, k)
	delete(f.last, k)
	f.mu.Unlock()
	if open {
		f.note(failure{key: k, resolved: true})
	}
}

func (f *failures) note(x failure) {
	if !x.resolved {
		now := time.Now()
		f.mu.Lock()
		if t, ok := f.last[x.key]; ok && now.Sub(t) < recordEvery {
			f.mu.Unlock()
			return
		}
		f.last[x.key] = now
		f.open[x.key] = true
		f.mu.Unlock()
	}
	select {
	case f.queue <- x:
	default:
		f.quiet.Warn(f.log, "failures dropped", "a failure of a type or codec was not recorded: too many at once", "at", x.key.at.String())
	}
}

// run records the queued failures until ctx ends.
func (f *failures) run(ctx context.Context) {
	var l *errlog.Log
	var c *client.Client
	defer func() {
		if l != nil {
			l.Close()
			c.Close()
		}
	}()
	for {
		var x failure
		select {
		case <-ctx.Done():
			return
		case x = <-f.queue:
		}
		if l == nil {
			var err error
			c, err = f.dial(ctx)
			if err == nil {
				if l, err = errlog.Open(ctx, c, f.node); err != nil {
					c.Close()
				}
			}
			if err != nil {
				f.quiet.Warn(f.log, "failures open", "cannot record the failures of types and codecs", "err", err)
				continue
			}
		}
		var err error
		if x.resolved {
			err = l.Resolve(ctx, x.key.at, x.key.subsystem)
		} else {
			f.log.Warn("Error", "subsystem", x.key.subsystem, "at", x.key.at.String(), "err", x.message)
			err = l.Record(ctx, errlog.Failure{Path: x.key.at, Subsystem: x.key.subsystem, Severity: errlog.Error, Message: x.message})
		}
		if err != nil && ctx.Err() == nil {
			f.quiet.Warn(f.log, "failures record", "cannot record a failure of a type or codec", "at", x.key.at.String(), "err", err)
		}
	}
}
