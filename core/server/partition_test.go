package server_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/internal/cutnet"
)

// TestPartitionRealSerf: three servers with embedded Serf on loopback,
// gossip and TCP cut into two sides, writes through clients on both
// sides, healed; repeated. The servers converge to the merge of every
// acknowledged change. SERVER_SEED=n replays the operations.
func TestPartitionRealSerf(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sw := gossip.NewSwitch()
	tn := cutnet.New()
	names := []string{"a", "b", "c"}
	var srvs []*server.Server
	var joinAddr string
	for _, name := range names {
		cfg := gossip.Config{NodeName: name, BindAddr: "127.0.0.1:0", Root: ":part", Profile: gossip.ProfileLocal,
			WrapTransport: sw.Wrap(name), Logger: quiet}
		if joinAddr != "" {
			cfg.Join = []string{joinAddr}
		}
		g, err := gossip.NewSerf(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if joinAddr == "" {
			joinAddr = g.Addr().String()
		}
		srvs = append(srvs, startCut(t, tn, name, g, quiet))
	}
	partitionCycles(t, srvs, sw, tn, 4, false)
}

// TestPartitions: 3 and 5 servers on gossip's in-memory network and
// loopback TCP, 20 cycles each of writes, deletes and chain-checked sets
// through clients on every side of a partition, then a heal. Some cycles
// cut single links instead of splitting the network, so that a server
// reaches only some of its peers (gossip still sees every member alive,
// through the others). SERVER_SEED=n replays the operations.
func TestPartitions(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) {
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			gn := gossip.NewNetwork(gossip.NetworkLogger(quiet))
			t.Cleanup(gn.Close)
			tn := cutnet.New()
			var srvs []*server.Server
			for i := range size {
				name := string(rune('a' + i))
				g := gn.Node(name, nil)
				if i > 0 {
					if _, err := g.Join([]string{"a"}); err != nil {
						t.Fatal(err)
					}
				}
				srvs = append(srvs, startCut(t, tn, name, g, quiet))
			}
			partitionCycles(t, srvs, gn, tn, 20, true)
		})
	}
}

// startCut starts a server on g whose peer connections go through tn.
func startCut(t *testing.T, tn *cutnet.Net, name string, g gossip.Gossip, log *slog.Logger) *server.Server {
	t.Helper()
	s := startServer(t, server.Config{Node: name, Logger: log, Cluster: &server.Cluster{
		Gossip: g, Root: ":part", Dial: tn.Dialer(name), Announce: 100 * time.Millisecond, Check: 100 * time.Millisecond}})
	tn.Name(s.PeerAddr(), name)
	return s
}

// partitioner cuts and heals gossip links: gossip.Switch, gossip.Network.
type partitioner interface {
	Cut(a, b string)
	HealAll()
}

