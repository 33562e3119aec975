package client

import (
	"context"
	"sync"

	"github.com/distkv-go/distkv/core/wire"
)

// msg is a stream message on its way to the consumer.
type msg struct {
	rep    wire.Reply
	resync bool // not from the server: the stream goes on, on a new connection
	snap   bool // part of a snapshot (see queue)
}

// queue is a FIFO of messages from the reader goroutine to a stream's
// consumer: the reader never waits for the consumer, and a consumer that
// falls behind makes push fail instead of memory grow.
//
// A stream starts with a snapshot when it asks for a state: a tree walk
// is one, and a watch with fetch up to its up-to-date marker. A snapshot
// is finite (it is the subtree), so the queue takes it whole whatever its
// size; the messages after it (changes, pass-through messages) may be at
// most max at a time.
type queue struct {
	mu       sync.Mutex // protects the fields below
	buf      []msg      // a ring, grown as needed
	head     int        // the oldest message is buf[head]
	n        int        // messages held
	snap     int        // snapshot messages held
	max      int        // live (not snapshot) messages it may hold
	snapshot bool       // what comes now is part of a snapshot
	closed   bool
	err      error
	signal   chan struct{} // capacity 1: something changed
}

func newQueue(max int, snapshot bool) *queue {
	return &queue{max: max, snapshot: snapshot, signal: make(chan struct{}, 1)}
}

func (q *queue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// push adds m and reports whether there was room. A closed queue takes
// nothing and reports true. An up-to-date marker ends a snapshot.
func (q *queue) push(m msg) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true
	}
	if !q.snapshot && q.n-q.snap >= q.max {
		return false
	}
	if q.n == len(q.buf) {
		size := max(2*len(q.buf), 16)
		if !q.snapshot {
			size = min(size, q.snap+q.max)
		}
		nb := make([]msg, size)
		for i := range q.n {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	if q.snapshot {
		m.snap = true
		q.snap++
		q.snapshot = m.rep.State != "uptodate"
	}
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
	q.notify()
	return true
}

// resync queues the marker of a resumed watch, which starts a snapshot.
func (q *queue) resync() {
	q.mu.Lock()
	q.snapshot = true
	q.mu.Unlock()
	q.push(msg{resync: true})
}

// close ends the queue after what it holds; err is what pop reports then.
func (q *queue) close(err error) {
	q.mu.Lock()
	if !q.closed {
		q.closed, q.err = true, err
	}
	q.mu.Unlock()
	q.notify()
}

// fail ends the queue now, dropping what it holds.
func (q *queue) fail(err error) {
	q.mu.Lock()
	if !q.closed {
		q.closed, q.err = true, err
		q.buf, q.head, q.n, q.snap = nil, 0, 0, 0
	}
	q.mu.Unlock()
	q.notify()
}

// pop returns the oldest message, waiting for one; ok is false at the
// end, with the error the queue was closed with.
func (q *queue) pop(ctx context.Context) (m msg, ok bool, err error) {
	for {
		q.mu.Lock()
		if q.n > 0 {
			m = q.buf[q.head]
			q.buf[q.head] = msg{}
			q.head = (q.head + 1) % len(q.buf)
			q.n--
			if m.snap {
				q.snap--
			}
			if q.n == 0 && len(q.buf) > q.max {
				q.buf, q.head = nil, 0 // let a snapshot's room go
			}
			q.mu.Unlock()
			return m, true, nil
		}
		if q.closed {
			err := q.err
			q.mu.Unlock()
			return msg{}, false, err
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return msg{}, false, ctx.Err()
		}
	}
}
