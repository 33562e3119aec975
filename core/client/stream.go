package client

import (
	"context"
	"fmt"

	"github.com/distkv-go/distkv/core/wire"
)

// Stream is a running multi-reply. Not safe for concurrent use, but Stop
// may be called from any goroutine.
type Stream struct {
	c      *Client
	ctx    context.Context
	action string
	q      *queue
	resume *request // sent on a new connection (Config.Reconnect); nil: the stream ends there

	// Protected by c.mu.
	seq         uint64 // the stream's request on the current connection
	stopped     bool
	orphan      bool  // the server ended it unasked: to be sent again
	restartedOn *conn // the connection it was last sent again on after that

	// The consumer's: the last acknowledged wseq of the server stream ackSeq.
	ackSeq, acked uint64
}

// Stream sends an action that answers with a multi-reply and returns a
// Stream of its messages. Past a snapshot (get_tree, delete_tree, the
// state a watch with fetch starts with), it holds at most Config.Queue
// messages for the caller, then ends with ErrOverflow. It ends with
// ErrConnLost when the connection drops.
func (c *Client) Stream(ctx context.Context, action string, args Args) (*Stream, error) {
	return c.stream(ctx, action, args, nil)
}

// stream starts a Stream; resume, if not nil, are the arguments to start
// it again with on a new connection.
func (c *Client) stream(ctx context.Context, action string, args, resume Args) (*Stream, error) {
	r, err := newRequest(action, args)
	if err != nil {
		return nil, err
	}
	st := &Stream{c: c, ctx: ctx, action: action, q: newQueue(c.cfg.Queue, snapshotFirst(action, args))}
	if resume != nil {
		if st.resume, err = newRequest(action, resume); err != nil {
			return nil, err
		}
	}
	if _, err := c.send(ctx, r, &call{st: st}, true); err != nil {
		return nil, err
	}
	return st, nil
}

// snapshotFirst tells whether a stream starts with a snapshot: a state
// the server sends whole, as fast as it can.
func snapshotFirst(action string, args Args) bool {
	switch action {
	case "get_tree", "get_tree_internal", "delete_tree", "auth_list":
		return true
	case "watch":
		for _, kv := range args {
			if kv.Key == "fetch" {
				return kv.Value == true
			}
		}
	}
	return false
}

// Next returns the next message; ok is false at the end (err then tells
// why, nil after a normal end). Error replies become err.
func (s *Stream) Next() (rep wire.Reply, ok bool, err error) {
	for {
		m, ok, err := s.next()
		if !m.resync {
			return m.rep, ok, err
		}
	}
}

// next is Next with the marker of a resumed stream.
func (s *Stream) next() (m msg, ok bool, err error) {
	for {
		m, ok, err = s.q.pop(s.ctx)
		if !ok {
			if err != nil && s.ctx.Err() != nil {
				s.Stop()
			}
			return m, false, err
		}
		if m.resync {
			return m, true, nil
		}
		rep := &m.rep
		s.ack(rep)
		if rep.IsErr {
			return m, false, rep.Err()
		}
		if rep.State == "start" {
			continue
		}
		return m, true, nil
	}
}

// ack counts a message as taken by the consumer for flow control.
func (s *Stream) ack(rep *wire.Reply) {
	wseq := rep.WSeq
	if wseq == 0 {
		return
	}
	if rep.Seq != s.ackSeq {
		s.ackSeq, s.acked = rep.Seq, 0
	}
	s.c.ack(rep.Seq, wseq, &s.acked)
}

// Stop asks the server to end the stream (for a watch, say) and forgets
// it. It is safe to call more than once.
func (s *Stream) Stop() {
	c := s.c
	c.mu.Lock()
	if s.stopped {
		c.mu.Unlock()
		return
	}
	s.stopped = true
	cl := c.pending[s.seq]
	live := cl != nil && cl.st == s
	if live {
		delete(c.pending, s.seq)
	}
	delete(c.watches, s)
	seq := s.seq
	c.mu.Unlock()
	s.q.fail(nil)
	if live {
		c.stop(seq)
	}
}

// overflow is the error of a stream whose consumer fell behind.
func (c *Client) overflow(st *Stream) error {
	return fmt.Errorf("%s: %w (more than %d messages waited for the consumer)", st.action, ErrOverflow, c.cfg.Queue)
}
