package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/wire"
)

// Errors of the client. Errors the server reports are *wire.ServerError.
var (
	// ErrClosed: the client was closed, or without Config.Reconnect its
	// connection ended.
	ErrClosed = errors.New("connection closed")
	// ErrConnLost: the connection dropped while a request was in flight
	// (it may or may not have been applied) or a stream was running.
	ErrConnLost = errors.New("connection lost")
	// ErrOverflow: a stream's consumer fell more than Config.Queue
	// messages behind. It wraps wire.ErrOverflow, the server's error for
	// the same.
	ErrOverflow = fmt.Errorf("stream overflow: %w", wire.ErrOverflow)
)

// Defaults of Config.
const (
	DefaultQueue      = 1000     // the server's default queue length
	DefaultMaxMessage = 64 << 20 // the server's default size limit
	minQlen           = 4        // the original refuses flow control below this
	maxReply          = 1 << 30  // the largest message the client reads
)

// Config says where to connect and how the client behaves. Zero fields
// take the defaults in brackets.
type Config struct {
	Host    string        // ["localhost"]
	Port    int           // [27586]
	Timeout time.Duration // connecting and the greeting, each attempt [10s]

	// Queue bounds the messages each stream holds for its consumer after
	// a snapshot (see the package doc); a stream whose consumer falls
	// further behind ends with ErrOverflow. It is also the qlen of flow
	// control (at most the server's). [DefaultQueue; at least 4]
	Queue int
	// MaxMessage is the largest request the client sends; a bigger one
	// fails with a *wire.TooBigError and is not sent. [DefaultMaxMessage]
	MaxMessage int

	// Reconnect makes the client reconnect when its connection drops, and
	// resume its watches (see the package doc); else the client closes.
	Reconnect bool
	// MinBackoff and MaxBackoff bound the wait before each attempt to
	// reconnect: it doubles from MinBackoff up to MaxBackoff, and a random
	// part of up to half of it is taken off. [100ms, 30s]
	MinBackoff, MaxBackoff time.Duration

	// Auth is the login, `METHOD key=value …` (see auth.ParseLogin), used
	// when the server wants one; every new connection logs in with it.
	// Prompt asks for the values of key?=Label parameters, once, at Open.
	Auth   string
	Prompt func(label string) (string, error)
	// TLS, if set, makes the client speak TLS; its ServerName, if empty,
	// is Host. nil: plain TCP, unless TLSFiles names files, from which
	// Open then builds it (tlsconf.Client). TLSFiles also names the
	// setting in errors.
	TLS      *tls.Config
	TLSFiles tlsconf.Files

	// Dial, if set, makes the connection instead of a TCP dial to Host
	// and Port (which then only name it in errors): a server's in-process
	// connection (server.Pipe) for its web console.
	Dial func(ctx context.Context) (net.Conn, error)
}

// FromConfig takes the connect section of the distkv configuration.
func FromConfig(c config.Connect) Config {
	cfg := Config{Host: c.Host, Port: c.Port, Timeout: time.Duration(c.Timeout), Auth: c.Auth}
	if ssl := c.SSL; ssl.On() {
		cfg.TLSFiles = tlsconf.Files{Setting: "connect.ssl", CA: ssl.CA, Cert: ssl.Cert, Key: ssl.Key, ServerName: ssl.ServerName}
	}
	return cfg
}

func (cfg Config) withDefaults() Config {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = config.DefaultPort
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	return cfg
}

// Validate checks the configuration (with its defaults).
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Port < 0 || cfg.Port > 65535:
		return fmt.Errorf("client config: port %d: want 1 to 65535", cfg.Port)
	case cfg.Timeout < 0:
		return fmt.Errorf("client config: timeout %v: want more than 0", cfg.Timeout)
	case cfg.Queue < minQlen:
		return fmt.Errorf("client config: queue %d: want at least %d", cfg.Queue, minQlen)
	case cfg.MaxMessage < 0:
		return fmt.Errorf("client config: max message %d: want more than 0", cfg.MaxMessage)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff:
		return fmt.Errorf("client config: backoff %v to %v: want 0 < min ≤ max", cfg.MinBackoff, cfg.MaxBackoff)
	}
	return nil
}

