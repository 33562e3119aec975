package tree

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
)

func mustSet(t *testing.T, tr *Tree, p string, v string, c Cond) Result {
	t.Helper()
	res, err := tr.Set(path.P(p), v, c)
	if err != nil {
		t.Fatalf("set %s: %v", p, err)
	}
	return res
}

func TestSetGetDelete(t *testing.T) {
	tr := New(Config{Node: "a"})
	r := mustSet(t, tr, "one.two", "\x01", Cond{})
	if !r.Changed || r.HasPrev || r.Item.Head.Tick != 1 || r.Item.Tock != 1 {
		t.Fatalf("first set: %+v", r)
	}
	r = mustSet(t, tr, "one.two", "\x02", Cond{})
	if !r.Changed || r.Prev != "\x01" || r.Item.Head.Tick != 2 {
		t.Fatalf("overwrite: %+v", r)
	}
	// Same value: not changed, but a new tick, unless idem.
	r = mustSet(t, tr, "one.two", "\x02", Cond{})
	if r.Changed || r.Item.Head.Tick != 3 {
		t.Fatalf("same value: %+v", r)
	}
	r = mustSet(t, tr, "one.two", "\x02", Cond{Idem: true})
	if r.Changed || r.Item.Head.Tick != 3 {
		t.Fatalf("idem: %+v", r)
	}
	it, ok := tr.Get(path.P("one.two"))
	if !ok || !it.HasValue || it.Value != "\x02" || it.Head.Node.Name != "a" {
		t.Fatalf("get: %+v", it)
	}
	// The parent exists but holds no value.
	if it, ok := tr.Get(path.P("one")); !ok || it.HasValue {
		t.Fatalf("parent: %+v %v", it, ok)
	}
	if _, ok := tr.Get(path.P("nope")); ok {
		t.Fatal("missing entry found")
	}
	if tr.Len() != 1 {
		t.Fatalf("Len %d", tr.Len())
	}
	r, err := tr.Delete(path.P("one.two"), Cond{})
	if err != nil || !r.Changed || r.Prev != "\x02" || r.Item.HasValue || r.Item.Head.Tick != 4 {
		t.Fatalf("delete: %+v %v", r, err)
	}
	// The tombstone keeps the chain.
	if it, ok := tr.Get(path.P("one.two")); !ok || it.HasValue || it.Head.Tick != 4 {
		t.Fatalf("tombstone: %+v", it)
	}
	// Deleting again takes a new tick; deleting what never was does nothing.
	if r, _ := tr.Delete(path.P("one.two"), Cond{}); r.Changed || r.Item.Head.Tick != 5 {
		t.Fatalf("delete again: %+v", r)
	}
	if r, _ := tr.Delete(path.P("never"), Cond{}); r.Changed || r.Item.Head.Node != nil {
		t.Fatalf("delete missing: %+v", r)
	}
	if _, err := tr.Delete(path.Root, Cond{}); !errors.Is(err, ErrRoot) {
		t.Fatalf("delete root: %v", err)
	}
	if tr.Len() != 0 {
		t.Fatalf("Len %d", tr.Len())
	}
}

func TestPreconditions(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "x", "\x01", Cond{})
	cases := []struct {
		name string
		cond Cond
		want error
	}{
		{"new on existing", Cond{MustBeNew: true}, ErrExists},
		{"stale chain", Cond{Chain: &Want{Node: "a", Tick: 0}}, ErrChain},
		{"other node", Cond{Chain: &Want{Node: "b", Tick: 1}}, ErrChain},
		{"right chain", Cond{Chain: &Want{Node: "a", Tick: 1}}, nil},
		{"wrong prev", Cond{Prev: "\x07", HasPrev: true}, ErrPrev},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tr.Set(path.P("x"), "\x02", c.cond)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var ce *ConflictError
			if c.want != nil && (!errors.As(err, &ce) || ce.Path != path.P("x")) {
				t.Fatalf("not a ConflictError with the path: %v", err)
			}
		})
	}
	if _, err := tr.Set(path.P("y"), "\x01", Cond{Chain: &Want{Node: "a", Tick: 1}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("chain on a new entry: %v", err)
	}
	if _, err := tr.Set(path.P("y"), "\x01", Cond{MustBeNew: true}); err != nil {
		t.Fatalf("new: %v", err)
	}
	if _, err := tr.Set(path.P("y"), "\x03", Cond{Prev: "\x01", HasPrev: true}); err != nil {
		t.Fatalf("right prev: %v", err)
	}
}

