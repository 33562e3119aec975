package gossip

import (
	"context"
	"log"
	"log/slog"
	"os"
	"strings"
)

// stdLogger adapts l for Serf, memberlist and mDNS, which log lines such as
// "[WARN] memberlist: text": each line goes to l at the matching level.
func stdLogger(l *slog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

type logWriter struct{ l *slog.Logger }

var logLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[TRACE] ", slog.LevelDebug - 4},
	{"[DEBUG] ", slog.LevelDebug},
	{"[INFO] ", slog.LevelInfo},
	{"[WARN] ", slog.LevelWarn},
	{"[ERR] ", slog.LevelError},
	{"[ERROR] ", slog.LevelError},
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level := slog.LevelInfo
		for _, l := range logLevels {
			if rest, ok := strings.CutPrefix(line, l.prefix); ok {
				level, line = l.level, rest
				break
			}
		}
		w.l.Log(context.Background(), level, line)
	}
	return len(p), nil
}

func hostname() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "localhost"
	}
	return name
}
