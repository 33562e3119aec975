// Package accept opens listeners and runs their accept loops so that they
// survive failures such as running out of file descriptors.
//
// Listen waits a while for a port that another socket holds: a server
// started at once in the place of one that is stopping finds its ports
// still taken for a moment.
//
// An Accept that fails with EMFILE or ENFILE (too many open files, for
// the process or the system) leaves the pending connection in the
// kernel's queue: retrying at once would spin, giving up would leave the
// listener dead for good. Serve waits instead, 5 ms after the first
// failure and twice as long after each further one up to 1 s, and starts
// over after a success. It logs the first failure and then at most one
// line a minute, with the number of failures since the last line.
package accept

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Listen opens a TCP listener on addr, waiting up to wait while another
// socket holds the port, or until ctx ends; what names the listener in
// the log line and the error ("client", "peer", "HTTP").
func Listen(ctx context.Context, addr, what string, wait time.Duration, log *slog.Logger) (net.Listener, error) {
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, fmt.Errorf("%s listener on %s: %w", what, addr, err)
		}
		if !logged {
			log.Info("the port is in use; waiting for it", "listener", what, "addr", addr, "for", wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s listener on %s: %w", what, addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pacing is how Serve waits and logs.
type pacing struct {
	minWait, maxWait time.Duration // the pause after the first failure, and the longest
	logEvery         time.Duration // one log line per period at most
}

var defaultPacing = pacing{minWait: 5 * time.Millisecond, maxWait: time.Second, logEvery: time.Minute}

// Serve accepts connections on ln and hands each to handle, until ln is
// closed, ctx ends or handle returns false. handle runs in Serve's
// goroutine: it starts the connection's own and returns. Every error of
// Accept but a closed listener is retried, after a pause (see the package
// doc); what names the listener in log lines ("client", "peer").
func Serve(ctx context.Context, ln net.Listener, log *slog.Logger, what string, handle func(net.Conn) bool) {
	serve(ctx, ln, log, what, handle, defaultPacing)
}

func serve(ctx context.Context, ln net.Listener, log *slog.Logger, what string, handle func(net.Conn) bool, p pacing) {
	var wait time.Duration
	var lastLog time.Time
	failures := 0 // since the last log line
	for {
		nc, err := ln.Accept()
		if err == nil {
			wait = 0
			if !handle(nc) {
				return
			}
			continue
		}
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return
		}
		failures++
		if now := time.Now(); lastLog.IsZero() || now.Sub(lastLog) >= p.logEvery {
			log.Error("accept failed; retrying", "listener", what, "addr", ln.Addr().String(), "err", err, "failures", failures)
			lastLog, failures = now, 0
		}
		wait = min(max(2*wait, p.minWait), p.maxWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
