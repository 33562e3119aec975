package tree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distkv-go/distkv/core/path"
)

// pruner prunes what prune says, and fails the test when it is asked
// about a path inside a subtree it pruned (the walk went in after all).
type pruner struct {
	t      *testing.T
	prune  func(path.Path) bool
	pruned map[path.Path]bool
}

func (pr *pruner) fn(p path.Path) bool {
	for i := range p.Len() {
		if pr.pruned[p.Prefix(i)] {
			pr.t.Errorf("asked about %v inside the pruned %v", p, p.Prefix(i))
		}
	}
	if pr.prune(p) {
		pr.pruned[p] = true
		return true
	}
	return false
}

// prunedModel is a walk filtered afterwards: the paths without a pruned
// prefix (themselves included).
func prunedModel(all []string, prune func(path.Path) bool) []string {
	var out []string
	for _, s := range all {
		p := path.P(s)
		keep := true
		for i := range p.Len() + 1 {
			if prune(p.Prefix(i)) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

func TestWalkPrune(t *testing.T) {
	tr := New(Config{Node: "a"})
	for _, p := range []string{":", "a", "a.b.c", "a.b.d", "a.bb", "e", "new.deep", "zz", "a:5", ":n.auth", ":n", "a.b.c.x"} {
		mustSet(t, tr, p, "\x01", Cond{})
	}
	is := func(ps ...string) func(path.Path) bool {
		return func(p path.Path) bool {
			return slices.Contains(ps, p.String())
		}
	}
	cases := []struct {
		name   string
		prefix string
		opt    WalkOptions
		prune  func(path.Path) bool
		want   []string
	}{
		{"nothing", ":", WalkOptions{MaxDepth: -1}, is(),
			[]string{":", ":n", ":n.auth", "a", "a:5", "a.b.c", "a.b.c.x", "a.b.d", "a.bb", "e", "new.deep", "zz"}},
		{"a subtree", ":", WalkOptions{MaxDepth: -1}, is("a.b"),
			[]string{":", ":n", ":n.auth", "a", "a:5", "a.bb", "e", "new.deep", "zz"}},
		{"an entry without a value", ":", WalkOptions{MaxDepth: -1}, is("new"),
			[]string{":", ":n", ":n.auth", "a", "a:5", "a.b.c", "a.b.c.x", "a.b.d", "a.bb", "e", "zz"}},
		{"leaves and a subtree", ":", WalkOptions{MaxDepth: -1}, is("a.b.c.x", "a.b.d", "zz", ":n"),
			[]string{":", "a", "a:5", "a.b.c", "a.bb", "e", "new.deep"}},
		{"the prefix", "a", WalkOptions{MaxDepth: -1}, is("a"), nil},
		{"the root", ":", WalkOptions{MaxDepth: -1}, is(":"), nil},
		{"below a prefix", "a", WalkOptions{MaxDepth: -1, MinDepth: 1}, is("a.b.c"),
			[]string{"a:5", "a.b.d", "a.bb"}},
		{"all, within depth", ":", WalkOptions{MaxDepth: 2, Which: All}, is("a.b", "new"),
			[]string{":", ":n", ":n.auth", "a", "a:5", "a.bb", "e", "zz"}},
		{"with SkipSystem", ":", WalkOptions{MaxDepth: -1, SkipSystem: true}, is("a"),
			[]string{":", "e", "new.deep", "zz"}},
		{"SkipSystem below the root", ":n", WalkOptions{MaxDepth: -1, SkipSystem: true}, is(":n.auth"),
			[]string{":n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for batch := 1; batch <= 6; batch++ {
				pr := &pruner{t: t, prune: c.prune, pruned: map[path.Path]bool{}}
				opt := c.opt
				opt.Batch, opt.Prune = batch, pr.fn
				if got := collect(tr, path.P(c.prefix), opt); !slices.Equal(got, c.want) {
					t.Fatalf("batch %d:\n got %v\nwant %v", batch, got, c.want)
				}
			}
		})
	}
}

// TestWalkPruneBigDirectories prunes at random in directories big
// enough to be sorted between batches, with batches of all sizes: the
// walk is the full walk without the pruned subtrees, and it never asks
// about a path inside one, across batch boundaries too.
func TestWalkPruneBigDirectories(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	tr := New(Config{Node: "a"})
	for i := range 2 * sortBig {
		mustSet(t, tr, fmt.Sprintf("d.k%05d", i), "\x01", Cond{})
		for j := range i % 4 {
			mustSet(t, tr, fmt.Sprintf("d.k%05d.x%d", i, j), "\x01", Cond{})
		}
		mustSet(t, tr, fmt.Sprintf("e.k%05d", i), "\x01", Cond{})
	}
	all := collect(tr, path.Root, WalkOptions{MaxDepth: -1, Which: All})
	for _, batch := range []int{1, 2, 7, 100, 5000} {
		// A random set of entries to prune, the same whenever asked.
		doomed := map[path.Path]bool{}
		for _, s := range all {
			if rng.IntN(5) == 0 {
				doomed[path.P(s)] = true
			}
		}
		delete(doomed, path.Root)
		delete(doomed, path.P("d")) // the big directories stay to be sorted
		delete(doomed, path.P("e"))
		prune := func(p path.Path) bool { return doomed[p] }
		for _, d := range []string{"d", "e"} {
			tr.lookup(path.P(d)).kids.sorted.Store(nil) // as after a change
		}
		pr := &pruner{t: t, prune: prune, pruned: map[path.Path]bool{}}
		got := collect(tr, path.Root, WalkOptions{MaxDepth: -1, Which: All, Batch: batch, Prune: pr.fn})
		if want := prunedModel(all, prune); !slices.Equal(got, want) {
			t.Fatalf("batch %d: %d entries, want %d", batch, len(got), len(want))
		}
	}
}

// benchTree holds 100 directories of 100 values, and a system subtree.
func benchTree(b *testing.B) *Tree {
	tr := New(Config{Node: "a"})
	for i := range 100 {
		for j := range 100 {
			tr.Set(path.Must("d", i, j), "\x01", Cond{})
		}
		tr.Set(path.Must(nil, "sys", i), "\x01", Cond{})
	}
	return tr
}

func benchWalk(b *testing.B, prefix path.Path, opt WalkOptions) {
	tr := benchTree(b)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		tr.Walk(prefix, opt, func(items []Item) bool {
			n += len(items)
			return true
		})
		if n == 0 {
			b.Fatal("empty walk")
		}
	}
}

func BenchmarkWalk(b *testing.B) {
	for _, c := range []struct {
		name   string
		prefix path.Path
		opt    WalkOptions
	}{
		{"root", path.Root, WalkOptions{MaxDepth: -1}},
		{"root-skipsystem", path.Root, WalkOptions{MaxDepth: -1, SkipSystem: true}},
		{"prefix", path.P("d"), WalkOptions{MaxDepth: -1}},
	} {
		b.Run(c.name, func(b *testing.B) { benchWalk(b, c.prefix, c.opt) })
	}
}
