package tree

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/path"
)

// chainOf returns the path of n nested elements of 100 bytes each.
func chainOf(n int) path.Path {
	elems := make([]any, n)
	for i := range elems {
		elems[i] = fmt.Sprintf("%03d%s", i, strings.Repeat("e", 95))
	}
	return path.Must(elems...)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDeepChainCostsItsLength: walking, purging and dropping a chain of
// n nested entries allocates O(n) bytes, not n²/2 (a path built from
// scratch for every entry). The test compares the cost per entry of a
// chain of 256 (the most elements a path has) with one of 64: four
// times the length must not cost four times as much per entry. Before
// the fix it did (and a purge, eight times: it was cubic).
func TestDeepChainCostsItsLength(t *testing.T) {
	type op struct {
		name string
		// prepare builds the tree; run is what is measured.
		prepare func(tr *Tree, leaf path.Path)
		run     func(tr *Tree, leaf path.Path)
	}
	walk := func(which Which) func(tr *Tree, leaf path.Path) {
		return func(tr *Tree, leaf path.Path) {
			n := 0
			tr.Walk(path.Root, WalkOptions{Which: which, MaxDepth: -1}, func(items []Item) bool {
				n += len(items)
				return true
			})
			if n == 0 {
				t.Fatal("an empty walk")
			}
		}
	}
	setLeaf := func(tr *Tree, leaf path.Path) { tr.Set(leaf, "\x01", Cond{}) }
	setAll := func(tr *Tree, leaf path.Path) {
		for i := 1; i <= leaf.Len(); i++ {
			tr.Set(leaf.Prefix(i), "\x01", Cond{})
		}
	}
	deleteAll := func(tr *Tree, leaf path.Path) {
		setAll(tr, leaf)
		for i := 1; i <= leaf.Len(); i++ {
			tr.Delete(leaf.Prefix(i), Cond{})
		}
	}
	ops := []op{
		{"get_tree of the leaf", setLeaf, walk(Values)},
		{"walk of every entry", setLeaf, walk(All)},
		{"walk of a value at every level", setAll, walk(Values)},
		{"purge of a tombstone at every level", deleteAll, func(tr *Tree, leaf path.Path) {
			if n := tr.Purge(map[string]uint64{"a": 1 << 20}); n != leaf.Len() {
				t.Fatalf("purged %d of %d", n, leaf.Len())
			}
		}},
		{"drop of every level", setAll, func(tr *Tree, leaf path.Path) {
			tr.Unconfirm()
			if n := len(tr.DropUnconfirmed(map[string]uint64{"a": 1 << 20})); n != leaf.Len() {
				t.Fatalf("dropped %d of %d", n, leaf.Len())
			}
		}},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			perEntry := func(n int) float64 {
				tr := New(Config{Node: "a"})
				leaf := chainOf(n)
				o.prepare(tr, leaf)
				return float64(allocated(func() { o.run(tr, leaf) })) / float64(n)
			}
			short, long := perEntry(64), perEntry(path.MaxElems)
			t.Logf("bytes per entry: %.0f for 64, %.0f for %d", short, long, path.MaxElems)
			if long > 2*short {
				t.Errorf("a chain of %d costs %.0f bytes per entry, one of 64 %.0f: the cost grows with the square of the depth", path.MaxElems, long, short)
			}
		})
	}
}