// Greeting is what the server says first.
type Greeting struct {
	Node string // the server's name
	Tick uint64 // its last tick
	Tock uint64
	Qlen int // its queue length (flow control)
	// Auth is the login method the server wants; "" while logins are off.
	Auth string
	// HTTP is the URL of the server's web console as the server sees it
	// ("http://localhost:27587/"); "" when it serves none. A host of
	// 0.0.0.0 or :: means every address of that machine.
	HTTP string
}

// Client is a connection to one server, re-established if
// Config.Reconnect says so. Safe for concurrent use.
type Client struct {
	cfg  Config
	addr string

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the connection goroutine and the goroutines it starts
	done   chan struct{}  // closed when the client has ended for good

	cred *auth.Login // Config.Auth, parsed; nil: none

	mu       sync.Mutex    // protects the fields below; taken after a conn's wmu
	cn       *conn         // the connection; nil while reconnecting
	up       chan struct{} // closed once cn is set
	greeting Greeting
	seq      uint64
	pending  map[uint64]*call // requests on cn waiting for replies, by seq
	watches  map[*Stream]bool // streams to resume on a new connection
	root     path.Path        // set by Root; re-sent on a new connection
	lastErr  error            // why the last connection or attempt failed
	err      error            // why the client ended, once it has
}

// call is a request waiting for its reply or replies.
type call struct {
	st      *Stream           // the stream this call feeds; nil: a single reply
	started bool              // the stream's start arrived
	failed  bool              // the stream sent an error
	then    func(*wire.Reply) // runs under Client.mu when a good single reply arrives
	done    chan struct{}     // single replies: closed once rep or err is set
	rep     wire.Reply
	err     error
}

// Open connects to a server and reads its greeting. ctx bounds only the
// connecting; Close ends the client.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == nil && cfg.TLSFiles != (tlsconf.Files{Setting: cfg.TLSFiles.Setting}) {
		var err error
		if cfg.TLS, err = tlsconf.Client(cfg.TLSFiles); err != nil {
			return nil, err
		}
	}
	c := &Client{
		cfg:     cfg,
		addr:    net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		done:    make(chan struct{}),
		up:      make(chan struct{}),
		pending: make(map[uint64]*call),
		watches: make(map[*Stream]bool),
	}
	if cfg.Auth != "" {
		l, err := auth.ParseLogin(cfg.Auth, cfg.Prompt)
		if err != nil {
			return nil, err
		}
		c.cred = &l
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	cn, g, err := c.dial(ctx, path.Root)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.cn, c.greeting = cn, g
	close(c.up)
	c.wg.Add(1)
	go c.run(cn)
	return c, nil
}

// Greeting returns what the server said when the connection opened (the
// latest connection, after a reconnect).
func (c *Client) Greeting() Greeting {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.greeting
}

// Close closes the connection and stops reconnecting; requests in flight
// fail with ErrConnLost and ErrClosed, streams end with ErrClosed. It is
// safe to call more than once.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	c.wg.Wait()
	return nil
}

// Args are the fields of a request besides seq and action.
type Args = pack.Map

// request is an encoded request but for its seq, which it gets when it
// is sent.
type request struct {
	action string
	body   []byte // the pairs after seq: the action and the arguments
	n      int    // the pairs in body
}

func newRequest(action string, args Args) (*request, error) {
	if len(args) >= 1<<16-2 {
		return nil, fmt.Errorf("%s: %d request fields are too many", action, len(args))
	}
	b := pack.AppendString(nil, "action")
	b = pack.AppendString(b, action)
	for _, kv := range args {
		k, ok := kv.Key.(string)
		if !ok {
			return nil, fmt.Errorf("%s: request field %v: keys must be strings", action, kv.Key)
		}
		b = pack.AppendString(b, k)
		var err error
		if b, err = encodeValue(b, kv.Value); err != nil {
			return nil, fmt.Errorf("%s: request field %s: %w", action, k, err)
		}
	}
	return &request{action: action, body: b, n: 1 + len(args)}, nil
}

// header returns the map header and the seq that go before body.
func (r *request) header(seq uint64) []byte {
	m := r.n + 1
	b := []byte{0xde, byte(m >> 8), byte(m)} // map16, as wire.Begin writes it
	b = pack.AppendString(b, "seq")
	return pack.AppendUint(b, seq)
}

