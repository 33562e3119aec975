package tree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/distkv-go/distkv/core/path"
)

// walkStats counts what Stats keeps running counts of, the slow way.
func walkStats(tr *Tree) Stats {
	var st Stats
	tr.Walk(path.Root, WalkOptions{Which: Values, MaxDepth: -1}, func(items []Item) bool {
		for _, it := range items {
			st.Values++
			st.Bytes += int64(len(it.Value))
		}
		return true
	})
	for _, rs := range tr.Missing() {
		st.Missing += rs.Len()
	}
	return st
}

// TestStatsMatchWalk changes a tree at random (sets, deletes, updates from
// another node, purges) and checks Stats against a walk after each step.
func TestStatsMatchWalk(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	tr := New(Config{Node: "a"})
	var ticksB uint64
	for i := range 2000 {
		p := path.P(fmt.Sprintf("k%d.s%d", rng.IntN(20), rng.IntN(3)))
		v := string(make([]byte, 1+rng.IntN(40)))
		var err error
		switch op := rng.IntN(10); {
		case op < 5:
			_, err = tr.Set(p, v, Cond{})
		case op < 7:
			_, err = tr.Delete(p, Cond{})
		case op < 9:
			ticksB += 1 + uint64(rng.IntN(3)) // leaves gaps: missing ticks of b
			_, err = tr.Apply(Update{Path: p, Value: []byte(v), HasValue: op == 7, Chain: []Link{{Node: "b", Tick: ticksB}}, Tock: tr.Tock() + 1})
		default:
			tr.Purge(map[string]uint64{"a": tr.tick, "b": ticksB})
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got, want := tr.Stats(), walkStats(tr); got != want {
			t.Fatalf("step %d: Stats() = %+v, a walk finds %+v", i, got, want)
		}
	}
}
