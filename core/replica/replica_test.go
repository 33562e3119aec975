package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/cutnet"
)

// fakeNet connects test nodes: gossip (peers, announcements) and TCP
// dials both respect the cuts of its cutnet.Net.
type fakeNet struct {
	*cutnet.Net
	mu    sync.Mutex // protects nodes
	nodes map[string]*fakeNode
}

type fakeNode struct {
	net  *fakeNet
	name string
	addr string
	ann  chan Announcement
}

func newFakeNet() *fakeNet {
	return &fakeNet{Net: cutnet.New(), nodes: map[string]*fakeNode{}}
}

func (f *fakeNode) Peers() []Peer {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	var ps []Peer
	for _, o := range f.net.nodes {
		if o.name != f.name && f.net.Reachable(f.name, o.name) {
			ps = append(ps, Peer{Name: o.name, Addr: o.addr})
		}
	}
	return ps
}

func (f *fakeNode) Members() []string {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	var ms []string
	for _, o := range f.net.nodes {
		ms = append(ms, o.name)
	}
	return ms
}

func (f *fakeNode) Announce(p []byte) error {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	for _, o := range f.net.nodes {
		if o.name != f.name && f.net.Reachable(f.name, o.name) {
			select {
			case o.ann <- Announcement{From: f.name, Payload: append([]byte(nil), p...)}:
			default: // lossy, like gossip
			}
		}
	}
	return nil
}

func (f *fakeNode) Announcements() <-chan Announcement { return f.ann }

type testNode struct {
	name string
	tree *tree.Tree
	rep  *Replica
}

func quietLogger() *slog.Logger {
	if os.Getenv("REPLICA_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// add adds a node; opts change its config.
func (n *fakeNet) add(t *testing.T, name string, key string, opts ...func(*Config)) *testNode {
	t.Helper()
	tr := tree.New(tree.Config{Node: name})
	fn := &fakeNode{net: n, name: name, ann: make(chan Announcement, 100)}
	cfg := Config{Tree: tr, Node: name, Root: "test", Key: []byte(key), Gossip: fn, Dial: n.Dialer(name),
		Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond, Purge: 100 * time.Millisecond,
		Logger: quietLogger().With("n", name)}
	for _, o := range opts {
		o(&cfg)
	}
	rep, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fn.addr = rep.Addr()
	n.Name(fn.addr, name)
	n.mu.Lock()
	n.nodes[name] = fn
	n.mu.Unlock()
	t.Cleanup(func() { rep.Close() })
	return &testNode{name: name, tree: tr, rep: rep}
}

func set(t *testing.T, n *testNode, p string, v int64) {
	t.Helper()
	raw := pack.AppendInt(nil, v)
	if _, err := n.tree.Set(path.P(p), string(raw), tree.Cond{}); err != nil {
		t.Fatal(err)
	}
}

// dump is a node's whole state: values and chains.
func dump(n *testNode) string {
	var sb strings.Builder
	n.tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1}, func(items []tree.Item) bool {
		for _, it := range items {
			fmt.Fprintf(&sb, "%v %q %v %v\n", it.Path, it.Value, it.HasValue, it.Chain())
		}
		return true
	})
	return sb.String()
}

