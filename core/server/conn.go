package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/wire"
)

// What happens when a client stops reading:
//
//   - Replies wait in the connection's output buffer. Past maxPending
//     bytes, the reader stops taking requests (TCP pushes back on the
//     client), and streams wait.
//   - A watch's changes wait in a queue of Config.Queue entries. When it
//     is full, the watch ends with an "overflow" error (the client must
//     watch again, with fetch, to get back in sync); nothing blocks.
//   - A client that announced a qlen in its hello gets at most qlen
//     unacknowledged messages per stream; the stream waits for its
//     acknowledgements (a watch that waits so long that its queue
//     overflows ends with the overflow error).
//   - A write that makes no progress for writeTimeout closes the
//     connection.
//
// Other clients and the tree are never held up by one slow client.
const (
	maxPending   = 4 << 20
	writeTimeout = 60 * time.Second
	maxSpare     = 256 << 10 // a written-out buffer kept for reuse, at most
)

// What a client's requests may cost:
//
//   - A request that fits the connection's 64 KiB input buffer costs
//     nothing more; a larger one grows the buffer with the bytes that
//     arrive (at most twice what arrived, and never beyond
//     Config.MaxMessage), and the buffer goes back to 64 KiB after it.
//   - The growth beyond 64 KiB draws on one budget of Config.InputBudget
//     bytes shared by every client and peer connection (core/budget).
//     When it is spent, a connection that needs more stops reading (TCP
//     pushes back on its client) until a message completes elsewhere or a
//     connection closes: requests of up to 64 KiB go on everywhere, larger
//     ones wait. So that half-read messages never wait for each other, one
//     of them at a time, holding part of the budget already, may go past
//     it and complete; so memory held by unfinished messages stays below
//     the budget plus one message, and a message larger than the budget
//     is still taken.
//   - A connection that closes gives its buffers back; one that waits for
//     budget notices its client has gone only once it reads again.

// conn is one client connection.
type conn struct {
	s   *Server
	nc  net.Conn // the TCP connection; closing it ends the connection
	rw  net.Conn // what requests and replies go through: nc, or TLS over it (set by serve before it starts anything)
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // stream goroutines

	mu      sync.Mutex // protects the fields below
	out     []byte     // encoded messages not yet written
	spare   []byte
	writing bool       // a goroutine is writing out
	room    *sync.Cond // signalled when out drains
	dead    bool       // the connection failed or closed
	streams map[uint64]*stream
	qlen    uint64 // the client's flow-control window: 0 none, else wseq on stream messages and at most qlen unacknowledged per stream

	// Replies that wait (see heldReply), in order, with the messages
	// queued behind them, their size, and whether a goroutine is
	// releasing them. heldSeqs holds the seqs (and actions) of the
	// waiting replies: their requests are still open.
	held      []heldReply
	heldBytes int
	heldBusy  bool
	heldSeqs  map[uint64]string

	// stats count the requests this connection's reader goroutine
	// ends, which it alone writes (see stats.go); timing counts its
	// get_value and set_value requests, of which every timeEvery-th is
	// timed.
	stats  *requestCounters
	timing uint32

	// open counts the entries of streams and heldSeqs (changed under
	// mu). Only the reader goroutine adds entries, so when it reads 0
	// nothing is open and the gate skips the lock.
	open atomic.Int32

	root  path.Path // set by the root action; owned by the reader goroutine
	sess  *Session  // replaced whole at a login; owned by the reader goroutine
	gated call      // the request being handled; owned by the reader goroutine

	// The login's state, owned by the reader goroutine: whether the key
	// exchange was made and its key, and how many logins failed.
	dhUsed     bool
	dhKey      *[32]byte
	loginFails int
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s: s, nc: nc, rw: nc, ctx: ctx, cancel: cancel,
		log:     s.log.With("client", nc.RemoteAddr().String()),
		streams: make(map[uint64]*stream),
		sess:    rootSession,
		stats:   newRequestCounters(),
	}
	c.room = sync.NewCond(&c.mu)
	return c
}

func (c *conn) close() {
	c.cancel()
	c.nc.Close()
}

// serve runs the connection until the client goes away.
func (c *conn) serve() {
	defer func() {
		c.cancel()
		c.wg.Wait()
		c.nc.Close()
		c.mu.Lock()
		c.dead = true
		c.room.Broadcast()
		c.mu.Unlock()
	}()
	if !c.startTLS() {
		return
	}
	c.greet()
	fr := wire.NewFramer(c.rw, c.s.cfg.MaxMessage)
	fr.UseBudget(c.ctx, c.s.input.Account())
	defer fr.Release()
	var req wire.Request
	for {
		msg, err := fr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
				c.log.Info("dropping the connection", "err", err)
				// No framing to resynchronise on: say why, then hang up.
				c.sendError(0, false, err)
				c.flush()
			}
			return
		}
		if err := wire.DecodeRequest(msg, &req); err != nil {
			var re *wire.RequestError
			errors.As(err, &re)
			c.sendError(re.Seq, re.HasSeq, err)
		} else {
			c.handle(&req)
		}
		if !fr.Buffered() {
			c.flush()
		}
		if !c.waitRoom() {
			return
		}
	}
}

