package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/wire"
)

// brokenGrace is how long a connection whose write failed stays open for
// the reader to take what the server said before it hung up.
const brokenGrace = 2 * time.Second

// conn is one connection to the server.
type conn struct {
	nc   net.Conn
	fr   *wire.Framer  // used by the reader goroutine only
	qlen int           // the qlen the client announced; 0: no flow control
	done chan struct{} // closed when the connection has ended (after Client.cn changed)
	// unwatch undoes closing the connection when the client closes.
	unwatch func() bool

	wmu    sync.Mutex // serialises writes and protects the fields below
	bw     *bufio.Writer
	broken error // a write failed

	dhMu  sync.Mutex // serialises the key exchange (SealPassword)
	dhKey *[32]byte  // the key agreed with the server, once made
}

// write writes the parts of one or more messages and flushes; c.wmu must
// be held. After a failed write (the message may be cut short) the
// connection takes nothing more and is closed brokenGrace later, so that
// its reader ends even if the server does not hang up.
func (cn *conn) write(parts ...[]byte) error {
	if cn.broken != nil {
		return cn.broken
	}
	var err error
	for _, p := range parts {
		if _, err = cn.bw.Write(p); err != nil {
			break
		}
	}
	if err == nil {
		err = cn.bw.Flush()
	}
	if err != nil {
		cn.broken = err
		time.AfterFunc(brokenGrace, func() { cn.nc.Close() })
	}
	return err
}

// dial connects, reads the greeting, announces the client's qlen and, if
// root is not the root, re-roots the connection. The seq of that request
// comes from the client's counter: no other request can be on the new
// connection yet.
func (c *Client) dial(ctx context.Context, root path.Path) (*conn, Greeting, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var nc net.Conn
	var err error
	if c.cfg.Dial != nil {
		nc, err = c.cfg.Dial(ctx)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return nil, Greeting{}, fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	dl, _ := ctx.Deadline()
	nc.SetDeadline(dl)
	// Close (or the caller's ctx) interrupts the handshake and the
	// greeting.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	if c.cfg.TLS != nil {
		tc := tls.Client(nc, c.tlsConfig())
		if err = tc.Handshake(); err != nil {
			stop()
			nc.Close()
			return nil, Greeting{}, fmt.Errorf("connect to %s: %w", c.addr, c.explainTLS(err))
		}
		nc = tc
	}
	cn := &conn{nc: nc, fr: wire.NewFramer(nc, maxReply), bw: bufio.NewWriterSize(nc, 64<<10), done: make(chan struct{})}
	g, err := c.greet(cn, root)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, Greeting{}, fmt.Errorf("greet %s: %w", c.addr, c.explainTLS(err))
	}
	nc.SetDeadline(time.Time{})
	cn.unwatch = context.AfterFunc(c.ctx, func() { nc.Close() })
	return cn, g, nil
}

// tlsConfig is Config.TLS with the server name set.
func (c *Client) tlsConfig() *tls.Config {
	cfg := c.cfg.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = c.cfg.Host
	}
	return cfg
}

// explainTLS says what a failed TLS handshake means. With TLS 1.3 a
// server that refuses the client's certificate says so only at the first
// read, the greeting's.
func (c *Client) explainTLS(err error) error {
	if c.cfg.TLS == nil {
		return err
	}
	return tlsconf.Explain(err, c.cfg.TLSFiles, "the server", "server.bind_default.ssl")
}

func (c *Client) greet(cn *conn, root path.Path) (Greeting, error) {
	var g wire.Reply
	msg, err := cn.fr.Next()
	if err == nil {
		err = wire.DecodeReply(msg, &g)
	}
	switch {
	case err != nil:
		return Greeting{}, fmt.Errorf("read the greeting: %w", err)
	case g.IsErr:
		return Greeting{}, fmt.Errorf("the server refused the connection: %w", g.Err())
	case g.Seq != 0:
		return Greeting{}, errors.New("no DistKV greeting")
	}
	if g.Qlen >= minQlen {
		cn.qlen = min(c.cfg.Queue, g.Qlen)
	}
	// g's raw parts point into the framer's buffer: read them now.
	var url string
	if raw, ok := g.Other["http"]; ok {
		v, err := pack.Decode(raw)
		if url, _ = v.(string); err != nil || url == "" {
			return Greeting{}, fmt.Errorf("the greeting's http is not a URL: %v", v)
		}
	}
	hello := wire.Begin(nil)
	hello.Uint("seq", 0)
	hello.Uint("qlen", uint64(cn.qlen))
	if err := cn.write(hello.End()); err != nil {
		return Greeting{}, err
	}
	current, err := methods(g.Auth)
	if err != nil {
		return Greeting{}, err
	}
	if err := c.login(cn, current); err != nil {
		return Greeting{}, err
	}
	var parts [][]byte
	var seq uint64
	if !root.IsRoot() {
		r, err := newRequest("root", Args{{Key: "path", Value: root}})
		if err != nil {
			return Greeting{}, err
		}
		c.mu.Lock()
		c.seq++
		seq = c.seq
		c.mu.Unlock()
		parts = append(parts, r.header(seq), r.body)
	}
	if seq != 0 {
		if err := cn.write(parts...); err != nil {
			return Greeting{}, err
		}
		var rep wire.Reply
		msg, err := cn.fr.Next()
		if err == nil {
			err = wire.DecodeReply(msg, &rep)
		}
		if err == nil && (rep.Seq != seq || rep.IsErr) {
			err = rep.Err()
			if err == nil {
				err = fmt.Errorf("a message for seq %d instead of the reply", rep.Seq)
			}
		}
		if err != nil {
			return Greeting{}, fmt.Errorf("root the connection at %v again: %w", root, err)
		}
	}
	return Greeting{Node: g.Node, Tick: g.Tick, Tock: g.Tock, Qlen: g.Qlen, Auth: current, HTTP: url}, nil
}

