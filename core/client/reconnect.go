package client

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// restartGrace is how long a watch that the server ended unasked waits
// for the connection to end before it is sent again on it.
const restartGrace = 500 * time.Millisecond

// run reads the connection; when it ends, it fails what was in flight
// and, with Config.Reconnect, connects again and resumes the watches.
func (c *Client) run(cn *conn) {
	defer c.wg.Done()
	for {
		cause := c.read(cn)
		switch {
		case c.ctx.Err() != nil:
			c.lost(cn, ErrClosed, true)
			c.finish(ErrClosed)
			return
		case !c.cfg.Reconnect:
			cause = fmt.Errorf("%w: %w", ErrClosed, cause)
			c.lost(cn, cause, true)
			c.finish(cause)
			return
		}
		c.lost(cn, cause, false)
		if cn = c.reconnect(); cn == nil {
			c.finish(ErrClosed)
			return
		}
	}
}

// lost ends a connection: requests in flight fail, and streams end
// unless they are resumed on the next connection (final is false).
func (c *Client) lost(cn *conn, cause error, final bool) {
	c.mu.Lock()
	c.cn = nil
	c.up = make(chan struct{})
	c.lastErr = cause
	pending := c.pending
	c.pending = make(map[uint64]*call)
	for _, cl := range pending {
		if cl.st != nil && (final || cl.st.resume == nil) {
			delete(c.watches, cl.st)
		}
	}
	c.mu.Unlock()
	cn.unwatch()
	cn.nc.Close()
	close(cn.done)
	for _, cl := range pending {
		switch {
		case cl.st == nil:
			cl.err = fmt.Errorf("%w, the request may or may not have been applied: %w", ErrConnLost, cause)
			close(cl.done)
		case final || cl.st.resume == nil:
			cl.st.q.close(fmt.Errorf("%s: %w: %w", cl.st.action, ErrConnLost, cause))
		}
	}
}

// finish ends the client for good.
func (c *Client) finish(cause error) {
	c.mu.Lock()
	c.err = cause
	watches := c.watches
	c.watches = make(map[*Stream]bool)
	c.mu.Unlock()
	for st := range watches {
		st.q.close(fmt.Errorf("%s: %w", st.action, cause))
	}
	close(c.done)
}

// reconnect dials until it has a connection, waiting longer after each
// failure, and resumes the watches on it. It returns nil when the client
// is closed.
func (c *Client) reconnect() *conn {
	backoff := c.cfg.MinBackoff
	for {
		t := time.NewTimer(backoff - rand.N(backoff/2+1))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
		c.mu.Lock()
		root := c.root
		c.mu.Unlock()
		cn, g, err := c.dial(c.ctx, root)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			continue
		}
		c.resume(cn, g)
		return cn
	}
}

// resume makes cn the connection and sends the watches on it again, with
// fetch, before any other request can go out.
func (c *Client) resume(cn *conn, g Greeting) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	c.mu.Lock()
	c.cn, c.greeting = cn, g
	var parts [][]byte
	for st := range c.watches {
		parts = append(parts, c.resendLocked(st)...)
	}
	close(c.up)
	c.mu.Unlock()
	if len(parts) > 0 {
		cn.write(parts...) // on failure, the reader sees the connection end
	}
}

// restart sends a watch that the server ended unasked again on cn,
// unless cn is gone (then resume sends it on the next connection). A
// server that does so is usually shutting down: restart gives the
// connection restartGrace to end first.
func (c *Client) restart(st *Stream, cn *conn) {
	t := time.NewTimer(restartGrace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-cn.done:
		return
	case <-c.ctx.Done():
		return
	}
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	c.mu.Lock()
	if c.cn != cn || !st.orphan || st.stopped {
		c.mu.Unlock()
		return
	}
	parts := c.resendLocked(st)
	c.mu.Unlock()
	cn.write(parts...)
}

// resendLocked queues the resync marker for st's consumer, registers st
// under a new seq and returns the request to send. c.mu must be held.
func (c *Client) resendLocked(st *Stream) [][]byte {
	st.orphan = false
	st.q.resync()
	c.seq++
	st.seq = c.seq
	c.pending[st.seq] = &call{st: st}
	return [][]byte{st.resume.header(st.seq), st.resume.body}
}
