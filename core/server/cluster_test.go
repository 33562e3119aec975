package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
)

// startCluster runs n servers in one process on gossip's in-memory
// network and loopback TCP.
func startCluster(t *testing.T, names ...string) []*server.Server {
	t.Helper()
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	var srvs []*server.Server
	for i, name := range names {
		g := gn.Node(name, nil)
		if i > 0 {
			if _, err := g.Join([]string{names[0]}); err != nil {
				t.Fatal(err)
			}
		}
		s := startServer(t, server.Config{Node: name, Cluster: &server.Cluster{
			Gossip: g, Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}})
		srvs = append(srvs, s)
	}
	return srvs
}

func TestClusterReplicates(t *testing.T) {
	srvs := startCluster(t, "a", "b", "c")
	ctx := ctxT(t)
	clients := make([]*client.Client, len(srvs))
	for i, s := range srvs {
		clients[i] = connect(t, s)
	}
	for i, c := range clients {
		if _, err := c.Set(ctx, path.Must("from", int64(i)), fmt.Sprint("node ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		for i := range clients {
			waitValue(t, c, path.Must("from", int64(i)), fmt.Sprint("node ", i))
		}
	}
}

func waitValue(t *testing.T, c *client.Client, p path.Path, want any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		e, err := c.Get(context.Background(), p)
		if err == nil && e.HasValue {
			if v, _ := e.Value(); v == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never became %v", p, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMessages: msg_send on one server reaches msg_monitor on every server
// of the network, by topic.
func TestMessages(t *testing.T) {
	srvs := startCluster(t, "a", "b")
	ctx := ctxT(t)
	ca, cb := connect(t, srvs[0]), connect(t, srvs[1])
	topic := path.P("coord.group")
	s, err := cb.Stream(ctx, "msg_monitor", client.Args{{Key: "topic", Value: topic}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the monitor register (it cannot report that)
	got := make(chan any, 1)
	go func() {
		for {
			rep, ok, err := s.Next()
			if !ok || err != nil {
				return
			}
			v, _ := pack.Decode(rep.Value)
			if rep.Other["data"] != nil {
				v, _ = pack.Decode(rep.Other["data"])
			}
			got <- v
		}
	}()
	if _, err := ca.Request(ctx, "msg_send", client.Args{{Key: "topic", Value: path.P("other")}, {Key: "data", Value: "not for you"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		if _, err := ca.Request(ctx, "msg_send", client.Args{{Key: "topic", Value: "coord.group"}, {Key: "data", Value: int64(42)}}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v != int64(42) {
				t.Fatalf("monitor got %v", v)
			}
			s.Stop()
			// Without a network, msg_send is an error.
			solo := startServer(t, server.Config{})
			if _, err := connect(t, solo).Request(ctx, "msg_send", client.Args{{Key: "topic", Value: "x"}, {Key: "data", Value: 1}}); err == nil {
				t.Fatal("msg_send without a network succeeded")
			}
			return
		case <-deadline:
			t.Fatal("no message arrived")
		case <-time.After(200 * time.Millisecond): // gossip is lossy: send again
		}
	}
}

// claimed is a gossip node whose name the test lets another server claim.
type claimed struct {
	gossip.Gossip
	lost chan struct{}

	mu  sync.Mutex // protects err
	err error
}

func (c *claimed) NameConflict() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *claimed) NameLost() <-chan struct{} { return c.lost }

func (c *claimed) claim(e *gossip.ConflictError) {
	c.mu.Lock()
	c.err = e
	c.mu.Unlock()
	if e.Lost {
		close(c.lost)
	}
}

// TestNameConflict: a server whose name another one has refuses to start
// (and to wait for data); one that loses its name while it serves stops
// serving at once; the other servers go on.
func TestNameConflict(t *testing.T) {
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(gn.Close)
	ga := &claimed{Gossip: gn.Node("a", nil), lost: make(chan struct{})}
	gb := gn.Node("b", nil)
	if _, err := gb.Join([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cluster := func(g gossip.Gossip) *server.Cluster {
		return &server.Cluster{Gossip: g, Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}
	}
	a := startServer(t, server.Config{Node: "a", Logger: quiet, Cluster: cluster(ga)})
	b := startServer(t, server.Config{Node: "b", Logger: quiet, Cluster: cluster(gb)})
	ca, cb := connect(t, a), connect(t, b)
	ctx := ctxT(t)
	if _, err := ca.Set(ctx, path.P("x"), "from a"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, cb, path.P("x"), "from a")

	// Refused before serving: Start and Sync.
	other := netip.MustParseAddrPort("127.0.0.1:7946")
	gc := &claimed{Gossip: gn.Node("c", nil), lost: make(chan struct{})}
	gc.claim(&gossip.ConflictError{Name: "c", Addr: other})
	c, err := server.New(server.Config{Node: "c", Listen: "127.0.0.1:0", Logger: quiet, Cluster: cluster(gc)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Sync(ctx); !errors.Is(err, gossip.ErrNameConflict) {
		t.Errorf("sync with a taken name: %v", err)
	}
	if err := c.Start(); !errors.Is(err, gossip.ErrNameConflict) || c.Addr() != nil {
		t.Errorf("start with a taken name: %v, listening on %v", err, c.Addr())
	}

	// Lost while serving.
	addr := a.Addr().String()
	ga.claim(&gossip.ConflictError{Name: "a", Addr: other, Lost: true, Votes: 1})
	select {
	case <-a.Failed():
	case <-ctx.Done():
		t.Fatal("a serves on after losing its name")
	}
	if err := a.Err(); !errors.Is(err, gossip.ErrNameConflict) {
		t.Errorf("a.Err() = %v", err)
	}
	if _, err := ca.Get(ctx, path.P("x")); err == nil {
		t.Error("a's client is still served")
	}
	if nc, err := net.Dial("tcp", addr); err == nil {
		nc.Close()
		t.Error("a still accepts clients")
	}
	if _, err := cb.Set(ctx, path.P("y"), "from b"); err != nil {
		t.Errorf("b: %v", err)
	}
}

// TestSyncThenServe: a server copies the network's data before it opens
// its client listener, and waits for a port another socket still holds.
func TestSyncThenServe(t *testing.T) {
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(gn.Close)
	cluster := func(g gossip.Gossip) *server.Cluster {
		return &server.Cluster{Gossip: g, Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}
	}
	a := startServer(t, server.Config{Node: "a", Cluster: cluster(gn.Node("a", nil))})
	ctx := ctxT(t)
	if _, err := connect(t, a).Set(ctx, path.P("x"), "here"); err != nil {
		t.Fatal(err)
	}
	gb := gn.Node("b", nil)
	if _, err := gb.Join([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := server.New(server.Config{Node: "b", Listen: held.Addr().String(), Cluster: cluster(gb)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != nil {
		t.Fatal("b listens for clients before it serves")
	}
	time.AfterFunc(300*time.Millisecond, func() { held.Close() })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	e, err := connect(t, b).Get(ctx, path.P("x"))
	if v, _ := e.Value(); err != nil || v != "here" {
		t.Fatalf("b: x = %v, %v", v, err)
	}
	// A port held for longer than BindWait is an error.
	held2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held2.Close()
	c, err := server.New(server.Config{Node: "c", Listen: held2.Addr().String(), BindWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("start on a held port: %v", err)
	}
}

// TestLinks: a server lists the others with their peer address, and
// whether replication is connected to each.
func TestLinks(t *testing.T) {
	srvs := startCluster(t, "a", "b", "c")
	c := connect(t, srvs[0])
	if _, err := c.Set(ctxT(t), path.P("x"), "pushed"); err != nil { // a push dials the others
		t.Fatal(err)
	}
	waitFor(t, "a connected to b and c", func() bool {
		l := srvs[0].Links()
		return len(l) == 2 && l[0].Name == "b" && l[1].Name == "c" && l[0].Connected && l[1].Connected && l[0].Addr != "" && l[1].Addr != ""
	})
	srvs[2].Close()
	waitFor(t, "c gone", func() bool {
		l := srvs[0].Links()
		return len(l) == 1 && l[0].Name == "b"
	})
}