// TestChildrenTable checks the child table against a map, through small
// and big sizes: big tables grow by draining, and lookups, inserts and
// removals in the middle of a drain must stay right.
func TestChildrenTable(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	var c children
	model := map[string]bool{}
	check := func(when string) {
		t.Helper()
		if c.n != len(model) {
			t.Fatalf("%s: n %d, want %d", when, c.n, len(model))
		}
		seen := map[string]bool{}
		for e := range c.all() {
			if seen[e.name()] || !model[e.name()] {
				t.Fatalf("%s: all() yields %s wrongly", when, e.name())
			}
			seen[e.name()] = true
		}
		if len(seen) != len(model) {
			t.Fatalf("%s: all() yields %d, want %d", when, len(seen), len(model))
		}
	}
	drains := 0
	for i := range 200000 {
		name := fmt.Sprintf("k%d", rng.IntN(30000))
		if model[name] && rng.IntN(3) == 0 {
			c.remove(name)
			delete(model, name)
		} else if !model[name] {
			c.insert(&entry{data: name, nameLen: uint32(len(name))})
			model[name] = true
		}
		if c.old != nil {
			drains++
		}
		if got := c.find(name); (got != nil) != model[name] || (got != nil && got.name() != name) {
			t.Fatalf("op %d: find(%s) disagrees with the model", i, name)
		}
		if i%9973 == 0 {
			check(fmt.Sprintf("op %d", i))
		}
	}
	check("end")
	for i := range 30000 {
		name := fmt.Sprintf("k%d", i)
		if (c.find(name) != nil) != model[name] {
			t.Fatalf("find(%s) disagrees with the model", name)
		}
	}
	if drains == 0 {
		t.Fatal("no table ever drained")
	}
	// Emptied, it stays usable.
	for name := range model {
		c.remove(name)
	}
	if c.n != 0 || c.find("k1") != nil {
		t.Fatalf("emptied: n %d", c.n)
	}
	var empty children
	empty.remove("x")
	if empty.find("x") != nil {
		t.Fatal("found in an empty table")
	}
}

// collect walks with the given batch size and returns the item paths.
func collect(tr *Tree, prefix path.Path, opt WalkOptions) []string {
	var out []string
	tr.Walk(prefix, opt, func(items []Item) bool {
		for _, it := range items {
			out = append(out, it.Path.String())
		}
		return true
	})
	return out
}

