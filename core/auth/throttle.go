package auth

import (
	"sync"
	"time"
)

// Throttle slows down guessing. After a failed login the next attempt on
// the same connection, and the next attempt for the same user name from
// any connection, waits: Base after one failure, doubling with each
// further one up to Max. A user's count is forgotten Forget after its
// last failure, or at a successful login. At most MaxUsers names are
// remembered (an attacker who sprays names meets the per-connection delay
// instead). The delay is in the answer, not a lockout: the right password
// still works after the wait.
type Throttle struct {
	Base, Max, Forget time.Duration
	MaxUsers          int

	mu    sync.Mutex
	users map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// NewThrottle returns a Throttle with the defaults: 250 ms doubling to
// 8 s, forgotten after 15 minutes, 4096 names.
func NewThrottle() *Throttle {
	return &Throttle{Base: 250 * time.Millisecond, Max: 8 * time.Second, Forget: 15 * time.Minute, MaxUsers: 4096}
}

// Delay is how long to wait before checking a login for user on a
// connection that has failed connFails times so far.
func (t *Throttle) Delay(user string, connFails int) time.Duration {
	n := connFails
	t.mu.Lock()
	if f := t.users[user]; f != nil {
		if time.Since(f.last) > t.Forget {
			delete(t.users, user)
		} else {
			n = max(n, f.n)
		}
	}
	t.mu.Unlock()
	return t.delay(n)
}

func (t *Throttle) delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := t.Base
	for i := 1; i < n && d < t.Max; i++ {
		d *= 2
	}
	return min(d, t.Max)
}

// Failed records a failed login for user.
func (t *Throttle) Failed(user string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = make(map[string]*failures)
	}
	f := t.users[user]
	if f == nil {
		if len(t.users) >= t.MaxUsers {
			t.evict(now)
		}
		f = &failures{}
		t.users[user] = f
	}
	f.n++
	f.last = now
}

// evict makes room: forgotten names first, else any one.
func (t *Throttle) evict(now time.Time) {
	for k, f := range t.users {
		if now.Sub(f.last) > t.Forget {
			delete(t.users, k)
		}
	}
	for k := range t.users {
		if len(t.users) < t.MaxUsers {
			return
		}
		delete(t.users, k)
	}
}

// Succeeded forgets user's failures.
func (t *Throttle) Succeeded(user string) {
	t.mu.Lock()
	delete(t.users, user)
	t.mu.Unlock()
}
