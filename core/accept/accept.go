// Package accept runs listeners' accept loops so that they survive
// failures such as running out of file descriptors.
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
	"log/slog"
	"net"
	"time"
)

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