// read hands the server's messages to their calls until the connection
// ends, and returns why. It never waits for a consumer.
func (c *Client) read(cn *conn) error {
	var rep wire.Reply
	for {
		msg, err := cn.fr.Next()
		if err != nil {
			return err
		}
		if err := wire.DecodeReply(msg, &rep); err != nil {
			return fmt.Errorf("a message from %s: %w", c.addr, err)
		}
		if rep.Seq == 0 {
			if rep.IsErr {
				// Only a message the server cannot read (no seq to
				// answer to) gets such a reply; then it hangs up.
				return fmt.Errorf("the server hung up: %w", rep.Err())
			}
			continue
		}
		rep.Own()
		c.dispatch(&rep)
	}
}

// dispatch hands a reply to its call.
func (c *Client) dispatch(rep *wire.Reply) {
	c.mu.Lock()
	cl := c.pending[rep.Seq]
	if cl == nil { // a reply to a request given up on, or a stopped stream
		c.mu.Unlock()
		return
	}
	st := cl.st
	if st == nil {
		delete(c.pending, rep.Seq)
		if cl.then != nil && !rep.IsErr {
			cl.then(rep)
		}
		c.mu.Unlock()
		cl.rep = *rep
		close(cl.done)
		return
	}
	// A stream ends with {state: end}, or with an error before it
	// started. A watch that the server ends unasked (as it does when it
	// shuts down) is sent again, once per connection, with Reconnect.
	end := rep.State == "end"
	last := end || rep.IsErr && !cl.started
	restart := end && !cl.failed && st.resume != nil && c.cfg.Reconnect && st.restartedOn != c.cn
	cl.started = cl.started || rep.State == "start"
	cl.failed = cl.failed || rep.IsErr
	// The end is not queued: closing the queue says it, and takes no room.
	full := !end && !st.q.push(msg{rep: *rep})
	if last || full {
		delete(c.pending, rep.Seq)
	}
	switch {
	case restart:
		st.restartedOn, st.orphan = c.cn, true
	case last || full:
		delete(c.watches, st)
	}
	cn := c.cn
	c.mu.Unlock()
	switch {
	case full:
		st.q.fail(c.overflow(st))
		if !last {
			seq := rep.Seq
			c.goFunc(func() { c.stop(seq) })
		}
	case restart:
		c.goFunc(func() { c.restart(st, cn) })
	case last:
		st.q.close(nil)
	}
}

// goFunc runs fn in a goroutine that Close waits for. Only the
// connection goroutine starts them (so that Add never races with Wait).
func (c *Client) goFunc(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// stop asks the server to end the stream with this seq; nobody waits for
// the answer.
func (c *Client) stop(seq uint64) {
	r, err := newRequest("stop", Args{{Key: "task", Value: seq}})
	if err == nil {
		c.send(c.ctx, r, nil, false)
	}
}

// ack acknowledges a stream's messages up to wseq (flow control) if the
// stream still runs on the connection.
func (c *Client) ack(seq, wseq uint64, acked *uint64) {
	c.mu.Lock()
	cn, live := c.cn, c.pending[seq] != nil
	c.mu.Unlock()
	if cn == nil || !live || cn.qlen == 0 || wseq <= *acked+uint64(cn.qlen/3) {
		return
	}
	*acked = wseq
	m := wire.Begin(nil)
	m.Uint("seq", seq)
	m.Str("state", "ack")
	m.Uint("ack", wseq)
	cn.wmu.Lock()
	cn.write(m.End())
	cn.wmu.Unlock()
}