// TestWalkPausesAnywhere: a walk that releases the lock after any number
// of entries visited (the work bound) reports what a walk in one go
// reports, with prunes, depth limits and every selection.
func TestWalkPausesAnywhere(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	tr := New(Config{Node: "a"})
	var all []string
	for range 300 {
		p := ""
		for d := rng.IntN(6); d >= 0; d-- {
			p += fmt.Sprintf(".k%d", rng.IntN(3))
		}
		all = append(all, p[1:])
		mustSet(t, tr, p[1:], "\x01", Cond{})
		if rng.IntN(3) == 0 {
			tr.Delete(path.P(p[1:]), Cond{})
		}
	}
	prune := func(p path.Path) bool { return p.Len() > 1 && strings.HasSuffix(p.String(), "k2.k1") }
	for _, opt := range []WalkOptions{
		{Which: Values, MaxDepth: -1},
		{Which: Chained, MaxDepth: -1, Prune: prune},
		{Which: All, MaxDepth: 3, MinDepth: 1, Prune: prune},
	} {
		whole := func() []string {
			var out []string
			tr.walk(path.Root, opt, func(items []Item) bool {
				for _, it := range items {
					out = append(out, it.Path.String())
				}
				return true
			}, 1<<30)
			return out
		}()
		for _, visits := range []int{1, 2, 3, 7} {
			for _, batch := range []int{1, 5, 1000} {
				o := opt
				o.Batch = batch
				var got []string
				holds := tr.walk(path.Root, o, func(items []Item) bool {
					for _, it := range items {
						got = append(got, it.Path.String())
					}
					return true
				}, visits)
				if !slices.Equal(got, whole) {
					t.Fatalf("%+v, %d visits a hold: %d items\n%v\nwant %d\n%v", o, visits, len(got), got, len(whole), whole)
				}
				if batch == 1000 && holds < len(whole)/visits {
					t.Errorf("%d visits a hold, %d items: only %d holds", visits, len(whole), holds)
				}
			}
		}
	}
}

// TestWalkReleasesTheLock: a walk through many entries it does not
// report (deleted ones here) still takes the lock in short holds.
func TestWalkReleasesTheLock(t *testing.T) {
	tr := New(Config{Node: "a"})
	const n = 5 * visitsPerLock
	for i := range n {
		p := path.Must("d", i)
		tr.Set(p, "\x01", Cond{})
		tr.Delete(p, Cond{})
	}
	tr.Set(path.Must("e"), "\x01", Cond{})
	items := 0
	holds := tr.walk(path.Root, WalkOptions{Which: Values, MaxDepth: -1, Batch: 256}, func(it []Item) bool {
		items += len(it)
		return true
	}, visitsPerLock)
	if items != 1 || holds < n/visitsPerLock {
		t.Errorf("%d items in %d holds of the lock, want 1 in at least %d", items, holds, n/visitsPerLock)
	}
}

// TestWatchDeepPrefixes: a change goes to the watchers of each of its
// prefixes (looked up by watched length only), and a cancelled watch
// frees its length.
func TestWatchDeepPrefixes(t *testing.T) {
	tr := New(Config{Node: "a"})
	leaf := chainOf(path.MaxElems)
	got := map[int]int{}
	var cancels []func()
	for _, n := range []int{0, 1, 100, path.MaxElems - 1, path.MaxElems} {
		_, cancel := tr.Watch(leaf.Prefix(n), func(*Item) { got[n]++ })
		cancels = append(cancels, cancel)
	}
	// Not a prefix, but of a watched length.
	other := leaf.Prefix(99).Child(path.Str("xyz" + strings.Repeat("e", 95)))
	if len(other.Encoded()) != len(leaf.Prefix(100).Encoded()) {
		t.Fatal("the other path is not as long")
	}
	_, cancel := tr.Watch(other, func(*Item) { got[-1]++ })
	cancels = append(cancels, cancel)
	tr.Set(leaf, "\x01", Cond{})
	tr.Set(leaf.Prefix(100), "\x01", Cond{})
	if want := map[int]int{0: 2, 1: 2, 100: 2, path.MaxElems - 1: 1, path.MaxElems: 1}; !maps.Equal(got, want) {
		t.Errorf("notified %v, want %v", got, want)
	}
	for _, c := range cancels {
		c()
		c() // twice is harmless
	}
	if len(tr.watches.lens) != 0 || len(tr.watches.byPrefix) != 0 || tr.watches.n != 0 {
		t.Errorf("after cancelling: %v, %d prefixes, %d watchers", tr.watches.lens, len(tr.watches.byPrefix), tr.watches.n)
	}
}
