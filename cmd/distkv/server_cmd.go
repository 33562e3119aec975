package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// ServerCmd is `distkv server`.
type ServerCmd struct {
	Init *string  `short:"i" name:"init" placeholder:"VALUE" help:"Start a new network: store VALUE at the root (a string; with -e a literal). Never use it to join an existing network."`
	Eval bool     `short:"e" name:"eval" help:"Read the -i value as a literal: 123, True, None, b'…', [1, 2], {'a': 1}."`
	Load []string `short:"l" name:"load" placeholder:"FILE" sep:"none" help:"Load a save or log file, ours or one the original DistKV wrote, before serving (repeatable, in order; a stream such as <(cat a b) works). A file with no valid record at all (empty, or not a DistKV file) is an error unless --force is given."`
	Join []string `name:"join" placeholder:"HOST:PORT" sep:"none" help:"Join the network through this server's gossip address (repeatable; also server.serf.join)."`
	Name string   `arg:"" help:"This server's name: unique in the network, e.g. $(hostname)."`

	// Force lets a -l file with no valid record pass (see loadFile).
	Force bool `name:"force" help:"Start even if a -l file holds no valid record: without its data, with a warning."`

	gossip gossip.Gossip // the gossip layer cluster made
	join   []string      // whom it joins: --join and server.serf.join
	ready  *readiness    // what /readyz reports
}

// Help is shown below the flags of `distkv server --help`.
func (ServerCmd) Help() string {
	return `The server keeps all data in memory and listens for clients on
server.bind_default (localhost:27586). It prints "Running." once it serves.

Servers find each other through gossip (Serf, embedded; port 7946): by
mDNS on the LAN (server.serf.discover, on by default; servers of another
server.root are ignored), or give --join with another server's address.
A server started without -i first copies the network's data from a
running server, then serves (with -l: when it finds its network running;
otherwise it serves what it loaded); while it waits it says why every few
seconds, and server.sync_timeout ends the wait with an error.

A change is acknowledged once this server has applied it, or with
server.ack=peer (or a client's --ack peer) once another server has it too,
so that no single server's crash loses it.

The name must be unique: a server refuses to start while another server
of the network has its name, and one that loses its name to another
(after a network split) stops with an error. Stopped (SIGTERM, Ctrl-C),
a server stops serving clients at once and leaves the network within
about a second; one started at once in its place waits a few seconds for
the ports its predecessor still holds.

Examples:
  distkv server -i Testing $(hostname)             # a new network
  distkv server --join one.example:7946 $(hostname) # one more server
  distkv server -l /var/lib/distkv/latest.state $(hostname)
  distkv server -l <(cat /var/lib/distkv/*.state) $(hostname)`
}

