package chain

import (
	"math/rand/v2"
	"testing"
)

func TestExtendAndCompare(t *testing.T) {
	var reg Registry
	a, b, c := reg.Node("a"), reg.Node("b"), reg.Node("c")
	if reg.Node("a") != a {
		t.Fatal("registry does not intern")
	}
	var empty Chain
	c1 := empty.Extend(a, 1, 5) // a@1
	c2 := c1.Extend(b, 1, 5)    // b@1 < a@1
	c3 := c2.Extend(a, 2, 5)    // a@2 < b@1
	c4 := c2.Extend(c, 7, 2)    // c@7 < b@1 (cut to 2)
	c2x := c1.Extend(c, 1, 5)   // c@1 < a@1: concurrent with c2
	if c3.String() != "a@2 < b@1" || c4.String() != "c@7 < b@1" {
		t.Fatalf("extend: %v / %v", c3, c4)
	}
	cases := []struct {
		have, in Chain
		want     Relation
	}{
		{empty, c1, Newer},
		{c1, empty, Older},
		{c1, c1, Same},
		{c1, c2, Newer},
		{c2, c1, Older},
		{c3, c2, Older},
		{c2, c3, Newer},
		{c1, c3, Newer},
		{c2, c2x, Conflict},
		{c2x, c2, Conflict},
		{c4, c3, Conflict},
	}
	for i, tc := range cases {
		if got := Compare(tc.have, tc.in); got != tc.want {
			t.Errorf("case %d: Compare(%v, %v) = %v, want %v", i, tc.have, tc.in, got, tc.want)
		}
	}
	// Conflicts: the higher tock wins; equal tocks go to the later node name;
	// both sides agree.
	if !Wins(5, c2, 6, c2x) || Wins(6, c2x, 5, c2) {
		t.Error("tock does not decide")
	}
	if Wins(5, c2, 5, c2x) == Wins(5, c2x, 5, c2) {
		t.Error("equal tocks: both sides must agree on one winner")
	}
}

func TestRangeSet(t *testing.T) {
	var s RangeSet
	model := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		lo := rng.Uint64N(300)
		hi := lo + rng.Uint64N(5)
		s.Add(lo, hi)
		for x := lo; x < hi; x++ {
			model[x] = true
		}
	}
	for x := uint64(0); x < 320; x++ {
		if s.Contains(x) != model[x] {
			t.Fatalf("Contains(%d) = %v", x, s.Contains(x))
		}
	}
	rs := s.Ranges()
	for i := 1; i < len(rs); i++ {
		if rs[i-1].Hi >= rs[i].Lo {
			t.Fatalf("ranges overlap or touch: %v", s.String())
		}
	}
	if s.Len() != uint64(len(model)) {
		t.Fatalf("Len %d, want %d", s.Len(), len(model))
	}
	var w RangeSet
	w.AddTick(1)
	w.Add(3, 6)
	got := w.Wire()
	if len(got) != 2 || got[0] != uint64(1) {
		t.Fatalf("wire: %#v", got)
	}
}

func TestRangeSetOps(t *testing.T) {
	var a, b RangeSet
	a.Add(1, 5)
	a.Add(8, 10)
	b.Add(3, 9)
	if got := a.Complement(0, 12); got.String() != "{0,5..7,10..11}" {
		t.Errorf("complement: %v", got.String())
	}
	if got := a.Intersect(b); got.String() != "{3..4,8}" {
		t.Errorf("intersect: %v", got.String())
	}
	back, err := FromWire([]any{uint64(1), []any{int64(3), int64(6)}})
	if err != nil || back.String() != "{1,3..5}" {
		t.Errorf("from wire: %v %v", back.String(), err)
	}
	for _, bad := range [][]any{{"x"}, {[]any{int64(5), int64(2)}}, {[]any{int64(1)}}, {int64(-1)}} {
		if _, err := FromWire(bad); err == nil {
			t.Errorf("FromWire(%v) accepted", bad)
		}
	}
	c := a.Clone()
	c.AddTick(20)
	if a.Contains(20) {
		t.Error("Clone shares memory")
	}
}
