package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/internal/cutnet"
)

// TestTicksNeverReused reproduces a lost write: a makes a change that only
// c receives, crashes, and starts again without a log while c cannot be
// reached; it copies the network's data from b, which never saw that
// change. Its next change must take a tick above the lost one's: were
// it to take the same tick, the two changes would pass for one, and c's
// copy would differ from the others' for good.
func TestTicksNeverReused(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gn := gossip.NewNetwork(gossip.NetworkLogger(quiet))
	t.Cleanup(gn.Close)
	tn := cutnet.New()
	node := func(name string) *server.Server {
		g := gn.Node(name, nil)
		if name != "b" {
			if _, err := g.Join([]string{"b"}); err != nil {
				t.Fatal(err)
			}
		}
		return startCut(t, tn, name, g, quiet)
	}
	b := node("b")
	a, c := node("a"), node("c")
	ctx := ctxT(t)
	ca, cb := connect(t, a), connect(t, b)
	// A change pushed to two peers (counted as it is made) shows that a
	// has a connection to b and to c.
	waitCond(t, "a to connect to b and c", func() bool {
		before := a.ReplicaStats().Pushed
		if _, err := ca.Set(ctx, path.P("before"), "everyone has it"); err != nil {
			t.Fatal(err)
		}
		return a.ReplicaStats().Pushed-before == 2
	})
	waitValue(t, cb, path.P("before"), "everyone has it")

	// Only c gets it: neither b nor gossip hears of it.
	tn.Split([]string{"a"}, []string{"b"})
	tn.Split([]string{"b"}, []string{"c"})
	gn.Isolate("a")
	res, err := ca.Set(ctx, path.P("lost"), "only c has it")
	if err != nil {
		t.Fatal(err)
	}
	lostTick := res.Chain[0].Tick
	waitValue(t, connect(t, c), path.P("lost"), "only c has it")

	// a crashes; c stays out of out of reach; a starts again and copies from b.
	a.Close()
	gn.HealAll()
	tn.HealAll()
	tn.Split([]string{"a", "b"}, []string{"c"})
	ga := gn.Node("a", nil)
	if _, err := ga.Join([]string{"b"}); err != nil {
		t.Fatal(err)
	}
	a2, err := server.New(server.Config{Node: "a", Listen: "127.0.0.1:0", Logger: quiet, Cluster: &server.Cluster{
		Gossip: ga, Root: ":part", Dial: tn.Dialer("a"), Announce: 100 * time.Millisecond, Check: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a2.Close() })
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a2.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	if err := a2.Start(); err != nil {
		t.Fatal(err)
	}
	tn.Name(a2.PeerAddr(), "a")
	res, err = connect(t, a2).Set(ctx, path.P("after"), "made after the restart")
	if err != nil {
		t.Fatal(err)
	}
	if tick := res.Chain[0].Tick; tick <= lostTick {
		t.Fatalf("a took tick %d after its crash, at or below tick %d it had used before", tick, lostTick)
	}
	tn.HealAll()
	waitSameServers(t, []*server.Server{a2, b, c})
}