// partitionCycles partitions the servers, writes through clients on
// every side, heals and waits until all hold the same, cycles times;
// then the state must be the merge of every acknowledged change by chain
// rules. With partial, every other cycle cuts random single links instead
// of splitting the servers into two sides.
func partitionCycles(t *testing.T, srvs []*server.Server, gn partitioner, tn *cutnet.Net, cycles int, partial bool) {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("SERVER_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (SERVER_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	names := make([]string, len(srvs))
	clients := make([]*client.Client, len(srvs))
	for i, s := range srvs {
		names[i] = s.Node()
		clients[i] = connect(t, s)
	}
	waitCond(t, "every server sees the others", func() bool {
		for _, s := range srvs {
			if len(s.Peers()) != len(srvs)-1 {
				return false
			}
		}
		return true
	})
	ctx := ctxT(t)
	var acked []tree.Update
	record := func(p path.Path, raw []byte, has bool, ch client.Chain, tock uint64) {
		acked = append(acked, tree.Update{Path: p, Value: raw, HasValue: has, Chain: ch, Tock: tock})
	}
	for cycle := range cycles {
		if partial && cycle%2 == 1 {
			// Cut some links: gossip still reaches everyone through the
			// others, replication's streams do not.
			for i, x := range names {
				for _, y := range names[i+1:] {
					if rng.IntN(3) == 0 {
						gn.Cut(x, y)
						tn.Split([]string{x}, []string{y})
					}
				}
			}
		} else {
			k := 1 + rng.IntN(len(names)-1)
			perm := rng.Perm(len(names))
			var left, right []string
			for i, p := range perm {
				if i < k {
					left = append(left, names[p])
				} else {
					right = append(right, names[p])
				}
			}
			for _, x := range left {
				for _, y := range right {
					gn.Cut(x, y)
				}
			}
			tn.Split(left, right)
			// Wait until gossip itself sees the split: each server's peers
			// are those of its own side.
			side := map[string]int{}
			for _, x := range left {
				side[x] = len(left) - 1
			}
			for _, x := range right {
				side[x] = len(right) - 1
			}
			waitCond(t, "gossip sees the split", func() bool {
				for _, s := range srvs {
					if len(s.Peers()) != side[s.Node()] {
						return false
					}
				}
				return true
			})
		}
		for range 20 {
			i := rng.IntN(len(names))
			c := clients[i]
			p := path.P(fmt.Sprintf("p%d", rng.IntN(8)))
			v := int64(cycle*1000 + rng.IntN(1000))
			raw := pack.AppendInt(nil, v)
			switch rng.IntN(5) {
			case 0:
				res, err := c.Delete(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Chain) > 0 {
					record(p, nil, false, res.Chain, res.Tock)
				}
			case 1:
				e, err := c.Get(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				opt := client.IfNew()
				if e.HasValue {
					opt = client.IfChain(e.Chain)
				}
				res, err := c.Set(ctx, p, v, opt)
				var ce *client.ConflictError
				if errors.As(err, &ce) {
					continue // changed meanwhile: not acknowledged
				}
				if err != nil {
					t.Fatal(err)
				}
				record(p, raw, true, res.Chain, res.Tock)
			default:
				res, err := c.Set(ctx, p, v)
				if err != nil {
					t.Fatal(err)
				}
				record(p, raw, true, res.Chain, res.Tock)
			}
		}
		gn.HealAll()
		tn.HealAll()
		waitCond(t, "gossip sees the heal", func() bool {
			for _, s := range srvs {
				if len(s.Peers()) != len(srvs)-1 {
					return false
				}
			}
			return true
		})
		waitSameServers(t, srvs)
	}
	model := tree.New(tree.Config{Node: "model"})
	for _, u := range acked {
		if _, err := model.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := serverDump(srvs[0].Tree()), serverDump(model); got != want {
		t.Fatalf("the servers' state is not the merge of the acknowledged changes:\n got %s\nwant %s", got, want)
	}
	var conflicts uint64
	for _, s := range srvs {
		conflicts += s.ReplicaStats().Conflicts
	}
	t.Logf("%d acknowledged changes, %d conflicts resolved", len(acked), conflicts)
}

func waitCond(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func serverDump(tr *tree.Tree) string {
	var sb strings.Builder
	tr.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1}, func(items []tree.Item) bool {
		for _, it := range items {
			if it.Path.IsRoot() {
				continue
			}
			fmt.Fprintf(&sb, "%v %x %v %v\n", it.Path, it.Value, it.HasValue, it.Chain())
		}
		return true
	})
	return sb.String()
}

func waitSameServers(t *testing.T, srvs []*server.Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first := serverDump(srvs[0].Tree())
		same := true
		for _, s := range srvs {
			same = same && len(s.Tree().Missing()) == 0 && serverDump(s.Tree()) == first
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range srvs {
				t.Logf("%s missing %v:\n%s", s.Node(), s.Tree().Missing(), serverDump(s.Tree()))
			}
			t.Fatal("the servers did not converge")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
