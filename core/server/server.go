// Package server runs one DistKV node: the client listener, its sessions
// and actions, and the change log.
//
// # Concurrency
//
// The tree has its own lock. Each connection has one reader goroutine that
// decodes requests and runs short actions inline; actions that stream
// (get_tree, watch, delete_tree with chains) and file work (save, log) run
// in goroutines of their own, registered by seq so that `stop` can end
// them. Replies go through the connection's output buffer, which whoever
// produced data writes out (no writer goroutine, no handoff); see conn.go
// for what happens when a client stops reading.
//
// # Ticks
//
// A server's changes are numbered by its ticks, and a change is known
// everywhere by its server's name and tick: a tick used twice makes two
// changes pass for one. So a server starts its ticks above the highest of
// its own that it loads (-l) or that a peer has seen (replica.Sync waits
// for every peer it reached to say), and at least at its clock in
// microseconds since 1970 (Config.TickFloor, ClockTick). The clock alone
// covers a restart with no log and no peer in reach, as long as it does
// not go back across the restart by more than the time since the
// previous start: a server makes far fewer than one change per
// microsecond. The ticks skipped are given up once every member of the
// network has said it lacks them (replica's giveUp).
//
// # Acknowledgements
//
// A change is acknowledged when it is applied here (ack local), or once
// another server has applied it too (ack peer: the request's "ack", or
// Config.Ack); with the log's sync "always", also only once it is on
// disk. Held acknowledgements wait in request order (heldReply in
// conn.go); one that no peer confirms within Config.AckTimeout becomes an
// error (wire.ErrUnconfirmed).
//
// # Logins and access
//
// Every request passes the gate (gate.go). While no login method is
// current, a connection has root's rights; once one is (the value of
// `None auth`, followed by a tree watch, login.go), a connection may do
// nothing but log in (diffie_hellman, auth) until it has. Its session
// then names the method and the user, and the built-in policy
// (policy.go) grants what the user's ACL allows, from a snapshot of the
// `None acl` and `None auth` records compiled at the first request after
// a change. Users and ACLs are entries like any other: they replicate,
// log and load, and take effect on every server at its next request.
// Servers log in to their peers inside the peer handshake (replica's
// login.go, checkPeerLogin); a server reachable beyond loopback without a
// network key refuses logins (ErrExposed).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/distkv-go/distkv/core/quietlog"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/accept"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/budget"
	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/replica"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// Config configures a Server. Zero fields take the defaults in brackets.
type Config struct {
	Node        string             // this server's name (required)
	Listen      string             // client listener address ["localhost:27586"]; port 0 picks a free port
	ChainLength int                // links kept per chain [5]
	Queue       int                // changes a watch may have waiting before it is ended [1000]
	MaxMessage  int                // largest request accepted [64 MiB]
	InputBudget int64              // memory for requests and peer messages not yet whole, all connections together [256 MiB]; see conn.go
	LogSync     persist.SyncPolicy // fsync policy of change logs [interval]
	LogInterval time.Duration      // fsync interval of change logs [100ms]
	LogDir      string             // if set, save and log requests write only below it [anywhere]
	Logger      *slog.Logger       // [slog.Default()]

	// Hooks are the request gate's access decisions, write checks and
	// codecs (see gate.go). A nil Access is the built-in policy, which
	// reads the users and ACLs of the system tree (policy.go); other nil
	// hooks allow everything and convert nothing.
	Hooks Hooks
	// BindWait is how long the client and peer listeners wait for a port
	// that another socket holds, as a predecessor still stopping does when
	// a server is restarted at once [5s]; negative: not at all.
	BindWait time.Duration

	// Cluster, if set, makes the server one of a network's servers; nil:
	// a server on its own.
	Cluster *Cluster

	// Ack is when a change is acknowledged unless its request says
	// [wire.AckLocal]; AckTimeout how long an acknowledgement waits for
	// another server to confirm a change (ack: peer) before it becomes an
	// error [5s].
	Ack        wire.AckLevel
	AckTimeout time.Duration

	// TickFloor says where this server's ticks start at the latest: its
	// first change takes a tick above it (or above a higher one it loads
	// or learns from a peer) [ClockTick]. Tests that print ticks start
	// them at 0.
	TickFloor func() uint64

	// Listener, if set, is the client listener, and Listen is not used.
	Listener net.Listener

	// TLS, if set, makes the client listener speak TLS (see conn.go's
	// startTLS); nil: plain TCP. TLSFiles names the files it was made
	// of, for log lines that say which setting to look at.
	TLS      *tls.Config
	TLSFiles tlsconf.Files
}