func TestWalk(t *testing.T) {
	tr := New(Config{Node: "a"})
	for _, p := range []string{":", "a", "a.b.c", "a.b.d", "e", "new.deep", "zz", "a:5", ":n.auth", "a.b.c.x"} {
		mustSet(t, tr, p, "\x01", Cond{})
	}
	tr.Delete(path.P("e"), Cond{})
	all := collect(tr, path.Root, WalkOptions{MaxDepth: -1})
	want := []string{":", ":n.auth", "a", "a:5", "a.b.c", "a.b.c.x", "a.b.d", "new.deep", "zz"}
	if !slices.Equal(all, want) {
		t.Fatalf("walk:\n got %v\nwant %v", all, want)
	}
	// Every batch size gives the same walk.
	for batch := 1; batch <= 5; batch++ {
		if got := collect(tr, path.Root, WalkOptions{MaxDepth: -1, Batch: batch}); !slices.Equal(got, want) {
			t.Fatalf("batch %d: %v", batch, got)
		}
	}
	if got := collect(tr, path.Root, WalkOptions{MaxDepth: -1, SkipSystem: true}); slices.Contains(got, ":n.auth") {
		t.Fatalf("SkipSystem: %v", got)
	}
	if got := collect(tr, path.P("a"), WalkOptions{MinDepth: 1, MaxDepth: 2, Which: All}); !slices.Equal(got, []string{"a:5", "a.b", "a.b.c", "a.b.d"}) {
		t.Fatalf("depth 1..2 with empty: %v", got)
	}
	if got := collect(tr, path.Root, WalkOptions{MaxDepth: 1, Which: Chained}); !slices.Equal(got, []string{":", "a", "e", "zz"}) {
		t.Fatalf("chained: %v", got)
	}
	if got := collect(tr, path.P("missing"), WalkOptions{MaxDepth: -1}); len(got) != 0 {
		t.Fatalf("missing prefix: %v", got)
	}
}

// TestWalkWhileChanging changes the tree between batches: every entry
// that exists throughout is reported exactly once, in order.
func TestWalkWhileChanging(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	tr := New(Config{Node: "a"})
	stable := map[string]bool{}
	for i := range 500 {
		p := fmt.Sprintf("s.k%d.v%d", i%37, i)
		mustSet(t, tr, p, "\x01", Cond{})
		stable[path.P(p).String()] = true
	}
	var got []path.Path
	tr.Walk(path.Root, WalkOptions{MaxDepth: -1, Batch: 7}, func(items []Item) bool {
		for _, it := range items {
			got = append(got, it.Path)
		}
		for range 5 { // churn: new entries and deletions of others
			mustSet(t, tr, fmt.Sprintf("s.k%d.x%d", rng.IntN(40), rng.IntN(1000)), "\x02", Cond{})
			tr.Delete(path.P(fmt.Sprintf("s.k%d.x%d", rng.IntN(40), rng.IntN(1000))), Cond{})
		}
		return true
	})
	if !slices.IsSortedFunc(got, path.Compare) {
		t.Fatal("walk not in order")
	}
	seen := map[string]int{}
	for _, p := range got {
		seen[p.String()]++
	}
	for p := range stable {
		if seen[p] != 1 {
			t.Fatalf("%s reported %d times", p, seen[p])
		}
	}
}

// TestWalkKeepsSortedChildren: a walk inside a directory that grows
// continues in the children it sorted when it entered, so writes to a big
// directory do not make every batch sort it again; what is added there
// meanwhile is not reported.
func TestWalkKeepsSortedChildren(t *testing.T) {
	tr := New(Config{Node: "a"})
	for i := range 1000 {
		mustSet(t, tr, fmt.Sprintf("d.k%04d", 2*i), "\x01", Cond{})
	}
	n, batches := 0, 0
	tr.Walk(path.P("d"), WalkOptions{MinDepth: 1, MaxDepth: -1, Batch: 10}, func(items []Item) bool {
		n += len(items)
		batches++
		// Ahead of the walk, and behind it.
		mustSet(t, tr, fmt.Sprintf("d.k%04d", 2*(n+50)+1), "\x01", Cond{})
		mustSet(t, tr, fmt.Sprintf("d.k%04d", 2*n-1), "\x01", Cond{})
		return true
	})
	if n != 1000 || batches != 100 {
		t.Fatalf("walked %d entries in %d batches, want the 1000 there at the start", n, batches)
	}
	if got := len(collect(tr, path.P("d"), WalkOptions{MinDepth: 1, MaxDepth: -1})); got != 1200 {
		t.Fatalf("a new walk sees %d entries, want 1200", got)
	}
}