// send writes r on the connection, registering cl (if any) under its seq.
// With wait, it waits while the client reconnects; without, it gives up
// when there is no connection (and reports no error: for messages that
// need no answer).
func (c *Client) send(ctx context.Context, r *request, cl *call, wait bool) (uint64, error) {
	for {
		cn, err := c.current(ctx, r.action, wait)
		if cn == nil {
			return 0, err
		}
		cn.wmu.Lock()
		if cn.broken != nil {
			// A write failed: the connection is ending. Wait for the
			// reader to see it, and for the next connection.
			cn.wmu.Unlock()
			if !wait {
				return 0, nil
			}
			select {
			case <-cn.done:
				continue
			case <-ctx.Done():
				return 0, fmt.Errorf("%s: %w", r.action, ctx.Err())
			}
		}
		c.mu.Lock()
		if c.cn != cn {
			c.mu.Unlock()
			cn.wmu.Unlock()
			continue
		}
		c.seq++
		seq := c.seq
		hdr := r.header(seq)
		if size := len(hdr) + len(r.body); size > c.cfg.MaxMessage {
			c.mu.Unlock()
			cn.wmu.Unlock()
			return 0, fmt.Errorf("%s: not sent: %w", r.action, &wire.TooBigError{Size: size, Limit: c.cfg.MaxMessage})
		}
		if cl != nil {
			c.pending[seq] = cl
			if cl.st != nil {
				cl.st.seq = seq
				if cl.st.resume != nil {
					c.watches[cl.st] = true
				}
			}
		}
		c.mu.Unlock()
		// A failed write fails the call when the reader sees the
		// connection end, with what the server said (if anything) about
		// why: that is a better error than "broken pipe".
		cn.write(hdr, r.body)
		cn.wmu.Unlock()
		return seq, nil
	}
}

// current returns the connection, waiting for one while the client
// reconnects if wait says so. Without a connection it returns nil and
// why.
func (c *Client) current(ctx context.Context, action string, wait bool) (*conn, error) {
	for {
		c.mu.Lock()
		cn, up, err, last := c.cn, c.up, c.err, c.lastErr
		c.mu.Unlock()
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: %w", action, err)
		case cn != nil:
			return cn, nil
		case !wait:
			return nil, nil
		}
		select {
		case <-up:
		case <-c.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: not connected to %s (%v): %w", action, c.addr, last, ctx.Err())
		}
	}
}

// forget drops the call registered under seq, if it is cl.
func (c *Client) forget(seq uint64, cl *call) {
	c.mu.Lock()
	if c.pending[seq] == cl {
		delete(c.pending, seq)
	}
	c.mu.Unlock()
}

// Request sends any action and waits for its single reply. Errors the
// server reports are *wire.ServerError (errors.Is works with the errors of
// packages change and wire).
func (c *Client) Request(ctx context.Context, action string, args Args) (*wire.Reply, error) {
	return c.request(ctx, action, args, nil)
}

func (c *Client) request(ctx context.Context, action string, args Args, then func(*wire.Reply)) (*wire.Reply, error) {
	r, err := newRequest(action, args)
	if err != nil {
		return nil, err
	}
	cl := &call{done: make(chan struct{}), then: then}
	seq, err := c.send(ctx, r, cl, true)
	if err != nil {
		return nil, err
	}
	select {
	case <-cl.done:
		if cl.err != nil {
			return nil, fmt.Errorf("%s: %w", action, cl.err)
		}
		if err := cl.rep.Err(); err != nil {
			return nil, err
		}
		return &cl.rep, nil
	case <-ctx.Done():
		c.forget(seq, cl)
		return nil, ctx.Err()
	}
}

// Root re-roots the connection: later paths are relative to p, which is
// relative to the current root. The client re-roots every new connection
// so (Config.Reconnect); a "root" sent with Request is not re-sent.
func (c *Client) Root(ctx context.Context, p path.Path) error {
	_, err := c.request(ctx, "root", Args{{Key: "path", Value: p}}, func(*wire.Reply) {
		c.root = c.root.Join(p) // by the reader, so no reconnect comes between
	})
	return err
}