// ClockTick is the default tick floor: the clock in microseconds since
// 1970. A server counts one tick per change, far fewer than one per
// microsecond, so a server that starts again after a crash starts above
// every tick it used before, without a log and without asking anyone (see
// the package doc for the clock this needs).
func ClockTick() uint64 { return uint64(time.Now().UnixMicro()) }

// Version is what the greeting reports (the original's protocol version).
var Version = []int{0, 0, 1}

// Server is one DistKV node. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	tree  *tree.Tree
	hooks Hooks
	input *budget.Budget // Config.InputBudget, for client and peer connections
	quiet quietlog.Log   // codec failures (see conn.codecFailed)
	stats *counters      // what Stats reads (stats.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	startMu   sync.Mutex // serializes starting replication
	clusterUp bool       // replication was started (startMu)

	mu      sync.Mutex // protects the fields below
	ln      net.Listener
	conns   map[*conn]struct{}
	closed  bool
	changes *changeLog // the active `log dest` file, if any
	rep     *replica.Replica
	failErr error         // why the server stopped serving on its own
	failed  chan struct{} // closed with failErr set

	msgs msgSubs // msg_monitor streams

	httpURL     atomic.Pointer[string] // the console's URL for the greeting (SetHTTP)
	authCurrent atomic.Pointer[string] // the current login method (see login.go)
	exposed     atomic.Pointer[string] // why logins cannot be on (see warnExposure); nil: they can
	throttle    *auth.Throttle         // slows down failed logins
	// testSession, if set, is the session of the client connections
	// accepted from then on: the tests' stand-in for a login.
	testSession atomic.Pointer[Session]
}

// New returns a server with an empty tree; call Init or Load, then Start.
func New(cfg Config) (*Server, error) {
	if cfg.Node == "" {
		return nil, errors.New("server: a node name is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "localhost:27586"
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 20
	}
	if cfg.InputBudget <= 0 {
		cfg.InputBudget = 256 << 20
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 100 * time.Millisecond
	}
	if cfg.BindWait == 0 {
		cfg.BindWait = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TickFloor == nil {
		cfg.TickFloor = ClockTick
	}
	if cfg.Ack == wire.AckDefault {
		cfg.Ack = wire.AckLocal
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		hooks:    cfg.Hooks,
		input:    budget.New(cfg.InputBudget),
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*conn]struct{}),
		failed:   make(chan struct{}),
		throttle: auth.NewThrottle(),
		stats:    newCounters(),
		tree: tree.New(tree.Config{
			Node:        cfg.Node,
			ChainLength: cfg.ChainLength,
			Equal:       equalValues,
		}),
	}
	s.watchLogins()
	if s.hooks.Access == nil {
		s.hooks.Access = newPolicy(s.tree, cfg.Logger)
	}
	if floor := cfg.TickFloor(); floor > 0 {
		if err := s.tree.Announce(cfg.Node, floor); err != nil {
			return nil, fmt.Errorf("server: TickFloor: %w", err)
		}
		if cfg.Cluster == nil {
			// Its skipped ticks are held nowhere: on its own, a server
			// need not look for them (replication does, see replica's
			// giveUp).
			var skipped chain.RangeSet
			skipped.Add(1, floor+1)
			s.tree.MarkKnown(cfg.Node, &skipped)
		}
	}
	return s, nil
}

// equalValues is the tree's equality, which decides `prev` preconditions
// and whether a set changed the value (and so idem): value.Equal, except
// that a value holding a NaN equals nothing, itself included, as in the
// original (see value.HasNaN).
func equalValues(a, b string) bool {
	return (a == b || value.Equal([]byte(a), []byte(b))) && !value.HasNaN(a)
}

// Tree returns the server's tree.
func (s *Server) Tree() *tree.Tree { return s.tree }

// Node returns the server's name.
func (s *Server) Node() string { return s.cfg.Node }

// Init sets the root entry's value (raw msgpack): the start of a new
// network (`server -i`).
func (s *Server) Init(raw []byte) error {
	if err := value.Validate(raw); err != nil {
		return fmt.Errorf("initial value: %w", err)
	}
	_, err := s.tree.Set(path.Root, string(raw), tree.Cond{})
	return err
}