// TestWalkBigDirectories: directories of sortBig children and more are
// sorted without the lock, between batches; the walk is the same, also
// while they change, and an undisturbed sort is kept for later walks.
func TestWalkBigDirectories(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	tr := New(Config{Node: "a"})
	var want []string
	for i := range 2 * sortBig {
		for _, p := range []string{fmt.Sprintf("d.k%05d", i), fmt.Sprintf("d.k%05d.x%d", i, i%3), fmt.Sprintf("e.%d", i)} {
			if _, ok := tr.Get(path.P(p)); !ok {
				mustSet(t, tr, p, "\x01", Cond{})
			}
		}
	}
	want = collect(tr, path.Root, WalkOptions{MaxDepth: -1})
	if n := len(want); n != 6*sortBig {
		t.Fatalf("%d entries", n)
	}
	for _, batch := range []int{1, 5000, 7} { // the churn last
		d := tr.lookup(path.P("d"))
		d.kids.sorted.Store(nil) // as after a change
		var got []path.Path
		tr.Walk(path.Root, WalkOptions{MaxDepth: -1, Batch: batch}, func(items []Item) bool {
			for _, it := range items {
				got = append(got, it.Path)
			}
			if batch == 7 {
				for range 2 { // churn in the big directories
					mustSet(t, tr, fmt.Sprintf("d.n%d", rng.IntN(5000)), "\x02", Cond{})
					tr.Delete(path.P(fmt.Sprintf("d.n%d", rng.IntN(5000))), Cond{})
					mustSet(t, tr, fmt.Sprintf("e.n%d", rng.IntN(5000)), "\x02", Cond{})
				}
			}
			return true
		})
		if !slices.IsSortedFunc(got, path.Compare) {
			t.Fatalf("batch %d: walk not in order", batch)
		}
		seen := map[string]int{}
		for _, p := range got {
			seen[p.String()]++
		}
		for _, p := range want {
			if seen[p] != 1 {
				t.Fatalf("batch %d: %s reported %d times", batch, p, seen[p])
			}
		}
		if batch != 7 && len(got) != len(want) {
			t.Fatalf("batch %d: %d entries, want %d", batch, len(got), len(want))
		}
		if batch != 7 && d.kids.sorted.Load() == nil {
			t.Fatalf("batch %d: the sorted children were not kept", batch)
		}
	}
}

func TestWatch(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "w.old", "\x01", Cond{})
	var seen []string
	before, cancel := tr.Watch(path.P("w"), func(it *Item) {
		seen = append(seen, fmt.Sprintf("%v=%v", it.Path, it.HasValue))
	})
	mustSet(t, tr, "w.a.b", "\x01", Cond{})
	mustSet(t, tr, "other", "\x01", Cond{})
	mustSet(t, tr, "w", "\x01", Cond{})
	tr.Delete(path.P("w.a.b"), Cond{})
	if want := []string{"w.a.b=true", "w=true", "w.a.b=false"}; !slices.Equal(seen, want) {
		t.Fatalf("seen %v", seen)
	}
	// A walk limited by the watch's tock shows only the state before it.
	if got := collect(tr, path.P("w"), WalkOptions{MaxDepth: -1, Which: Chained, Before: before}); !slices.Equal(got, []string{"w.old"}) {
		t.Fatalf("walk before: %v", got)
	}
	cancel()
	mustSet(t, tr, "w.c", "\x01", Cond{})
	if len(seen) != 3 {
		t.Fatal("cancelled watch still called")
	}
}

