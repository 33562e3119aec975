package quietlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRepeats: the same key is a warning once per period; another key
// has its own; the first warning after repeats counts them.
func TestRepeats(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var q Log
	for range 5 {
		q.Warn(log, "x", "refused", "peer", "x")
	}
	q.Warn(log, "y", "refused", "peer", "y")
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d warnings, want 2:\n%s", n, buf.String())
	}
	q.mu.Lock()
	q.last["x"].at = time.Now().Add(-Every) // a period has passed
	q.mu.Unlock()
	buf.Reset()
	q.Warn(log, "x", "refused", "peer", "x")
	if got := buf.String(); !strings.Contains(got, "repeats=4") {
		t.Fatalf("after the period: %s", got)
	}
}

// TestBounded: many keys do not grow the memory without bound.
func TestBounded(t *testing.T) {
	var q Log
	log := slog.New(slog.DiscardHandler)
	for i := range 10 * maxKeys {
		q.Warn(log, string(rune(i)), "m")
	}
	if len(q.last) > maxKeys+1 {
		t.Fatalf("%d keys remembered", len(q.last))
	}
}
