package errlog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/internal/cutnet"
)

// A failure recorded on both sides of a network split makes a record on
// each side; when the split heals, they merge into one that counts every
// failure and holds both nodes' trace records.
func TestSplit(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gn := gossip.NewNetwork(gossip.NetworkLogger(quiet))
	t.Cleanup(gn.Close)
	tn := cutnet.New()
	var srvs []*server.Server
	for i, name := range []string{"s1", "s2"} {
		g := gn.Node(name, nil)
		if i > 0 {
			if _, err := g.Join([]string{"s1"}); err != nil {
				t.Fatal(err)
			}
		}
		s, err := server.New(server.Config{Node: name, Listen: "127.0.0.1:0", Logger: quiet, Cluster: &server.Cluster{
			Gossip: g, Root: ":errlog", Dial: tn.Dialer(name), Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		tn.Name(s.PeerAddr(), name)
		srvs = append(srvs, s)
	}
	eventually(t, func() error {
		for _, s := range srvs {
			if len(s.Peers()) != 1 {
				return fmt.Errorf("%s sees %d peers", s.Node(), len(s.Peers()))
			}
		}
		return nil
	})
	a, b := mustOpen(t, srvs[0], "a"), mustOpen(t, srvs[1], "b")

	gn.Cut("s1", "s2")
	tn.Split([]string{"s1"}, []string{"s2"})
	eventually(t, func() error {
		for _, s := range srvs {
			if len(s.Peers()) != 0 {
				return fmt.Errorf("%s still sees its peer", s.Node())
			}
		}
		return nil
	})
	for range 3 {
		mustRecord(t, a, owch)
	}
	for range 2 {
		mustRecord(t, b, owch)
	}
	if r, ok := b.Find(owch.Path, "run"); !ok || r.Node() != "b" || r.Count != 2 {
		t.Fatalf("b's side: %+v", r)
	}

	gn.HealAll()
	tn.HealAll()
	c := connect(t, srvs[1])
	eventually(t, func() error {
		ls, err := errlog.Read(context.Background(), c, errlog.ReadOptions{Traces: true})
		if err != nil {
			return err
		}
		if len(ls.Records) != 1 {
			return fmt.Errorf("%d records", len(ls.Records))
		}
		if r := ls.Records[0]; r.Count != 5 || nodes(r) != "a,b" || len(ls.Orphans) != 0 {
			return fmt.Errorf("count %d, trace records of %s, orphans %v", r.Count, nodes(r), ls.Orphans)
		}
		return nil
	})
	// Both sides go on with the one record. (One after the other: two nodes
	// on two servers that update a record at the same moment may lose a
	// count, see the package doc.)
	mustRecord(t, a, owch)
	eventually(t, func() error {
		if r, ok := b.Find(owch.Path, "run"); !ok || r.Count != 6 {
			return fmt.Errorf("b sees %+v", r)
		}
		return nil
	})
	mustRecord(t, b, owch)
	eventually(t, func() error {
		if r, ok := a.Find(owch.Path, "run"); !ok || r.Count != 7 {
			return fmt.Errorf("a sees %+v", r)
		}
		return nil
	})
}