func (c *ServerCmd) Run(ctx context.Context, g *globals) error {
	cfg := g.cfg.Server
	sync, err := persist.ParseSyncPolicy(string(cfg.Log.Sync))
	if err != nil {
		return err
	}
	ack, err := wire.ParseAckLevel(cfg.Ack)
	if err != nil {
		return fmt.Errorf("server.ack: %w", err)
	}
	clientTLS, clientTLSFiles, err := serverTLS("server.bind_default.ssl", cfg.BindDefault.SSL)
	if err != nil {
		return err
	}
	cluster, err := c.cluster(g)
	if err != nil {
		return err
	}
	var code userCode
	defer code.close()
	srv, err := server.New(server.Config{
		Hooks:       code.hooks(),
		TLS:         clientTLS,
		TLSFiles:    clientTLSFiles,
		Cluster:     cluster,
		Node:        c.Name,
		Listen:      net.JoinHostPort(cfg.BindDefault.Host, strconv.Itoa(cfg.BindDefault.Port)),
		ChainLength: cfg.Change.Length,
		Queue:       cfg.Conn.Queue,
		MaxMessage:  int(cfg.Conn.MaxMessage),
		InputBudget: int64(cfg.Conn.InputBudget),
		LogSync:     sync,
		LogInterval: cfg.Log.Interval.D(),
		LogDir:      cfg.Log.Dir,
		Ack:         ack,
		AckTimeout:  cfg.AckTimeout.D(),
		Logger:      g.log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	code.start(srv, g.log)
	c.ready = newReadiness()
	ready := c.ready
	web, err := serveHTTP(ctx, g, srv, ready, code.rt)
	if err != nil {
		return err
	}
	if web != nil {
		defer web.Close()
	}
	code.fail = newFailures(g.log, c.Name, func(ctx context.Context) (*client.Client, error) {
		return dialSelf(g.cfg.Connect, srv.Addr())(ctx)
	})
	for _, name := range c.Load {
		ready.set("loading", "loading "+name, nil)
		if err := c.loadFile(srv, name, g); err != nil {
			return err
		}
	}
	if c.Init != nil {
		raw, err := parseValue(*c.Init, c.Eval)
		if err != nil {
			return fmt.Errorf("-i: %w", err)
		}
		if err := srv.Init(raw); err != nil {
			return err
		}
	}
	if err := c.joinNetwork(ctx, srv, g); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil // stopped while it waited
	}
	if err := srv.Start(); err != nil {
		return err
	}
	go code.fail.run(ctx)
	ready.set("running", "", nil)
	web.warnOpen(g, srv)
	fmt.Fprintln(g.stdout, "Running.")
	select {
	case <-ctx.Done():
		g.log.Info("stopping")
		ready.set("stopped", "the server is stopping", nil)
		return srv.Close()
	case <-srv.Failed():
		ready.set("stopped", "the server stopped serving: "+srv.Err().Error(), nil)
		srv.Close()
		return srv.Err()
	}
}

// cluster builds the gossip layer the config asks for.
func (c *ServerCmd) cluster(g *globals) (*server.Cluster, error) {
	sc := g.cfg.Server.Serf
	var key []byte
	var gossipKey []byte // the key itself, not one from the keyring
	switch {
	case sc.Key != "":
		var err error
		if key, err = gossip.ParseKey(sc.Key); err != nil {
			return nil, fmt.Errorf("server.serf.key: %w", err)
		}
		gossipKey = key
	case sc.Keyring != "":
		// The peer handshake is keyed by the keyring's primary key: during
		// a rotation, every server must have the same primary key.
		keys, err := gossip.ReadKeyring(sc.Keyring)
		if err != nil {
			return nil, fmt.Errorf("server.serf.keyring: %w", err)
		}
		key = keys[0]
	}
	peerListenTLS, peerDialTLS, peerTLSFiles, err := peerTLS(g.cfg.Server.Peer.SSL)
	if err != nil {
		return nil, err
	}
	join := append(append([]string(nil), sc.Join...), c.Join...)
	c.join = join
	var gs gossip.Gossip
	if sc.Host != "" {
		gs, err = gossip.NewAgent(gossip.AgentConfig{
			Addr: net.JoinHostPort(sc.Host, strconv.Itoa(sc.Port)), Root: g.cfg.Server.Root,
			Join: join, Logger: g.log,
		})
	} else {
		gs, err = gossip.NewSerf(gossip.Config{
			NodeName: c.Name, BindAddr: sc.Bind, Join: join, Root: g.cfg.Server.Root,
			Key: gossipKey, KeyringFile: sc.Keyring, Discover: sc.Discover, Profile: sc.Profile, Logger: g.log,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	c.gossip = gs
	peer := g.cfg.Server.Peer.Bind
	if peer == "" {
		host, _, err := net.SplitHostPort(sc.Bind)
		if err != nil || sc.Host != "" {
			host = "0.0.0.0"
		}
		peer = net.JoinHostPort(host, "0")
	}
	return &server.Cluster{Gossip: gs, Root: g.cfg.Server.Root, Key: key, PeerListen: peer,
		Login: g.cfg.Connect.Auth, Insecure: g.cfg.Server.Peer.Insecure,
		TLS: peerListenTLS, DialTLS: peerDialTLS, TLSFiles: peerTLSFiles}, nil
}

// joinNetwork applies the start-up rules: -i only starts a new network,
// and a server without data copies the network's before it serves (Sync
// and Start refuse a name another server has).
func (c *ServerCmd) joinNetwork(ctx context.Context, srv *server.Server, g *globals) error {
	if d, ok := c.gossip.(interface{ Discovered(context.Context) error }); ok && (c.Init != nil || len(c.Load) > 0) {
		// Is there a network on the LAN already? -i must not fork it, and
		// -l must not serve old data while it runs.
		if err := d.Discovered(ctx); err != nil {
			return nil // stopped
		}
	}
	peers := srv.Peers()
	switch {
	case c.Init != nil && len(peers) > 0:
		var names []string
		for _, p := range peers {
			names = append(names, p.Name)
		}
		return fmt.Errorf("refusing -i: this server joined a running network (%s); -i would fork it. Start it without -i to copy their data",
			strings.Join(names, ", "))
	case c.Init != nil:
		return nil
	case len(c.Load) > 0 && len(peers) == 0:
		return nil // the loaded data is all there is
	}
	// A network runs: what was loaded may be old, so the server serves
	// only once it has the network's data too, and knows its own last
	// tick (see replica.Sync).
	return c.waitForData(ctx, srv, g)
}

// hintEvery is how often a server waiting for data says why.
const hintEvery = 5 * time.Second

// waitForData copies the network's data, saying every few seconds what it
// waits for and how else to start, until server.sync_timeout.
func (c *ServerCmd) waitForData(ctx context.Context, srv *server.Server, g *globals) error {
	timeout := g.cfg.Server.SyncTimeout.D()
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Sync(sctx) }()
	c.ready.set("syncing", "", func() string {
		return "waiting for a server of the network to copy its data from: " + c.waitingFor(srv, g)
	})
	g.log.Info("waiting for a server of the network to copy its data from")
	start := time.Now()
	t := time.NewTicker(hintEvery)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			switch {
			case err == nil, ctx.Err() != nil:
				return nil
			case errors.Is(err, gossip.ErrNameConflict):
				return err
			case sctx.Err() != nil:
				return fmt.Errorf("no data after %v (server.sync_timeout): %s; %s", timeout, c.waitingFor(srv, g), c.waysOut(g))
			}
			return fmt.Errorf("no data: %w", err)
		case <-t.C:
			g.log.Warn("still waiting for a server of the network to copy its data from",
				"for", time.Since(start).Round(time.Second), "because", c.waitingFor(srv, g), "help", c.waysOut(g))
		}
	}
}

// waitingFor says why the server has no peer to copy from.
func (c *ServerCmd) waitingFor(srv *server.Server, g *globals) string {
	if n := len(srv.Peers()); n > 0 {
		return fmt.Sprintf("%d servers of the network are known, but none has sent its data yet", n)
	}
	sc := g.cfg.Server.Serf
	if sc.Host != "" {
		return fmt.Sprintf("the Serf agent at %s knows no other server of network %q", net.JoinHostPort(sc.Host, strconv.Itoa(sc.Port)), g.cfg.Server.Root)
	}
	var why []string
	if len(c.join) > 0 {
		why = append(why, "no server answered at --join "+strings.Join(c.join, ", "))
	}
	if sc.Discover {
		why = append(why, fmt.Sprintf("discovery (mDNS) found no server of network %q on the LAN", g.cfg.Server.Root))
	}
	if len(why) == 0 {
		return "this server knows no other: no --join given, and discovery is off"
	}
	return strings.Join(why, ", and ")
}

// waysOut lists how to start a server that finds no network.
func (c *ServerCmd) waysOut(g *globals) string {
	ways := []string{"give --join HOST:PORT with the gossip address of a running server"}
	if !g.cfg.Server.Serf.Discover && g.cfg.Server.Serf.Host == "" {
		ways = append(ways, "turn on discovery on the LAN (-C server.serf.discover=true)")
	}
	return strings.Join(append(ways, "start a new network with -i VALUE", "or load data with -l FILE"), ", ")
}

// loadFile loads one -l file. A file with no valid record at all is
// almost always a mistake (the wrong file, an empty one): starting empty
// would serve, and then replicate, a tree without the data the user meant
// to load, so that takes --force.
func (c *ServerCmd) loadFile(srv *server.Server, name string, g *globals) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("-l: %w", err)
	}
	defer f.Close()
	st, err := srv.Load(f, name)
	if err != nil {
		return err
	}
	g.log.Info("loaded", "file", name, "records", st.Records, "applied", st.Applied, "damaged", st.Damaged)
	if st.Records+st.Headers > 0 {
		return nil
	}
	why := fmt.Sprintf("no valid DistKV record (0 of %d bytes readable)", st.Bytes)
	if st.Bytes == 0 {
		why = "no valid DistKV record: the file is empty"
	}
	if c.Force {
		g.log.Warn("starting without the data of a -l file (--force)", "file", name, "why", why)
		return nil
	}
	without := "start empty anyway"
	if len(c.Load) > 1 {
		without = "start without it"
	}
	return fmt.Errorf("-l %s: %s; give --force to %s", name, why, without)
}
