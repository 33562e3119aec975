package client

import (
	"context"
	"sync"

	"github.com/distkv-go/distkv/core/wire"
)

// queue is an unbounded FIFO of replies from the reader goroutine to a
// stream's consumer, so that a slow consumer never holds up the other
// requests on the connection.
type queue struct {
	mu     sync.Mutex // protects the fields below
	items  []wire.Reply
	closed bool
	err    error
	signal chan struct{} // capacity 1: something changed
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) push(r wire.Reply) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, r)
	}
	q.mu.Unlock()
	q.notify()
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

func (q *queue) pop(ctx context.Context) (wire.Reply, bool, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			r := q.items[0]
			q.items[0] = wire.Reply{}
			q.items = q.items[1:]
			q.mu.Unlock()
			return r, true, nil
		}
		if q.closed {
			err := q.err
			q.mu.Unlock()
			return wire.Reply{}, false, err
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return wire.Reply{}, false, ctx.Err()
		}
	}
}