func (c *conn) greet() {
	tick, tock := c.s.tree.Ticks()
	// "auth" names the methods, the current one first (nil if none),
	// once any method has users: the original client logs in by it.
	var methods []any
	if m := c.s.authMethods(); len(m) > 1 || m[0] != nil {
		methods = m
	}
	c.write(func(b []byte) []byte {
		m := wire.Begin(b)
		m.Uint("seq", 0)
		m.Key("version")
		m.B = pack.AppendArrayHeader(m.B, len(Version))
		for _, v := range Version {
			m.B = pack.AppendInt(m.B, int64(v))
		}
		m.Str("node", c.s.cfg.Node)
		m.Uint("tick", tick)
		m.Uint("tock", tock)
		m.Uint("qlen", uint64(c.s.cfg.Queue))
		if methods != nil {
			m.Key("auth")
			m.B, _ = pack.Append(m.B, methods)
		}
		if u := c.s.httpURL.Load(); u != nil && *u != "" {
			m.Str("http", *u) // ours; the original's clients ignore it
		}
		return m.End()
	})
	c.flush()
}

// write appends one or more encoded messages to the output buffer. While
// acknowledgements wait (for the disk, or another server), later messages
// wait behind them, so that replies keep request order.
func (c *conn) write(enc func([]byte) []byte) {
	c.mu.Lock()
	c.writeLocked(enc)
	c.mu.Unlock()
}

// writeLocked is write with c.mu held.
func (c *conn) writeLocked(enc func([]byte) []byte) {
	switch {
	case c.dead:
	case len(c.held) > 0:
		msg := enc(nil)
		c.held = append(c.held, heldReply{msg: msg})
		c.heldBytes += len(msg)
	default:
		c.out = enc(c.out)
	}
}

// seqInUse returns an error if seq belongs to a request still open on
// the connection: a stream that has not sent its last message, or a
// change whose acknowledgement waits for the disk. Such a request is
// refused, not run: two requests under one seq could not be told apart
// by their replies. Called by the reader goroutine.
func (c *conn) seqInUse(seq uint64) error {
	if c.open.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	action := ""
	if st := c.streams[seq]; st != nil {
		action = st.action
	} else if a, ok := c.heldSeqs[seq]; ok {
		action = a + ", waiting for the disk"
	} else {
		return nil
	}
	return fmt.Errorf("%w: seq %d is in use by an open request (%s); give each request a new seq", wire.ErrBadRequest, seq, action)
}

// flush writes out the buffer unless another goroutine is doing so (it
// will take what was added). Messages from many producers are thus
// written in few system calls, with no writer goroutine to hand over to.
func (c *conn) flush() {
	c.mu.Lock()
	if c.writing || c.dead {
		c.mu.Unlock()
		return
	}
	c.writing = true
	for len(c.out) > 0 && !c.dead {
		buf := c.out
		c.out = c.spare[:0]
		c.mu.Unlock()
		c.rw.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.rw.Write(buf)
		c.mu.Lock()
		if cap(buf) <= maxSpare {
			c.spare = buf[:0]
		} else {
			c.spare = nil // a large reply's memory goes, not kept for the next
		}
		c.room.Broadcast()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Info("write failed, closing", "err", err)
			}
			c.dead = true
			c.cancel()
			c.nc.Close()
		}
	}
	c.writing = false
	c.mu.Unlock()
}

// waitRoom blocks while the output buffer is over its limit. It reports
// false when the connection is dead.
func (c *conn) waitRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out)+c.heldBytes > maxPending && !c.dead {
		if !c.writing {
			c.mu.Unlock()
			c.flush()
			c.mu.Lock()
			continue
		}
		c.room.Wait()
	}
	return !c.dead
}

// reply sends a single-message reply: enc adds the pairs after seq.
func (c *conn) reply(seq uint64, enc func(m *wire.Msg)) {
	c.write(func(b []byte) []byte {
		m := wire.Begin(b)
		m.Uint("seq", seq)
		enc(&m)
		return m.End()
	})
}

// heldReply is an acknowledgement that waits: for the change log's
// fsync (sync: always), or for another server to confirm the change (ack:
// peer), or both.
type heldReply struct {
	msg  []byte
	seq  uint64 // the request's, for an error reply
	stat int    // the request's action, for Stats

	logSeq uint64 // the log record that must be on disk first; 0: none
	log    *changeLog

	tick     uint64 // this server's change another must confirm first; 0: none
	deadline time.Time
}

