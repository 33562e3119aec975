package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
