// Package budget shares one allowance of memory among many readers: a
// server's budget for incoming messages that have not arrived whole.
//
// Each connection draws on the Budget through an Account as its buffer
// grows, and gives everything back when the message is complete (or the
// connection ends). While the budget is spent, a growing account waits:
// its connection stops reading, and TCP pushes back on the sender.
//
// # No deadlock
//
// Accounts grow step by step, with the bytes that arrive, so two half-read
// messages could each wait for budget the other holds. To rule that out,
// one account at a time may go past the limit: when an account that
// already holds budget (or any account while nothing at all is held)
// cannot grow within the limit, it becomes the budget's overdraft and
// grows freely until it releases everything, which its reader does once
// the message is complete. So memory in use is at most the limit plus one
// message, a message larger than the whole budget is still taken (one at
// a time), and every wait ends when some message completes or some
// connection closes.
package budget

import (
	"context"
	"sync"
)

// Budget is an amount of bytes that accounts draw on. A nil *Budget has
// no limit. Safe for concurrent use.
type Budget struct {
	limit int64

	mu      sync.Mutex // protects the fields below
	used    int64
	peak    int64     // the most used since the last TakePeak
	over    *Account  // the account that may go past the limit, if any
	waiting []*waiter // in the order they came
}

type waiter struct {
	a     *Account
	n     int64
	ready chan struct{} // closed when n is granted
}

// New returns a budget of limit bytes.
func New(limit int64) *Budget {
	return &Budget{limit: limit}
}

// Limit returns the budget's size; 0 for a nil *Budget (no limit).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Used returns the bytes the accounts hold now (more than Limit while
// one account overdraws).
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// TakePeak returns the most the accounts held at once since the last
// TakePeak (or New), and starts over from what they hold now.
func (b *Budget) TakePeak() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	peak := b.peak
	b.peak = b.used
	return peak
}

// Account returns a new, empty account. An account of a nil *Budget
// grows without waiting.
func (b *Budget) Account() *Account {
	return &Account{b: b}
}

// Account is one reader's share of a Budget. Its methods must not be
// called concurrently with each other; different accounts are
// independent.
type Account struct {
	b    *Budget
	held int64 // guarded by b.mu
}

// Grow takes n more bytes from the budget. It waits while the budget has
// none to give, and returns ctx's error if ctx ends first (then nothing is
// taken).
func (a *Account) Grow(ctx context.Context, n int) error {
	b := a.b
	if b == nil || n <= 0 {
		return nil
	}
	b.mu.Lock()
	if b.over == a {
		b.admit(a, int64(n))
		b.mu.Unlock()
		return nil
	}
	w := &waiter{a: a, n: int64(n), ready: make(chan struct{})}
	b.waiting = append(b.waiting, w)
	b.wake() // w may be first, or may take the overdraft
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		return nil // granted meanwhile: Release gives it back
	default:
	}
	for i, x := range b.waiting {
		if x == w {
			b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
			break
		}
	}
	b.wake() // those behind it may fit
	return ctx.Err()
}

// Release gives back all the account holds, and its overdraft if it had
// it. The account can grow again afterwards.
func (a *Account) Release() {
	b := a.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= a.held
	a.held = 0
	if b.over == a {
		b.over = nil
	}
	b.wake()
}

// Held returns the bytes the account holds.
func (a *Account) Held() int64 {
	if a.b == nil {
		return 0
	}
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return a.held
}

// admit grants n bytes to a if the rules allow it now; b.mu is held.
func (b *Budget) admit(a *Account, n int64) bool {
	switch {
	case b.over == a:
	case b.used+n <= b.limit:
	case b.over == nil && (a.held > 0 || b.used == 0):
		// a holds part of a message and might wait for others that wait
		// for it; or nothing is held, so nothing would ever free.
		b.over = a
	default:
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	a.held += n
	return true
}

// wake grants what it can to the waiters: in order while they fit, then
// the overdraft to the first waiter that may take it; b.mu is held.
func (b *Budget) wake() {
	for len(b.waiting) > 0 {
		w := b.waiting[0]
		if b.over != w.a && b.used+w.n > b.limit {
			break
		}
		b.admit(w.a, w.n)
		b.waiting = b.waiting[1:]
		close(w.ready)
	}
	if b.over != nil {
		return
	}
	for i, w := range b.waiting {
		if w.a.held > 0 || b.used == 0 {
			b.admit(w.a, w.n)
			b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
			close(w.ready)
			return
		}
	}
}