// waitSame waits until all nodes hold the same state and miss nothing.
func waitSame(t *testing.T, nodes ...*testNode) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		same := true
		first := dump(nodes[0])
		for _, n := range nodes {
			if len(n.tree.Missing()) > 0 || dump(n) != first {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range nodes {
				t.Logf("%s missing %v:\n%s", n.name, n.tree.Missing(), dump(n))
			}
			t.Fatal("nodes did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPushAndJoin(t *testing.T) {
	net := newFakeNet()
	a, b := net.add(t, "a", ""), net.add(t, "b", "")
	a.rep.Start()
	b.rep.Start()
	set(t, a, "one.two", 1)
	set(t, b, "x", 2)
	waitSame(t, a, b)
	// A node that joins later downloads everything, then follows.
	c := net.add(t, "c", "")
	c.rep.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if it, ok := c.tree.Get(path.P("one.two")); !ok || !it.HasValue {
		t.Fatal("sync did not bring one.two")
	}
	set(t, c, "from.c", 3)
	set(t, a, "one.two", 4)
	waitSame(t, a, b, c)
	// A big value arrives whole.
	big := strings.Repeat("v", 1<<20)
	a.tree.Set(path.P("big"), string(pack.AppendString(nil, big)), tree.Cond{})
	waitSame(t, a, b, c)
}

// TestSlowPeer: pushes to a peer that is behind are dropped, not queued
// without bound; the peer fetches them.
func TestSlowPeer(t *testing.T) {
	net := newFakeNet()
	a := net.add(t, "a", "", func(c *Config) { c.QueueBytes = 1 }) // one push waiting at most
	b := net.add(t, "b", "")
	a.rep.Start()
	b.rep.Start()
	set(t, a, "first", 0)
	waitSame(t, a, b)
	for i := range 5000 {
		set(t, a, fmt.Sprintf("k.%d", i), int64(i))
	}
	waitSame(t, a, b)
	if sa, sb := a.rep.Stats(), b.rep.Stats(); sa.Dropped == 0 || sb.Pulls == 0 {
		t.Fatalf("a dropped %d pushes, b pulled %d times; want both", sa.Dropped, sb.Pulls)
	}
}

func TestKeyAndRoot(t *testing.T) {
	net := newFakeNet()
	a := net.add(t, "a", "secret")
	b := net.add(t, "b", "other")
	a.rep.Start()
	b.rep.Start()
	set(t, a, "k", 1)
	time.Sleep(300 * time.Millisecond) // give a wrong connection every chance
	if _, ok := b.tree.Get(path.P("k")); ok {
		t.Fatal("a node with another key got data")
	}
	if s := a.rep.Stats(); s.Pushed != 0 {
		t.Fatalf("pushed to a node with another key: %+v", s)
	}
}

// TestSplitHeal: random writes, deletes and chain-checked sets on every
// side of repeated partitions of 3 and 5 nodes; after each heal all nodes
// converge, and their state is exactly what merging every acknowledged
// change by chain rules gives: no acknowledged change is lost other than
// by a conflict every node decided the same way, and nothing deleted
// comes back. REPLICA_SEED=n replays a run.
func TestSplitHeal(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) { splitHeal(t, size, 20) })
	}
}

