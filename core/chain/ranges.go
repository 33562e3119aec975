package chain

import (
	"fmt"
	"slices"
	"strings"
)

// Range is the half-open tick interval [Lo, Hi).
type Range struct{ Lo, Hi uint64 }

// RangeSet is a set of ticks kept as sorted, disjoint, non-adjacent ranges.
// The zero RangeSet is empty. Not safe for concurrent use.
type RangeSet struct {
	r []Range
}

// Add inserts the ticks [lo, hi).
func (s *RangeSet) Add(lo, hi uint64) {
	if lo >= hi {
		return
	}
	// First range that ends at or after lo (touching ranges merge).
	i, _ := slices.BinarySearchFunc(s.r, lo, func(r Range, t uint64) int {
		if r.Hi < t {
			return -1
		}
		return 1
	})
	j := i
	for j < len(s.r) && s.r[j].Lo <= hi {
		lo = min(lo, s.r[j].Lo)
		hi = max(hi, s.r[j].Hi)
		j++
	}
	s.r = slices.Replace(s.r, i, j, Range{lo, hi})
}

// AddTick inserts one tick.
func (s *RangeSet) AddTick(t uint64) { s.Add(t, t+1) }

// Contains reports whether tick t is in the set.
func (s *RangeSet) Contains(t uint64) bool {
	_, found := slices.BinarySearchFunc(s.r, t, func(r Range, t uint64) int {
		switch {
		case r.Hi <= t:
			return -1
		case r.Lo > t:
			return 1
		}
		return 0
	})
	return found
}

// Ranges returns the ranges in order (shared; do not modify).
func (s *RangeSet) Ranges() []Range { return s.r }

// Len returns the number of ticks in the set.
func (s *RangeSet) Len() uint64 {
	var n uint64
	for _, r := range s.r {
		n += r.Hi - r.Lo
	}
	return n
}

// Wire returns the set as the original DistKV serialises it: a list whose
// items are single ticks, or [lo, hi) pairs for longer ranges.
func (s *RangeSet) Wire() []any {
	out := make([]any, 0, len(s.r))
	for _, r := range s.r {
		if r.Hi == r.Lo+1 {
			out = append(out, r.Lo)
		} else {
			out = append(out, []any{r.Lo, r.Hi})
		}
	}
	return out
}

func (s *RangeSet) String() string {
	parts := make([]string, len(s.r))
	for i, r := range s.r {
		if r.Hi == r.Lo+1 {
			parts[i] = fmt.Sprint(r.Lo)
		} else {
			parts[i] = fmt.Sprintf("%d..%d", r.Lo, r.Hi-1)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}