// TestApplyConverges feeds the same concurrent changes to trees in
// different orders: they end up identical, values and chains.
func TestApplyConverges(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	nodes := []*Tree{New(Config{Node: "a"}), New(Config{Node: "b"}), New(Config{Node: "c"})}
	var updates []Update
	for range 300 {
		src := nodes[rng.IntN(3)]
		p := path.P(fmt.Sprintf("k%d", rng.IntN(10)))
		var res Result
		if rng.IntN(4) == 0 {
			res, _ = src.Delete(p, Cond{})
		} else {
			res = mustSet(t, src, p.String(), string(rune('a'+rng.IntN(26))), Cond{})
		}
		if res.Item.Head.Node == nil {
			continue
		}
		u := Update{Path: p, Value: []byte(res.Item.Value), HasValue: res.Item.HasValue, Tock: res.Item.Tock}
		for _, l := range res.Item.Chain() {
			u.Chain = append(u.Chain, Link{Node: l.Node.Name, Tick: l.Tick})
		}
		updates = append(updates, u)
		// Sometimes a node hears of a change right away, like replication.
		if rng.IntN(2) == 0 {
			nodes[rng.IntN(3)].Apply(u)
		}
	}
	final := make([]map[string]string, 3)
	for i, n := range nodes {
		order := slices.Clone(updates)
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, u := range order {
			if _, err := n.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
		final[i] = map[string]string{}
		n.Walk(path.Root, WalkOptions{MaxDepth: -1, Which: Chained}, func(items []Item) bool {
			for _, it := range items {
				final[i][it.Path.String()] = fmt.Sprintf("%q %v %v", it.Value, it.HasValue, it.Chain())
			}
			return true
		})
	}
	for i := 1; i < 3; i++ {
		for k, v := range final[0] {
			if final[i][k] != v {
				t.Fatalf("node %d differs at %s: %s vs %s", i, k, final[i][k], v)
			}
		}
		if len(final[i]) != len(final[0]) {
			t.Fatalf("node %d has %d entries, node 0 %d", i, len(final[i]), len(final[0]))
		}
	}
}

func BenchmarkSet(b *testing.B) {
	tr := New(Config{Node: "a"})
	paths := make([]path.Path, 1000)
	for i := range paths {
		paths[i] = path.Must("bench", fmt.Sprintf("key%d", i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Set(paths[i%len(paths)], "\xa3abc", Cond{})
	}
}

func BenchmarkGet(b *testing.B) {
	tr := New(Config{Node: "a"})
	paths := make([]path.Path, 1000)
	for i := range paths {
		paths[i] = path.Must("bench", fmt.Sprintf("key%d", i))
		tr.Set(paths[i], "\xa3abc", Cond{})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Get(paths[i%len(paths)])
	}
}

// TestConcurrentWalks: walks share the read lock and the sorted-children
// cache while changes come in (run with -race).
func TestConcurrentWalks(t *testing.T) {
	tr := New(Config{Node: "a"})
	for i := range 200 {
		mustSet(t, tr, fmt.Sprintf("w.k%d", i), "\x01", Cond{})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if g == 0 {
					mustSet(t, tr, fmt.Sprintf("w.n%d", i), "\x01", Cond{})
				}
				n := 0
				tr.Walk(path.P("w"), WalkOptions{MaxDepth: -1, Batch: 16}, func(items []Item) bool {
					n += len(items)
					return true
				})
				if n < 200 {
					t.Errorf("walk saw %d entries", n)
				}
			}
		})
	}
	wg.Wait()
}

func TestAnnounceOwnTick(t *testing.T) {
	tr := New(Config{Node: "a"})
	tr.Announce("a", 40) // a peer knows our tick 40: we restarted without data
	r := mustSet(t, tr, "x", "\x01", Cond{})
	if r.Item.Head.Tick != 41 {
		t.Fatalf("tick after an announcement of our own: %d", r.Item.Head.Tick)
	}
	tr.Announce("b", 7)
	miss := tr.Missing()["b"]
	if miss.String() != "{1..7}" {
		t.Fatalf("missing: %v", miss.String())
	}
}