func splitHeal(t *testing.T, size, cycles int) {
	seed := rand.Uint64()
	if s := os.Getenv("REPLICA_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (REPLICA_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	net := newFakeNet()
	var names []string
	var nodes []*testNode
	for i := range size {
		names = append(names, string(rune('a'+i)))
		nodes = append(nodes, net.add(t, names[i], "k"))
	}
	for _, n := range nodes {
		n.rep.Start()
	}
	var acked []tree.Update // every change a node acknowledged
	refused := 0
	record := func(res tree.Result) {
		it := res.Item
		if it.Head.Node == nil {
			return
		}
		u := tree.Update{Path: it.Path, Value: []byte(it.Value), HasValue: it.HasValue, Tock: it.Tock}
		for _, l := range it.Chain() {
			u.Chain = append(u.Chain, tree.Link{Node: l.Node.Name, Tick: l.Tick})
		}
		acked = append(acked, u)
	}
	for cycle := range cycles {
		k := 1 + rng.IntN(size-1)
		perm := rng.Perm(size)
		var left, right []string
		for i, p := range perm {
			if i < k {
				left = append(left, names[p])
			} else {
				right = append(right, names[p])
			}
		}
		net.Split(left, right)
		for range 30 {
			n := nodes[rng.IntN(size)]
			p := path.P(fmt.Sprintf("k%d", rng.IntN(12)))
			v := string(pack.AppendInt(nil, int64(cycle*1000+rng.IntN(1000))))
			var res tree.Result
			var err error
			switch rng.IntN(6) {
			case 0:
				res, err = n.tree.Delete(p, tree.Cond{})
			case 1: // a chain-checked set, as a careful client does it
				it, _ := n.tree.Get(p)
				var c tree.Cond
				if it.HasValue {
					c.Chain = &tree.Want{Node: it.Head.Node.Name, Tick: it.Head.Tick}
				} else {
					c.MustBeNew = true
				}
				res, err = n.tree.Set(p, v, c)
			default:
				res, err = n.tree.Set(p, v, tree.Cond{})
			}
			if errors.Is(err, tree.ErrChain) || errors.Is(err, tree.ErrExists) || errors.Is(err, tree.ErrNotFound) {
				// A change arrived between Get and Set (a deletion: not
				// found): not acknowledged.
				refused++
				continue
			}
			if err != nil {
				t.Fatalf("cycle %d: %v", cycle, err)
			}
			record(res)
		}
		net.HealAll()
		waitSame(t, nodes...)
	}
	// The model: every acknowledged change, merged by chain rules.
	model := &testNode{name: "model", tree: tree.New(tree.Config{Node: "model"})}
	for _, u := range acked {
		if _, err := model.tree.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	checkModel(t, nodes[0].tree, model.tree)
	var conflicts, purged uint64
	for _, n := range nodes {
		conflicts += n.rep.Stats().Conflicts
		purged += n.rep.Stats().Purged
	}
	t.Logf("%d changes, %d refused by their precondition, %d conflicts resolved, %d tombstones purged", len(acked), refused, conflicts, purged)
}

// TestBadPeerInput sends a replica's peer listener garbage, a wrong
// network, a wrong key, and malformed or replayed pushes after a good
// handshake. Each is refused with a log line; nothing crashes, nothing bad
// is applied, and replication with a good peer goes on.
func TestBadPeerInput(t *testing.T) {
	net0 := newFakeNet()
	a := net0.add(t, "a", "key")
	a.rep.Start()
	addr := a.rep.Addr()
	hello := func(root, node string, nonce []byte) []byte {
		m := wire.Begin(nil)
		m.Str("op", "hello")
		m.Str("root", root)
		m.Str("node", node)
		m.Uint("tick", 1)
		if nonce != nil {
			m.Key("nonce")
			m.B = pack.AppendBytes(m.B, nonce)
		}
		return m.End()
	}
	// dialAs logs in as node with key; it returns the connection.
	dialAs := func(node, key string) net.Conn {
		p := dialRaw(t, addr)
		s, _ := p.login(node, key)
		if key == "key" {
			p.loggedIn(s, key)
		}
		return p.c
	}
	closedSoon := func(c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the connection was not closed")
				}
				return
			}
		}
	}
	for name, send := range map[string][]byte{
		"garbage":     {0xc1, 0xc1, 0xc1},
		"not a map":   pack.AppendString(nil, "hello"),
		"no op":       {0x80},
		"wrong root":  hello("other", "x", make([]byte, 16)),
		"no nonce":    hello("test", "x", nil),
		"same name":   hello("test", "a", make([]byte, 16)),
		"huge length": {0xdb, 0xff, 0xff, 0xff, 0xff},
		// More than a handshake's message may have, of a message that
		// would fit later: refused without waiting for the rest.
		"long hello": append([]byte{0xdb, 0, 0x10, 0, 0}, make([]byte, 100<<10)...),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(send)
			if name == "huge length" {
				c.(*net.TCPConn).CloseWrite()
			}
			closedSoon(c)
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		c := dialAs("x", "not the key")
		defer c.Close()
		closedSoon(c)
	})
	t.Run("malformed push", func(t *testing.T) {
		c := dialAs("x", "key")
		defer c.Close()
		m := wire.Begin(nil)
		m.Str("op", "push")
		m.Key("path")
		m.B = pack.AppendString(m.B, "not a path")
		c.Write(m.End())
		closedSoon(c)
	})
	t.Run("invalid value", func(t *testing.T) {
		c := dialAs("x", "key")
		defer c.Close()
		m := wire.Begin(nil)
		m.Str("op", "push")
		m.Path("path", path.P("bad"))
		m.Key("value")
		m.B = append(m.B, 0xa2, 0xc3, 0x28) // a str of invalid UTF-8
		m.Key("chain")
		m.B = append(m.B, 0x82, 0xa4, 'n', 'o', 'd', 'e', 0xa1, 'x', 0xa4, 't', 'i', 'c', 'k', 0x01)
		m.Uint("tock", 1)
		c.Write(m.End())
		closedSoon(c)
		if _, ok := a.tree.Get(path.P("bad")); ok {
			t.Fatal("an invalid value was applied")
		}
	})
	t.Run("replayed push", func(t *testing.T) {
		// The same change twice: applied once, the replay is stale.
		c := dialAs("x", "key")
		defer c.Close()
		it := tree.Item{Path: path.P("replayed"), Value: "\x01", HasValue: true, Tock: 5}
		tr := tree.New(tree.Config{Node: "x"})
		res, _ := tr.Set(path.P("replayed"), "\x01", tree.Cond{})
		it = res.Item
		c.Write(appendUpdate(nil, "push", 0, &it))
		c.Write(appendUpdate(nil, "push", 0, &it))
		deadline := time.Now().Add(5 * time.Second)
		for a.rep.Stats().Received < 1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if g, ok := a.tree.Get(path.P("replayed")); !ok || g.Head.Tick != 1 {
			t.Fatalf("replayed push: %+v", g)
		}
	})
	// A key holder is trusted with relayed changes (pull answers), but a
	// push is its own change: one in another node's name ends the
	// connection, unapplied.
	t.Run("push as another node", func(t *testing.T) {
		c := dialAs("x", "key")
		defer c.Close()
		it := tree.Item{Path: path.P("forged"), Value: "\x01", HasValue: true, Tock: 5,
			Head: chain.Link{Node: &chain.Node{Name: "y"}, Tick: 1000000}}
		c.Write(appendUpdate(nil, "push", 0, &it))
		closedSoon(c)
		if _, ok := a.tree.Get(path.P("forged")); ok {
			t.Fatal("a change pushed in another node's name was applied")
		}
	})
	// Ticks and tocks beyond chain.MaxTick are forged: refused, and the
	// counters do not wrap around to 0.
	t.Run("forged tock", func(t *testing.T) {
		c := dialAs("x", "key")
		defer c.Close()
		it := tree.Item{Path: path.P("late"), Value: "\x01", HasValue: true, Tock: math.MaxUint64,
			Head: chain.Link{Node: &chain.Node{Name: "x"}, Tick: 2}}
		c.Write(appendUpdate(nil, "push", 0, &it))
		it.Tock, it.Head.Tick = 7, math.MaxUint64
		c.Write(appendUpdate(nil, "push", 0, &it))
		c.Write(appendTicks(nil, 0, map[string]uint64{"x": math.MaxUint64}, nil, nil))
		closedSoon(c)
		if _, ok := a.tree.Get(path.P("late")); ok {
			t.Fatal("an update with a forged tick or tock was applied")
		}
		if _, tock := a.tree.Ticks(); tock > chain.MaxTick {
			t.Fatalf("tock %d", tock)
		}
		if tick := a.tree.NodeTicks()["x"]; tick > chain.MaxTick {
			t.Fatalf("x's tick %d", tick)
		}
	})
	// A good peer still replicates.
	b := net0.add(t, "b", "key")
	b.rep.Start()
	set(t, a, "after", 1)
	waitSame(t, a, b)
}