// replyHeld sends a reply once its conditions hold (see heldReply).
// Replies wait in order; one goroutine per connection waits for the
// fsync that covers the newest of them (so pipelined changes share one)
// and for the confirmation of the oldest, and releases all that are
// ready. A change whose record fails to reach the disk, or that no other
// server confirms by the deadline, gets an error reply instead: it is
// never acknowledged as what it is not.
func (c *conn) replyHeld(h heldReply, action string, enc func(m *wire.Msg)) {
	m := wire.Begin(nil)
	m.Uint("seq", h.seq)
	enc(&m)
	h.msg = m.End()
	c.mu.Lock()
	c.held = append(c.held, h)
	c.heldBytes += len(h.msg)
	if c.heldSeqs == nil {
		c.heldSeqs = make(map[uint64]string)
	}
	c.heldSeqs[h.seq] = action
	c.open.Add(1)
	start := !c.heldBusy
	c.heldBusy = true
	c.mu.Unlock()
	if !start {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for c.releaseHeld() {
		}
	}()
}

// releaseHeld waits for the held replies' conditions and releases those
// ready, in order; false when none are left (or the connection is dead).
func (c *conn) releaseHeld() bool {
	c.mu.Lock()
	if len(c.held) == 0 || c.dead {
		c.heldBusy = false
		c.mu.Unlock()
		return false
	}
	var cl *changeLog
	var upTo uint64
	for _, h := range c.held {
		if h.logSeq > upTo {
			cl, upTo = h.log, h.logSeq
		}
	}
	first := c.held[0]
	c.mu.Unlock()

	var logErr error
	if cl != nil {
		if logErr = cl.w.WaitSynced(c.ctx, upTo); logErr != nil && c.ctx.Err() == nil {
			cl.fail(c.s.log, logErr)
			logErr = cl.failed()
		}
	}
	rep := c.s.replica()
	if first.tick != 0 && rep != nil && !rep.Confirmed(first.tick) {
		ctx, cancel := context.WithDeadline(c.ctx, first.deadline)
		rep.WaitConfirmed(ctx, first.tick)
		cancel()
	}

	now := time.Now()
	c.mu.Lock()
	n := 0
	for ; n < len(c.held); n++ {
		h := c.held[n]
		if h.logSeq > upTo {
			break // made after the fsync waited for
		}
		unconfirmed := h.tick != 0 && (rep == nil || !rep.Confirmed(h.tick))
		if unconfirmed && now.Before(h.deadline) {
			break
		}
		if h.seq != 0 { // not a message queued behind
			delete(c.heldSeqs, h.seq) // answered below: the seq is free
			c.open.Add(-1)
		}
		var err error
		switch {
		case logErr != nil && h.logSeq != 0:
			err = fmt.Errorf("the change was applied on this server, but it is not on disk: %w", logErr)
		case unconfirmed:
			err = fmt.Errorf("%w within %v (ack: peer): it was applied on this server and may or may not survive this server's failure", wire.ErrUnconfirmed, c.s.cfg.AckTimeout)
		}
		if err != nil {
			c.out = appendError(c.out, h.seq, true, err, c.s.tree.Tock())
		} else {
			c.out = append(c.out, h.msg...)
		}
		if h.seq != 0 {
			c.s.stats.count(h.stat, err)
		}
		c.heldBytes -= len(h.msg)
	}
	c.held = append(c.held[:0], c.held[n:]...)
	c.mu.Unlock()
	c.flush()
	return true
}

// sendError sends an error reply, with the code of err.
// TLS on the client port (Config.TLS): the handshake runs in the
// connection's goroutine, so a slow client holds nothing but its own
// connection, and ends after tlsHandshakeTimeout. A client without TLS
// sends nothing and waits for the greeting: one that has sent nothing
// after tlsQuiet (a TLS client starts at once) gets a plain error
// greeting that says the port speaks TLS.
const (
	tlsQuiet            = 2 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
)

// errTLSOnly is what a client without TLS hears from a TLS port.
var errTLSOnly = errors.New("this server's client port speaks TLS: connect with TLS (connect.ssl, at least connect.ssl.ca)")

// startTLS sets c.rw to TLS over c.nc after a TLS handshake, if the port
// speaks TLS; false: the handshake failed, and the connection is to be
// closed.
func (c *conn) startTLS() bool {
	if c.s.cfg.TLS == nil {
		return true
	}
	tc, err := tlsconf.Handshake(c.ctx, c.nc, c.s.cfg.TLS, tlsQuiet, tlsHandshakeTimeout)
	if err == nil {
		c.rw = tc
		return true
	}
	if errors.Is(err, tlsconf.ErrQuiet) {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write(appendError(nil, 0, true, errTLSOnly, c.s.tree.Tock()))
	}
	if c.ctx.Err() == nil && !errors.Is(err, io.EOF) {
		c.log.Info("TLS handshake failed", "err", tlsconf.Explain(err, c.s.cfg.TLSFiles, "the client", "connect.ssl"))
	}
	return false
}

func (c *conn) sendError(seq uint64, hasSeq bool, err error) {
	tock := c.s.tree.Tock()
	c.write(func(b []byte) []byte { return appendError(b, seq, hasSeq, err, tock) })
}

func appendError(b []byte, seq uint64, hasSeq bool, err error, tock uint64) []byte {
	m := wire.Begin(b)
	if hasSeq {
		m.Uint("seq", seq)
	}
	m.Str("error", err.Error())
	if code := wire.Code(err); code != "" {
		m.Str("etype", code)
	}
	m.Uint("tock", tock)
	return m.End()
}
