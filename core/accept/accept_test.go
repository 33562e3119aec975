package accept

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failingListener fails its first Accepts with the errors in fails, then
// hands out conns, then reports itself closed.
type failingListener struct {
	mu    sync.Mutex // protects the fields below
	fails []error
	conns []net.Conn
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 0 {
		err := l.fails[0]
		l.fails = l.fails[1:]
		return nil, err
	}
	if len(l.conns) > 0 {
		c := l.conns[0]
		l.conns = l.conns[1:]
		return c, nil
	}
	return nil, net.ErrClosed
}

func (l *failingListener) Close() error   { return nil }
func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// logLines collects log output.
type logLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func TestSurvivesEMFILE(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	opErr := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	ln := &failingListener{fails: []error{opErr, opErr, syscall.ENFILE, opErr, opErr}, conns: []net.Conn{a, b}}
	var out logLines
	var got []net.Conn
	Serve(context.Background(), ln, slog.New(slog.NewTextHandler(&out, nil)), "test", func(c net.Conn) bool {
		got = append(got, c)
		return true
	})
	if len(got) != 2 {
		t.Fatalf("%d connections served after the failures, want 2", len(got))
	}
	// Five failures within a minute: one line.
	if lines := out.lines(); len(lines) != 1 || !strings.Contains(lines[0], "too many open files") || !strings.Contains(lines[0], "listener=test") {
		t.Fatalf("log: %q", lines)
	}
}

// The log says how many failures there were since its last line.
func TestLogsOncePerPeriod(t *testing.T) {
	var fails []error
	for range 6 {
		fails = append(fails, syscall.EMFILE)
	}
	ln := &failingListener{fails: fails}
	var out logLines
	p := pacing{minWait: time.Millisecond, maxWait: time.Millisecond, logEvery: 0}
	serve(context.Background(), ln, slog.New(slog.NewTextHandler(&out, nil)), "test", func(net.Conn) bool { return true }, p)
	if lines := out.lines(); len(lines) != 6 || !strings.Contains(lines[5], "failures=1") {
		t.Fatalf("log: %q", lines)
	}
	ln = &failingListener{fails: fails}
	out = logLines{}
	p.logEvery = time.Hour
	serve(context.Background(), ln, slog.New(slog.NewTextHandler(&out, nil)), "test", func(net.Conn) bool { return true }, p)
	if lines := out.lines(); len(lines) != 1 || !strings.Contains(lines[0], "failures=1") {
		t.Fatalf("log: %q", lines)
	}
}

func TestStops(t *testing.T) {
	// handle says stop.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	n := 0
	Serve(context.Background(), &failingListener{conns: []net.Conn{a, b}}, slog.Default(), "test", func(net.Conn) bool {
		n++
		return false
	})
	if n != 1 {
		t.Fatalf("%d connections handled after a stop", n)
	}
	// ctx ends while Serve waits after failures.
	var fails []error
	for range 1000 {
		fails = append(fails, fmt.Errorf("accept: %w", syscall.EMFILE))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out logLines
		Serve(ctx, &failingListener{fails: fails}, slog.New(slog.NewTextHandler(&out, nil)), "test", func(net.Conn) bool { return true })
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop when ctx ended")
	}
}
