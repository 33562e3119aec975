// Package quietlog logs a warning that repeats at most once a period: a
// peer refused at every retry, a codec that fails for every value of a
// large walk. The repeats go to the debug level, and the next warning
// says how many there were.
package quietlog

import (
	"log/slog"
	"sync"
	"time"
)

// Every is how often the same warning is logged at warning level.
const Every = time.Minute

// maxKeys bounds what a Log remembers; past it, it starts afresh (and may
// repeat a warning early).
const maxKeys = 1024

// Log remembers when each warning was last logged. The zero value is
// ready to use; it is safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	last map[string]*seen
}

type seen struct {
	at      time.Time
	repeats int // logged at debug level since
}

// Warn logs msg with args to log at warning level, unless a warning of
// the same key went out within Every; then at debug level. A warning that
// follows repeats carries "repeats": how many went to the debug level.
func (q *Log) Warn(log *slog.Logger, key, msg string, args ...any) {
	now := time.Now()
	q.mu.Lock()
	if q.last == nil || len(q.last) > maxKeys {
		q.last = make(map[string]*seen)
	}
	s := q.last[key]
	loud := s == nil || now.Sub(s.at) >= Every
	repeats := 0
	switch {
	case s == nil:
		q.last[key] = &seen{at: now}
	case loud:
		repeats, s.at, s.repeats = s.repeats, now, 0
	default:
		s.repeats++
	}
	q.mu.Unlock()
	if !loud {
		log.Debug(msg, args...)
		return
	}
	if repeats > 0 {
		args = append(args, "repeats", repeats)
	}
	log.Warn(msg, args...)
}