// checkModel compares a node's tree with the model of every acknowledged
// change: entries with a value must be the same, value and chain; a
// deleted entry of the model may be gone (its tombstone purged) but must
// not have come back.
func checkModel(t *testing.T, got, model *tree.Tree) {
	t.Helper()
	entries := func(tr *tree.Tree) map[string]tree.Item {
		m := map[string]tree.Item{}
		tr.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1}, func(items []tree.Item) bool {
			for _, it := range items {
				m[it.Path.String()] = it
			}
			return true
		})
		return m
	}
	have, want := entries(got), entries(model)
	same := func(a, b tree.Item) bool {
		return a.HasValue == b.HasValue && a.Value == b.Value && a.Chain().String() == b.Chain().String() && a.Tock == b.Tock // node pointers differ between trees
	}
	for p, w := range want {
		h, ok := have[p]
		switch {
		case !ok && w.HasValue:
			t.Errorf("%s: missing, want %q %v", p, w.Value, w.Chain())
		case ok && !same(h, w):
			t.Errorf("%s: %q %v %v, want %q %v %v", p, h.Value, h.HasValue, h.Chain(), w.Value, w.HasValue, w.Chain())
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: present, but no acknowledged change made it", p)
		}
	}
}

func waitTrue(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPurge(t *testing.T) {
	net := newFakeNet()
	a, b, c := net.add(t, "a", ""), net.add(t, "b", ""), net.add(t, "c", "")
	for _, n := range []*testNode{a, b, c} {
		n.rep.Start()
	}
	gone := func(p string, nodes ...*testNode) func() bool {
		return func() bool {
			for _, n := range nodes {
				if _, ok := n.tree.Get(path.P(p)); ok {
					return false
				}
			}
			return true
		}
	}
	// Seen by everyone: purged everywhere.
	set(t, a, "k", 1)
	waitSame(t, a, b, c)
	a.tree.Delete(path.P("k"), tree.Cond{})
	waitTrue(t, "k is purged everywhere", gone("k", a, b, c))

	// A member cut off blocks purging: it might still hold the old value.
	set(t, a, "m", 1)
	waitSame(t, a, b, c)
	net.Split([]string{"a", "b"}, []string{"c"})
	a.tree.Delete(path.P("m"), tree.Cond{})
	time.Sleep(500 * time.Millisecond) // five purge rounds; not a timing assertion
	if _, ok := a.tree.Get(path.P("m")); !ok {
		t.Fatal("m's tombstone was purged while c had not seen it")
	}
	net.HealAll()
	waitTrue(t, "m is purged everywhere after the heal", gone("m", a, b, c))

	// A server that comes back with an old copy (an old -l file) drops
	// what was deleted and purged meanwhile instead of bringing it back.
	set(t, a, "old", 1)
	waitSame(t, a, b, c)
	var saved []tree.Update
	c.tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1}, func(items []tree.Item) bool {
		for _, it := range items {
			u := tree.Update{Path: it.Path, Value: []byte(it.Value), HasValue: it.HasValue, Tock: it.Tock}
			for _, l := range it.Chain() {
				u.Chain = append(u.Chain, tree.Link{Node: l.Node.Name, Tick: l.Tick})
			}
			saved = append(saved, u)
		}
		return true
	})
	c.rep.Close()
	net.mu.Lock()
	delete(net.nodes, "c") // it left the network
	net.mu.Unlock()
	a.tree.Delete(path.P("old"), tree.Cond{})
	waitTrue(t, "old is purged on a and b", gone("old", a, b))
	c2 := net.add(t, "c", "")
	for _, u := range saved {
		c2.tree.Apply(u)
	}
	if _, ok := c2.tree.Get(path.P("old")); !ok {
		t.Fatal("the old copy lacks old")
	}
	c2.rep.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c2.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.tree.Get(path.P("old")); ok {
		t.Fatal("a deleted and purged entry came back")
	}
	if c2.rep.Stats().Stale != 1 {
		t.Fatalf("stats: %+v", c2.rep.Stats())
	}
	waitSame(t, a, b, c2)
}

