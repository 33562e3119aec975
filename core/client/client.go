// Package client is the Go API of DistKV: connect to a server, read,
// write and delete entries, walk subtrees, watch for changes, and keep a
// subtree mirrored in memory.
//
// # Basics
//
//	c, err := client.Open(ctx, client.Config{})   // localhost:27586
//	defer c.Close()
//	_, err = c.Set(ctx, path.P("one.two.three"), []any{"Test", 42, false})
//	e, err := c.Get(ctx, path.P("one.two.three"))
//	_, err = c.Set(ctx, e.Path, []any{"Test", 43, false}, client.IfChain(e.Chain))
//
// A Client is safe for concurrent use: requests run concurrently over its
// one connection, each reply matched to its request by seq.
//
// # Values
//
// Set takes the value model of package pack (nil, bool, integers,
// *big.Int, float64, string, []byte, []any, pack.Map, path.Path) and Go
// maps with string keys; any other Go value (a struct, say) is encoded
// with github.com/vmihailenco/msgpack/v5, whose struct tags apply. Entry
// and Event hold the raw value: Value decodes it into the model, Decode
// into a Go variable.
//
// # Caveats
//
// Each watch or tree walk buffers what the server sends until the caller
// reads it; a caller that stops reading an iterator but does not break
// out of it lets that buffer grow.
package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/wire"
)

// Config says where to connect.
type Config struct {
	Host    string        // default "localhost"
	Port    int           // default 27586
	Timeout time.Duration // connecting and the greeting; default 10s
}

// FromConfig takes the connect section of the distkv configuration.
func FromConfig(c config.Connect) Config {
	return Config{Host: c.Host, Port: c.Port, Timeout: time.Duration(c.Timeout)}
}

// Greeting is what the server says first.
type Greeting struct {
	Node string // the server's name
	Tick uint64 // its last tick
	Tock uint64
}

// Client is a connection to one server. Safe for concurrent use.
type Client struct {
	nc       net.Conn
	greeting Greeting

	wmu sync.Mutex // serialises writes
	bw  *bufio.Writer

	mu      sync.Mutex // protects the fields below
	seq     uint64
	pending map[uint64]*call
	err     error // why the connection ended
	done    chan struct{}
}

// call is a request waiting for its reply or replies.
type call struct {
	stream  bool
	started bool            // the stream's start arrived; used by the reader goroutine only
	ch      chan wire.Reply // single replies: buffered 1
	q       *queue          // streams
}

// ErrClosed is returned by requests on a closed client.
var ErrClosed = errors.New("client: connection closed")

// Open connects to a server and reads its greeting.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = config.DefaultPort
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &Client{nc: nc, bw: bufio.NewWriterSize(nc, 64<<10), pending: map[uint64]*call{}, done: make(chan struct{})}
	fr := wire.NewFramer(nc, 1<<30)
	if dl, ok := ctx.Deadline(); ok {
		nc.SetReadDeadline(dl)
	}
	msg, err := fr.Next()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read the greeting of %s: %w", addr, err)
	}
	var g wire.Reply
	if err := wire.DecodeReply(msg, &g); err != nil || g.Seq != 0 {
		nc.Close()
		return nil, fmt.Errorf("%s sent no DistKV greeting", addr)
	}
	nc.SetReadDeadline(time.Time{})
	c.greeting = Greeting{Node: g.Node, Tick: g.Tick, Tock: g.Tock}
	go c.read(fr)
	return c, nil
}

// Greeting returns what the server said when the connection opened.
func (c *Client) Greeting() Greeting { return c.greeting }

