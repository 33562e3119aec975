package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain checks, after all tests, that no goroutine of ours, Serf's,
// memberlist's or mDNS's is left running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoLeaks(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func waitNoLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "waitNoLeaks") || strings.Contains(g, "testing.(*M)") {
				continue
			}
			if strings.Contains(g, "distkv/core/gossip.") || strings.Contains(g, "github.com/hashicorp/") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logs records log lines; a failed test prints them.
type logs struct {
	mu    sync.Mutex
	lines []string
}

// logHandler writes to logs with the attributes of its logger.
type logHandler struct {
	l     *logs
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.l, append(slices.Clone(h.attrs), as...)}
}
func (h logHandler) WithGroup(string) slog.Handler { return h }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.l.mu.Lock()
	h.l.lines = append(h.l.lines, b.String())
	h.l.mu.Unlock()
	return nil
}

// contains reports whether a line has all the parts.
func (l *logs) contains(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				return false
			}
		}
		return true
	})
}

// testLogger returns a logger whose lines are printed if t fails (or if
// $GOSSIP_TEST_LOGS is set).
func testLogger(t *testing.T) (*slog.Logger, *logs) {
	t.Helper()
	l := &logs{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GOSSIP_TEST_LOGS") != "" {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, line := range l.lines {
				t.Log(line)
			}
		}
	})
	return slogFor(l), l
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder collects the events of one node until its channel is closed.
type recorder struct {
	mu     sync.Mutex
	events []Event
	done   chan struct{}
}

func record(g Gossip) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for e := range g.Events() {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		}
	}()
	return r
}

// has reports whether an event matching f was recorded.
func (r *recorder) has(f func(Event) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.events, f)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func isUser(name, payload string) func(Event) bool {
	return func(e Event) bool { return e.Kind == User && e.Name == name && string(e.Payload) == payload }
}

func isMember(kind Kind, name string) func(Event) bool {
	return func(e Event) bool {
		return e.Kind == kind && len(e.Members) == 1 && e.Members[0].Name == name
	}
}

// status returns how g sees the member name, and whether it sees it.
func status(g Gossip, name string) (Status, bool) {
	for _, m := range g.Members() {
		if m.Name == name {
			return m.Status, true
		}
	}
	return 0, false
}

func sees(g Gossip, name string, st Status) func() bool {
	return func() bool {
		s, ok := status(g, name)
		return ok && s == st
	}
}

// seesAll reports whether every node sees every name alive.
func seesAll(gs []Gossip, names ...string) func() bool {
	return func() bool {
		for _, g := range gs {
			for _, n := range names {
				if !sees(g, n, Alive)() {
					return false
				}
			}
		}
		return true
	}
}

func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// waitEvent waits until r has recorded an event matching f.
func waitEvent(t *testing.T, r *recorder, what string, f func(Event) bool) {
	t.Helper()
	waitFor(t, 10*time.Second, what, func() bool { return r.has(f) })
}

// count counts the recorded events matching f.
func (r *recorder) count(f func(Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if f(e) {
			n++
		}
	}
	return n
}

func slogFor(l *logs) *slog.Logger { return slog.New(logHandler{l: l}) }