// TestRestartLearnsOwnTicks restarts a node without its data: the node it
// copies from has not seen its last changes, another one has. Before it
// may make changes, it knows the highest tick of its own that any peer
// has seen, so it never issues that tick again.
func TestRestartLearnsOwnTicks(t *testing.T) {
	net := newFakeNet()
	// No tick announcements, by gossip or to peers: only the handshake
	// can tell c.
	a, b := net.add(t, "a", "", quietTicks), net.add(t, "b", "", quietTicks)
	a.rep.Start()
	b.rep.Start()
	// b has seen c make a change at tick 500; a has not.
	b.tree.Announce("c", 500)
	restartSynced(t, net, "c", 500)
}

// quietTicks makes a node tell its ticks to nobody, by gossip or to peers.
func quietTicks(c *Config) { c.Announce, c.Check = time.Hour, time.Hour }

// restartSynced starts a node of name with no data, syncs it, and checks
// that its tick is at least minTick: the highest its peers have seen.
func restartSynced(t *testing.T, net *fakeNet, name string, minTick uint64) *testNode {
	t.Helper()
	n := net.add(t, name, "")
	n.rep.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if tick, _ := n.tree.Ticks(); tick < minTick {
		t.Fatalf("after the sync, %s's tick is %d: it would reuse ticks a peer has seen", name, tick)
	}
	return n
}