// Close closes the connection; pending requests fail with ErrClosed.
func (c *Client) Close() error {
	err := c.nc.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// read dispatches replies by seq until the connection ends.
func (c *Client) read(fr *wire.Framer) {
	defer close(c.done)
	var rep wire.Reply
	var err error
	for {
		var msg []byte
		if msg, err = fr.Next(); err != nil {
			break
		}
		if err = wire.DecodeReply(msg, &rep); err != nil {
			break
		}
		rep.Own()
		c.mu.Lock()
		cl := c.pending[rep.Seq]
		// A stream ends with {state: end}, or with an error before it
		// started; a single reply ends its call.
		last := cl != nil && (!cl.stream || rep.State == "end" || rep.IsErr && !cl.started)
		if last {
			delete(c.pending, rep.Seq)
		}
		c.mu.Unlock()
		switch {
		case cl == nil:
			// A reply to a request given up on.
		case cl.stream:
			if rep.State == "start" {
				cl.started = true
			}
			cl.q.push(rep)
			if last {
				cl.q.close(nil)
			}
		default:
			cl.ch <- rep
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	pending := c.pending
	c.pending = map[uint64]*call{}
	c.mu.Unlock()
	for _, cl := range pending {
		if cl.stream {
			cl.q.close(c.err)
		} else {
			close(cl.ch)
		}
	}
}

// Args are the fields of a request besides seq and action.
type Args = pack.Map

// send writes a request and registers its call.
func (c *Client) send(action string, args Args, cl *call) (uint64, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.seq++
	seq := c.seq
	c.pending[seq] = cl
	c.mu.Unlock()

	b := make([]byte, 0, 64)
	m := wire.Begin(b)
	m.Uint("seq", seq)
	m.Str("action", action)
	for _, kv := range args {
		k, ok := kv.Key.(string)
		if !ok {
			return 0, fmt.Errorf("request field %v: keys must be strings", kv.Key)
		}
		m.Key(k)
		var err error
		if m.B, err = encodeValue(m.B, kv.Value); err != nil {
			c.forget(seq)
			return 0, fmt.Errorf("request field %s: %w", k, err)
		}
	}
	b = m.End()
	c.wmu.Lock()
	_, err := c.bw.Write(b)
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.forget(seq)
		return 0, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return seq, nil
}

func (c *Client) forget(seq uint64) {
	c.mu.Lock()
	delete(c.pending, seq)
	c.mu.Unlock()
}

// Request sends any action and waits for its single reply. Errors the
// server reports are *wire.ServerError (errors.Is works with the errors of
// packages tree and wire).
func (c *Client) Request(ctx context.Context, action string, args Args) (*wire.Reply, error) {
	cl := &call{ch: make(chan wire.Reply, 1)}
	seq, err := c.send(action, args, cl)
	if err != nil {
		return nil, err
	}
	select {
	case rep, ok := <-cl.ch:
		if !ok {
			return nil, c.closedErr()
		}
		if err := rep.Err(); err != nil {
			return nil, err
		}
		return &rep, nil
	case <-ctx.Done():
		c.forget(seq)
		return nil, ctx.Err()
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

// Stream sends an action that answers with a multi-reply and returns a
// Stream of its messages.
func (c *Client) Stream(ctx context.Context, action string, args Args) (*Stream, error) {
	cl := &call{stream: true, q: newQueue()}
	seq, err := c.send(action, args, cl)
	if err != nil {
		return nil, err
	}
	return &Stream{c: c, seq: seq, q: cl.q, ctx: ctx}, nil
}

// Stream is a running multi-reply. Not safe for concurrent use.
type Stream struct {
	c       *Client
	seq     uint64
	q       *queue
	ctx     context.Context
	started bool
	stopped bool
}

// Next returns the next message; ok is false at the end (err then tells
// why, nil after a normal end). Error replies become err.
func (s *Stream) Next() (rep wire.Reply, ok bool, err error) {
	for {
		rep, ok, err = s.q.pop(s.ctx)
		if !ok {
			if err != nil && s.ctx.Err() != nil {
				s.Stop()
			}
			return rep, false, err
		}
		if rep.IsErr {
			return rep, false, rep.Err()
		}
		switch rep.State {
		case "start":
			s.started = true
			continue
		case "end":
			return rep, false, nil
		}
		return rep, true, nil
	}
}

// Stop asks the server to end the stream (for a watch, say) and forgets
// it. It is safe to call more than once.
func (s *Stream) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.c.forget(s.seq)
	s.q.close(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.c.Request(ctx, "stop", Args{{Key: "task", Value: s.seq}})
}
