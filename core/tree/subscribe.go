package tree

import (
	"context"
	"errors"
	"sync"

	"github.com/distkv-go/distkv/core/path"
)

// Errors of a Subscription.
var (
	// ErrOverflow: more changes waited than the queue holds, so some
	// were dropped; the subscriber must start again from a walk.
	ErrOverflow = errors.New("too many changes waited for the subscriber")
	// ErrClosed: the subscription was closed.
	ErrClosed = errors.New("subscription closed")
)

// Subscription is a bounded queue of the changes at or below a prefix,
// filled by a watch (Tree.Watch) and emptied by Next, so that its
// consumer runs without the tree's lock. A writer never waits for it:
// when the queue is full, the subscription overflows, drops what waits
// and takes no more changes, and Next returns ErrOverflow. Since then
// changes are missing, the consumer must Close it, subscribe again and
// walk again (with WalkOptions.Before set to the new Before) for the
// state it missed. A Subscription is safe for concurrent use; it starts
// no goroutines.
type Subscription struct {
	before uint64
	cancel func()
	limit  int           // the most changes that may wait
	ready  chan struct{} // holds a token while changes may wait
	done   chan struct{} // closed once err is set

	mu    sync.Mutex // protects the fields below
	ring  []Item     // grows up to limit as changes wait
	first int        // index in ring of the oldest change
	n     int        // changes waiting
	err   error      // ErrOverflow or ErrClosed: the end
}

// Subscribe returns a subscription to the changes at or below prefix,
// from now on. At most queue changes wait in it (less than 1 counts as
// 1); the room grows as they do, so an idle subscription costs little.
func (t *Tree) Subscribe(prefix path.Path, queue int) *Subscription {
	s := &Subscription{limit: max(queue, 1), ready: make(chan struct{}, 1), done: make(chan struct{})}
	s.before, s.cancel = t.Watch(prefix, s.put)
	return s
}

// Before returns the tock as of subscribing: every change the
// subscription delivers has a higher one, so a walk with
// WalkOptions.Before set to it reports the state those changes follow,
// and reports each entry at most once (either in the walk or as a
// change).
func (s *Subscription) Before() uint64 { return s.before }

// put queues a change; it runs under the tree's write lock.
func (s *Subscription) put(it *Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.n == s.limit {
		s.end(ErrOverflow)
		return
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	s.ring[(s.first+s.n)%len(s.ring)] = *it
	s.n++
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// grow makes room for more changes, keeping their order. s.mu is held.
func (s *Subscription) grow() {
	ring := make([]Item, min(max(2*len(s.ring), 16), s.limit))
	for i := range s.n {
		ring[i] = s.ring[(s.first+i)%len(s.ring)]
	}
	s.ring, s.first = ring, 0
}

// end drops what waits and makes err the answer of every Next from now
// on. s.mu is held.
func (s *Subscription) end(err error) {
	s.err = err
	s.ring, s.first, s.n = nil, 0, 0
	close(s.done)
}

// Done returns a channel that is closed when the subscription ends (it
// overflowed or was closed), for consumers that wait for other things too.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Next returns the oldest change waiting, waiting for one if there is
// none. It returns ErrOverflow once the queue has overflowed, ErrClosed
// once the subscription is closed, and ctx's error when ctx ends first.
// The chain of the item is the tree's: do not modify it.
func (s *Subscription) Next(ctx context.Context) (Item, error) {
	for {
		it, ok, err := s.TryNext()
		if ok || err != nil {
			return it, err
		}
		select {
		case <-s.ready:
		case <-s.done:
		case <-ctx.Done():
			return Item{}, ctx.Err()
		}
	}
}

// TryNext is Next without waiting: ok is false if no change waits.
func (s *Subscription) TryNext() (it Item, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Item{}, false, s.err
	}
	if s.n == 0 {
		return Item{}, false, nil
	}
	it = s.ring[s.first]
	s.ring[s.first] = Item{} // the queue keeps no value alive
	s.first = (s.first + 1) % len(s.ring)
	s.n--
	if s.n > 0 {
		// Another Next may be waiting while this one took the token.
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	return it, true, nil
}

// Close ends the subscription: it takes no more changes, the changes
// waiting are dropped, and Next returns ErrClosed (also to the calls
// waiting). It may be called more than once, and from any goroutine,
// but not from a Watch callback or a Cond.Check (it takes the tree's
// lock).
func (s *Subscription) Close() {
	s.cancel() // no put runs after this
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.end(ErrClosed)
	}
	s.err = ErrClosed // also after an overflow
}

// Follow keeps something derived from the tree up to date: it calls
// rebuild once now, then again, from a goroutine of its own, after
// changes at or below prefix for which want reports true (several
// waiting changes make one call), until stop is called. rebuild reads the
// tree afresh (it may walk it: it never runs under the tree's lock). When
// changes come faster than rebuild takes them, Follow subscribes again and
// rebuilds, so no change is missed. stop waits for the goroutine to end
// and may be called more than once.
func (t *Tree) Follow(prefix path.Path, want func(path.Path) bool, rebuild func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sub := t.Subscribe(prefix, 1024)
	rebuild()
	go func() {
		defer close(done)
		defer func() { sub.Close() }()
		for {
			it, err := sub.Next(ctx)
			switch {
			case errors.Is(err, ErrOverflow):
				sub.Close()
				sub = t.Subscribe(prefix, 1024)
				rebuild()
				continue
			case err != nil:
				return
			}
			if !want(it.Path) {
				continue
			}
			for {
				if _, ok, err := sub.TryNext(); !ok || err != nil {
					break
				}
			}
			rebuild()
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