// Start serves: it starts replication (with a cluster, unless Sync did)
// and opens the client listener. A server of a network refuses to start
// while another server of the network has its name (a
// *gossip.ConflictError). Clients see the data the server has: one that
// must copy the network's data first calls Sync before Start.
func (s *Server) Start() error {
	if err := s.startCluster(); err != nil {
		return err
	}
	if err := s.checkName(); err != nil {
		return err
	}
	if s.AuthMethod() != "" {
		if err := s.loginsAllowed(); err != nil {
			return err
		}
		s.warnNoLogin()
	}
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = s.listen(s.cfg.Listen, "client"); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if err := s.stopped(); err != nil {
		s.mu.Unlock()
		ln.Close()
		return err
	}
	s.ln = ln
	s.mu.Unlock()
	s.log.Info("listening", "node", s.cfg.Node, "addr", ln.Addr().String())
	if err := s.advertiseClient(ln.Addr().String()); err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.accept(ln)
	}()
	s.goFunc(s.returnMemory)
	return nil
}

// stopped says why the server cannot serve (closed, or failed); s.mu is held.
func (s *Server) stopped() error {
	switch {
	case s.closed:
		return errors.New("server: closed")
	case s.failErr != nil:
		return s.failErr
	}
	return nil
}

// listen opens a TCP listener on addr, waiting up to Config.BindWait while
// another socket holds the port.
func (s *Server) listen(addr, what string) (net.Listener, error) {
	return accept.Listen(s.ctx, addr, what, s.cfg.BindWait, s.log)
}

// Failed is closed when the server has stopped serving on its own: it
// lost its name to another server of the network. Err says why. The
// listener and every client connection are closed then, and replication
// stopped; Close is still the owner's to call.
func (s *Server) Failed() <-chan struct{} { return s.failed }

// Err returns why the server stopped serving on its own, nil while it has
// not.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// fail stops serving clients and replicating at once, for err.
func (s *Server) fail(err error) {
	s.mu.Lock()
	if s.closed || s.failErr != nil {
		s.mu.Unlock()
		return
	}
	s.failErr = err
	ln, rep := s.ln, s.rep
	s.ln, s.rep = nil, nil
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.log.Error("this server stops serving", "node", s.cfg.Node, "err", err)
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	if rep != nil {
		rep.Close()
	}
	close(s.failed)
}

// SetHTTP sets the URL of this server's web console (server.http.bind),
// which the greeting tells clients as "http" from then on; "" for none.
func (s *Server) SetHTTP(url string) { s.httpURL.Store(&url) }

// Addr returns the listener's address (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

func (s *Server) accept(ln net.Listener) {
	accept.Serve(s.ctx, ln, s.log, "client", func(nc net.Conn) bool { return s.serveConn(nc) == nil })
}

// serveConn serves a client connection; it fails when the server is
// stopped (and closes nc then).
func (s *Server) serveConn(nc net.Conn) error {
	c := newConn(s, nc)
	if sess := s.testSession.Load(); sess != nil {
		c.sess = sess
	}
	s.mu.Lock()
	if err := s.stopped(); err != nil {
		s.mu.Unlock()
		nc.Close()
		return err
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		s.stats.fold(c.stats)
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	return nil
}

// Pipe returns a client connection to this server inside the process,
// served as one the client listener accepted: the greeting, logins, ACLs
// and the whole gate apply. The web console talks to its server so,
// whatever the client port's address and TLS settings.
func (s *Server) Pipe() (net.Conn, error) {
	if s.Addr() == nil {
		return nil, errors.New("the server does not serve clients (not yet, or no more)")
	}
	client, served := net.Pipe()
	if err := s.serveConn(served); err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}

// Close stops listening, ends every connection, and closes the change
// log (fsynced). It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	if rep := s.replica(); rep != nil {
		rep.Close()
	}
	if s.cfg.Cluster != nil {
		s.cfg.Cluster.Gossip.Close()
	}
	s.wg.Wait()
	return s.stopLog()
}

// go runs fn in a goroutine that Close waits for.
func (s *Server) goFunc(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Load applies the records of a save or log stream by chain rules: a file
// of ours or one the original DistKV wrote, told apart by its first byte.
// name identifies the stream in warnings and errors. Damage is skipped with
// a warning where the format allows (see package persist); the error is
// for I/O and for damage that ends an original file early.
func (s *Server) Load(r io.Reader, name string) (LoadStats, error) {
	return s.load(r, name)
}