// TestRestartFindsOwnLostChange restarts a node whose last change only
// one peer holds, and copies from another one: the node does not take
// that change's tick as seen (it lost it), so it and the peer it copied
// from fetch the change from the one that has it.
func TestRestartFindsOwnLostChange(t *testing.T) {
	net := newFakeNet()
	a, b := net.add(t, "a", ""), net.add(t, "b", "", quietTicks)
	a.rep.Start()
	b.rep.Start()
	// c (gone) made a change at tick 7 that only b got.
	raw := pack.AppendString(nil, "only on b")
	if out, err := b.tree.Apply(tree.Update{Path: path.P("lost"), Value: raw, HasValue: true, Chain: []tree.Link{{Node: "c", Tick: 7}}, Tock: 1}); err != nil || out != tree.Applied {
		t.Fatal(out, err)
	}
	c := restartSynced(t, net, "c", 7)
	for _, n := range []*testNode{c, a} {
		waitTrue(t, n.name+" to fetch c's lost change", func() bool {
			it, ok := n.tree.Get(path.P("lost"))
			return ok && it.HasValue
		})
	}
}

// TestGiveUpUnheldTicks: ticks that no member of the network holds (never
// used, or lost with a crashed server) stop being missing once every
// member has said so, and not before: a member that cannot be reached may
// hold them.
func TestGiveUpUnheldTicks(t *testing.T) {
	net := newFakeNet()
	a, b, c := net.add(t, "a", ""), net.add(t, "b", ""), net.add(t, "c", "")
	// gone (not a member any more) made ticks 1 to 10; only c holds one,
	// and c is cut off.
	raw := pack.AppendString(nil, "only on c")
	if _, err := c.tree.Apply(tree.Update{Path: path.P("kept"), Value: raw, HasValue: true, Chain: []tree.Link{{Node: "gone", Tick: 5}}, Tock: 1}); err != nil {
		t.Fatal(err)
	}
	net.Split([]string{"a", "b"}, []string{"c"})
	for _, n := range []*testNode{a, b, c} {
		n.rep.Start()
	}
	a.tree.Announce("gone", 10)
	time.Sleep(20 * a.rep.cfg.Check)
	for _, n := range []*testNode{a, b} {
		if miss := n.tree.Missing()["gone"]; miss.Len() != 10 {
			t.Fatalf("%s gave up ticks while a member could not be asked: missing %v", n.name, miss)
		}
	}
	net.HealAll()
	waitSame(t, a, b, c)
	// One that gave up tells the others it knows those ticks (as it
	// would of superseded ones), so others need not give up all of them
	// themselves; but none gives up more than the 9 nobody holds, and
	// together they gave up all 9 (waitSame: nothing is missing).
	var most, all uint64
	for _, n := range []*testNode{a, b, c} {
		if it, ok := n.tree.Get(path.P("kept")); !ok || !it.HasValue {
			t.Fatalf("%s lacks the change only c held", n.name)
		}
		most = max(most, n.rep.Stats().Unheld)
		all += n.rep.Stats().Unheld
	}
	if most > 9 || all < 9 {
		t.Errorf("gave up at most %d ticks on one server, %d in all; want 9 nobody holds", most, all)
	}
}

// TestAcked: a peer's acknowledgement confirms the pushes it was sent on
// that connection, not changes made before the connection was up, nor
// pushes dropped when it was behind; a peer's horizon confirms all below.
func TestAcked(t *testing.T) {
	n := newFakeNet().add(t, "a", "")
	r := n.rep
	pc := &peerConn{first: 10}
	pc.dropped.AddTick(12)
	r.acked(pc, 15)
	for tick, want := range map[uint64]bool{9: false, 10: true, 11: true, 12: false, 13: true, 15: true, 16: false} {
		if got := r.Confirmed(tick); got != want {
			t.Errorf("Confirmed(%d) = %v, want %v", tick, got, want)
		}
	}
	r.acked(pc, 14) // older: changes nothing
	r.completeAt(12)
	for tick, want := range map[uint64]bool{1: true, 9: true, 12: true, 16: false} {
		if got := r.Confirmed(tick); got != want {
			t.Errorf("after the horizon, Confirmed(%d) = %v, want %v", tick, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := r.WaitConfirmed(ctx, 16); err == nil {
		t.Error("WaitConfirmed(16) returned before anyone confirmed it")
	}
	go r.acked(pc, 20)
	if err := r.WaitConfirmed(context.Background(), 16); err != nil {
		t.Error(err)
	}
}