func TestPurgeAndDropUnconfirmed(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "x.y", "\x01", Cond{}) // a@1
	mustSet(t, tr, "x.z", "\x01", Cond{}) // a@2
	mustSet(t, tr, "w", "\x01", Cond{})   // a@3
	tr.Delete(path.P("x.y"), Cond{})      // a@4
	tr.Delete(path.P("w"), Cond{})        // a@5
	if n := tr.Purge(map[string]uint64{"a": 4}); n != 1 {
		t.Fatalf("purged %d, want 1 (only a@4 is within the horizon)", n)
	}
	if _, ok := tr.Get(path.P("x.y")); ok {
		t.Fatal("x.y is still there")
	}
	if it, ok := tr.Get(path.P("w")); !ok || it.Head.Tick != 5 {
		t.Fatal("w's tombstone went too early")
	}
	if n := tr.Purge(map[string]uint64{"b": 100}); n != 0 {
		t.Fatal("purged by another node's horizon")
	}
	tr.Purge(map[string]uint64{"a": 5})
	if _, ok := tr.Get(path.P("w")); ok {
		t.Fatal("w is still there")
	}
	if it, ok := tr.Get(path.P("x")); !ok || it.HasValue {
		t.Fatal("x, parent of x.z, must stay")
	}
	// Purged ticks stay known: nothing is missing, the tick goes on.
	if c := tr.Complete(); c["a"] != 5 {
		t.Fatalf("complete: %v", c)
	}
	if r := mustSet(t, tr, "v", "\x01", Cond{}); r.Item.Head.Tick != 6 {
		t.Fatalf("tick after purge: %d", r.Item.Head.Tick)
	}
	// After Unconfirm, what Apply touches is confirmed; DropUnconfirmed
	// removes the rest within the horizon, and empty parents with them.
	mustSet(t, tr, "x.q", "\x01", Cond{}) // a@7
	tr.Unconfirm()
	if _, err := tr.Apply(Update{Path: path.P("v"), Value: []byte("\x01"), HasValue: true,
		Chain: []Link{{Node: "a", Tick: 6}}, Tock: 6}); err != nil { // the same: stale, yet confirms v
		t.Fatal(err)
	}
	got := tr.DropUnconfirmed(map[string]uint64{"a": 6})
	if len(got) != 1 || got[0].String() != "x.z" {
		t.Fatalf("dropped %v, want x.z (v was confirmed, x.q is above the horizon)", got)
	}
	if _, ok := tr.Get(path.P("x.q")); !ok {
		t.Fatal("x.q went")
	}
	if n := len(tr.DropUnconfirmed(map[string]uint64{"a": 100})); n != 0 {
		t.Fatalf("a second call dropped %d: the marks must be gone", n)
	}
	tr.Delete(path.P("x.q"), Cond{}) // a@8, a tombstone
	tr.Purge(map[string]uint64{"a": 8})
	if _, ok := tr.Get(path.P("x")); ok {
		t.Fatal("the empty parent x stayed")
	}
	if tr.Len() != 1 {
		t.Fatalf("Len %d, want 1 (v)", tr.Len())
	}
	// Known ticks of other nodes: complete is the gap-free prefix.
	tr.Apply(Update{Path: path.P("o"), Value: []byte{1}, HasValue: true, Chain: []Link{{Node: "b", Tick: 3}}, Tock: 9})
	if c := tr.Complete(); c["b"] != 0 {
		t.Fatalf("complete with a gap: %v", c)
	}
}

