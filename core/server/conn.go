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
)

// conn is one client connection.
type conn struct {
	s   *Server
	nc  net.Conn
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

	// Replies that wait for the change log's fsync (sync: always), in
	// order, with the messages queued behind them, their size, and
	// whether a goroutine is releasing them. durableSeqs holds the seqs
	// (and actions) of the waiting replies: their requests are still open.
	durable      []durableReply
	durableBytes int
	durableBusy  bool
	durableSeqs  map[uint64]string

	// open counts the entries of streams and durableSeqs (changed under
	// mu). Only the reader goroutine adds entries, so when it reads 0
	// nothing is open and the gate skips the lock.
	open atomic.Int32

	root  path.Path // set by the root action; owned by the reader goroutine
	sess  *Session  // replaced whole at a login; owned by the reader goroutine
	gated call      // the request being handled; owned by the reader goroutine
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s: s, nc: nc, ctx: ctx, cancel: cancel,
		log:     s.log.With("client", nc.RemoteAddr().String()),
		streams: make(map[uint64]*stream),
		sess:    rootSession,
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
	c.greet()
	fr := wire.NewFramer(c.nc, c.s.cfg.MaxMessage)
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
		return m.End()
	})
	c.flush()
}

// write appends one or more encoded messages to the output buffer. While
// acknowledgements wait for the disk (sync: always), later messages wait
// behind them, so that replies keep request order in every sync mode.
func (c *conn) write(enc func([]byte) []byte) {
	c.mu.Lock()
	c.writeLocked(enc)
	c.mu.Unlock()
}

// writeLocked is write with c.mu held.
func (c *conn) writeLocked(enc func([]byte) []byte) {
	switch {
	case c.dead:
	case len(c.durable) > 0:
		msg := enc(nil)
		c.durable = append(c.durable, durableReply{msg: msg})
		c.durableBytes += len(msg)
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
	} else if a, ok := c.durableSeqs[seq]; ok {
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
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.spare = buf[:0]
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
	for len(c.out)+c.durableBytes > maxPending && !c.dead {
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

type durableReply struct {
	logSeq uint64 // the log record that must be on disk first; 0: none
	msg    []byte
	seq    uint64 // the request's, for an error reply if the log fails; 0: a message queued behind
}

// replyDurable sends a reply once every change made so far is on disk.
// Replies wait in order; one goroutine per connection waits for the fsync
// that covers the newest of them and releases all it covers. If the log
// fails, the waiting acknowledgements become error replies: a change
// whose record is not on disk is never acknowledged as stored.
func (c *conn) replyDurable(cl *changeLog, seq uint64, action string, enc func(m *wire.Msg)) {
	m := wire.Begin(nil)
	m.Uint("seq", seq)
	enc(&m)
	d := durableReply{logSeq: cl.lastSeq(), msg: m.End(), seq: seq}
	c.mu.Lock()
	c.durable = append(c.durable, d)
	c.durableBytes += len(d.msg)
	if c.durableSeqs == nil {
		c.durableSeqs = make(map[uint64]string)
	}
	c.durableSeqs[seq] = action
	c.open.Add(1)
	start := !c.durableBusy
	c.durableBusy = true
	c.mu.Unlock()
	if !start {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			c.mu.Lock()
			if len(c.durable) == 0 || c.dead {
				c.durableBusy = false
				c.mu.Unlock()
				return
			}
			var upTo uint64
			for _, d := range c.durable {
				upTo = max(upTo, d.logSeq)
			}
			c.mu.Unlock()
			err := cl.w.WaitSynced(c.ctx, upTo)
			if err != nil && c.ctx.Err() == nil {
				cl.fail(c.s.log, err)
				err = cl.failed()
			}
			c.mu.Lock()
			n := 0
			for n < len(c.durable) && c.durable[n].logSeq <= upTo {
				d := c.durable[n]
				if d.seq != 0 {
					delete(c.durableSeqs, d.seq) // answered below: the seq is free
					c.open.Add(-1)
				}
				if err != nil && d.logSeq != 0 {
					c.out = appendError(c.out, d.seq, true, fmt.Errorf("the change was applied on this server, but it is not on disk: %w", err), c.s.tree.Tock())
				} else {
					c.out = append(c.out, d.msg...)
				}
				c.durableBytes -= len(d.msg)
				n++
			}
			c.durable = append(c.durable[:0], c.durable[n:]...)
			c.mu.Unlock()
			c.flush()
		}
	}()
}

// sendError sends an error reply, with the code of err.
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
