package replica

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestWarnRepeats: a peer refused again and again is a warning once a
// minute, not once a retry.
func TestWarnRepeats(t *testing.T) {
	var buf bytes.Buffer
	r := &Replica{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for range 5 {
		r.warn("refused a peer", "x", errors.New("no login"))
	}
	r.warn("refused a peer", "y", errors.New("no login"))
	r.warn("refused a peer", "x", errors.New("wrong key"))
	if n := strings.Count(buf.String(), "level=WARN"); n != 3 {
		t.Fatalf("%d warnings, want 3:\n%s", n, buf.String())
	}
}