// TestOwnTicksAfterRestart: a tree told that its node made higher ticks
// than it holds (a restart without all its data) does not claim them as
// seen: they are missing until found or reported superseded.
func TestOwnTicksAfterRestart(t *testing.T) {
	tr := New(Config{Node: "a"})
	tr.Announce("a", 10) // a peer saw a@10
	if _, err := tr.Set(path.P("x"), "\x01", Cond{}); err != nil {
		t.Fatal(err)
	}
	if tick, _ := tr.Ticks(); tick != 11 {
		t.Fatalf("tick %d, want 11", tick)
	}
	if k := tr.Known()["a"]; k.String() != "{11}" {
		t.Errorf("known %v, want only 11", k.String())
	}
	if m := tr.Missing()["a"]; m.String() != "{1..10}" {
		t.Errorf("missing %v, want {1..10}", m.String())
	}
	if c := tr.Complete()["a"]; c != 0 {
		t.Errorf("complete %d, want 0", c)
	}
	// Found again: one change at tick 4 comes back; the rest superseded.
	if _, err := tr.Apply(Update{Path: path.P("y"), Value: []byte("\x02"), HasValue: true, Chain: []Link{{Node: "a", Tick: 4}}}); err != nil {
		t.Fatal(err)
	}
	var rest chain.RangeSet
	rest.Add(1, 11)
	tr.MarkKnown("a", &rest)
	if m := tr.Missing()["a"]; m.Len() != 0 {
		t.Errorf("still missing %v", m.String())
	}
	if c := tr.Complete()["a"]; c != 11 {
		t.Errorf("complete %d, want 11", c)
	}
	// A tree that never restarted knows all its ticks.
	fresh := New(Config{Node: "b"})
	for range 3 {
		fresh.Set(path.P("z"), "\x01", Cond{})
	}
	if k, c := fresh.Known()["b"], fresh.Complete()["b"]; k.String() != "{1..3}" || c != 3 || fresh.Missing()["b"].Len() != 0 {
		t.Errorf("fresh: known %v, complete %d", k.String(), c)
	}
}

// Ticks and tocks beyond chain.MaxTick come from a forger or a corrupt
// file: refused everywhere they enter, so no counter wraps around to 0.
func TestForgedTicks(t *testing.T) {
	tr := New(Config{Node: "me"})
	huge := uint64(math.MaxUint64)
	var te *TickError
	if err := tr.Announce("x", huge); !errors.As(err, &te) {
		t.Errorf("Announce: %v", err)
	}
	if err := tr.Announce("me", huge); !errors.As(err, &te) {
		t.Errorf("Announce of its own: %v", err)
	}
	var rs chain.RangeSet
	rs.Add(1, huge)
	if err := tr.MarkKnown("x", &rs); !errors.As(err, &te) {
		t.Errorf("MarkKnown: %v", err)
	}
	if err := tr.SeeTock(huge); !errors.As(err, &te) {
		t.Errorf("SeeTock: %v", err)
	}
	for _, u := range []Update{
		{Path: path.P("a"), Chain: []Link{{Node: "x", Tick: huge}}, Tock: 1},
		{Path: path.P("a"), Chain: []Link{{Node: "x", Tick: 1}}, Tock: huge},
		{Path: path.P("a"), Chain: []Link{{Node: "x", Tick: 1}, {Node: "y", Tick: chain.MaxTick + 1}}, Tock: 1},
	} {
		if _, err := tr.Apply(u); !errors.As(err, &te) {
			t.Errorf("Apply %+v: %v", u, err)
		}
	}
	if tick, tock := tr.Ticks(); tick != 0 || tock != 0 || len(tr.NodeTicks()) != 1 || tr.Len() != 0 {
		t.Fatalf("after refusals: tick %d, tock %d, nodes %v, %d entries", tick, tock, tr.NodeTicks(), tr.Len())
	}
	// At the bound, still taken.
	if err := tr.Announce("x", chain.MaxTick); err != nil {
		t.Fatal(err)
	}
}

// TestDropUnconfirmedTellsWatches: an entry dropped after a resync is a
// change like a deletion for whoever watches (a mirror, the server's
// compiled users, ACLs and types), not a silent disappearance.
func TestDropUnconfirmedTellsWatches(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "x.y", "\x01", Cond{}) // a@1
	var seen []Item
	_, cancel := tr.Watch(path.P("x"), func(it *Item) { seen = append(seen, *it) })
	defer cancel()
	tr.Unconfirm()
	if got := tr.DropUnconfirmed(map[string]uint64{"a": 1}); len(got) != 1 {
		t.Fatalf("dropped %v", got)
	}
	if len(seen) != 1 || seen[0].Path.String() != "x.y" || seen[0].HasValue {
		t.Fatalf("the watch saw %+v, want the drop of x.y", seen)
	}
}
