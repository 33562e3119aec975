package server_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/cutnet"
)

// TestAckPeer: with ack peer, a change is acknowledged only once another
// server has applied it; a change no other server confirms in time gets
// an error that says so; a server on its own refuses ack peer outright.
func TestAckPeer(t *testing.T) {
	ctx := ctxT(t)
	t.Run("alone", func(t *testing.T) {
		s := startServer(t, server.Config{})
		c := connect(t, s)
		_, err := c.Set(ctx, path.P("x"), 1, client.AckPeer())
		if !errors.Is(err, wire.ErrUnconfirmed) {
			t.Fatalf("ack peer on a server alone: %v", err)
		}
		if _, ok := s.Tree().Get(path.P("x")); ok {
			t.Fatal("the refused change was applied")
		}
	})

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gn := gossip.NewNetwork(gossip.NetworkLogger(quiet))
	t.Cleanup(gn.Close)
	tn := cutnet.New()
	start := func(name string, cfg server.Config) *server.Server {
		g := gn.Node(name, nil)
		if name != "a" {
			if _, err := g.Join([]string{"a"}); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Node, cfg.Logger = name, quiet
		cfg.Cluster = &server.Cluster{Gossip: g, Root: ":ack", Dial: tn.Dialer(name), Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}
		s := startServer(t, cfg)
		tn.Name(s.PeerAddr(), name)
		return s
	}
	a := start("a", server.Config{AckTimeout: time.Second})
	b := start("b", server.Config{Ack: wire.AckPeer})
	ca, cb := connect(t, a), connect(t, b)
	// A change pushed (counted as it is made) shows that a is connected
	// to b: from then on, its pushes are acknowledged at once.
	waitCond(t, "a to connect to b", func() bool {
		before := a.ReplicaStats().Pushed
		if _, err := ca.Set(ctx, path.P("hello"), 1); err != nil {
			t.Fatal(err)
		}
		return a.ReplicaStats().Pushed > before
	})

	t.Run("confirmed", func(t *testing.T) {
		// Many writers at once, each change checked on the other server
		// the moment it is acknowledged.
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					p := path.Must("peer", int64(w), int64(i))
					if _, err := ca.Set(ctx, p, i, client.AckPeer()); err != nil {
						errs <- err
						return
					}
					if it, ok := b.Tree().Get(p); !ok || !it.HasValue {
						errs <- fmt.Errorf("%v acknowledged, but b does not have it", p)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// A delete, too; and server.ack peer without the option.
		if _, err := ca.Delete(ctx, path.Must("peer", int64(0), int64(0)), client.AckPeer()); err != nil {
			t.Fatal(err)
		}
		if it, _ := b.Tree().Get(path.Must("peer", int64(0), int64(0))); it.HasValue {
			t.Error("a delete was acknowledged before b applied it")
		}
		if _, err := cb.Set(ctx, path.P("from.b"), 1); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.Tree().Get(path.P("from.b")); !ok {
			t.Error("server.ack peer: acknowledged before a applied it")
		}
	})

	t.Run("unconfirmed", func(t *testing.T) {
		tn.Split([]string{"a"}, []string{"b"})
		defer tn.HealAll()
		// Pipelined: the unconfirmed change's error comes in its place,
		// and a local one after it waits its turn.
		rc := dialRaw(t, a)
		rc.send(req(t, "seq", int64(1), "action", "set_value", "path", path.P("cut"), "value", int64(1), "ack", "peer"))
		rc.send(req(t, "seq", int64(2), "action", "set_value", "path", path.P("cut.local"), "value", int64(2), "ack", "local"))
		if r := rc.next(); fmt.Sprint(get(r, "seq")) != "1" || get(r, "etype") != "unconfirmed" {
			t.Fatalf("ack peer with no peer in reach: %v", r)
		}
		if r := rc.next(); fmt.Sprint(get(r, "seq")) != "2" || get(r, "error") != nil {
			t.Fatalf("ack local after it: %v", r)
		}
		if _, ok := a.Tree().Get(path.P("cut")); !ok {
			t.Fatal("the unconfirmed change is not applied on a")
		}
	})
	// Healed, the unconfirmed change reaches b as any other would.
	waitSameServers(t, []*server.Server{a, b})
}
