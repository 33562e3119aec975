package replica

import (
	"net"
	"sync"
	"time"
)

// repeatEvery is how often the same failure with the same peer is logged
// at warning level: a peer that keeps being refused (a wrong key, no
// login) is retried every Check, and one line a second says no more than
// one a minute. The repeats go to the debug level.
const repeatEvery = time.Minute

// quiet remembers when each failure was last logged as a warning.
type quiet struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// warn logs at warning level unless the same (what, peer, err) was logged
// so within repeatEvery; then at debug level.
func (r *Replica) warn(what, peer string, err error, args ...any) {
	key := what + "\x00" + peer + "\x00" + err.Error()
	now := time.Now()
	q := &r.quiet
	q.mu.Lock()
	if q.last == nil || len(q.last) > 1024 {
		q.last = make(map[string]time.Time)
	}
	t, seen := q.last[key]
	loud := !seen || now.Sub(t) >= repeatEvery
	if loud {
		q.last[key] = now
	}
	q.mu.Unlock()
	args = append(args, "err", err)
	if loud {
		r.log.Warn(what, args...)
	} else {
		r.log.Debug(what, args...)
	}
}

// hostOf is a remote address without its port: a peer that dials again
// comes from another port.
func hostOf(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
