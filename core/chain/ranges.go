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
func (s *RangeSet) AddTick(t uint64) {
	if n := len(s.r); n > 0 && s.r[n-1].Hi == t {
		s.r[n-1].Hi++ // the common case: the next tick
		return
	}
	s.Add(t, t+1)
}

// Contains reports whether tick t is in the set.
func (s RangeSet) Contains(t uint64) bool {
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
func (s RangeSet) Ranges() []Range { return s.r }

// Len returns the number of ticks in the set.
func (s RangeSet) Len() uint64 {
	var n uint64
	for _, r := range s.r {
		n += r.Hi - r.Lo
	}
	return n
}

// Wire returns the set as the original DistKV serialises it: a list whose
// items are single ticks, or [lo, hi) pairs for longer ranges.
func (s RangeSet) Wire() []any {
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

func (s RangeSet) String() string {
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

// Clone returns a copy of s.
func (s RangeSet) Clone() RangeSet {
	return RangeSet{r: slices.Clone(s.r)}
}

// Complement returns the ticks in [lo, hi) that are not in s.
func (s RangeSet) Complement(lo, hi uint64) RangeSet {
	var out RangeSet
	next := lo
	for _, r := range s.r {
		if r.Hi <= next {
			continue
		}
		if r.Lo >= hi {
			break
		}
		if r.Lo > next {
			out.Add(next, r.Lo)
		}
		next = max(next, r.Hi)
	}
	if next < hi {
		out.Add(next, hi)
	}
	return out
}

// Intersect returns the ticks in both s and o.
func (s RangeSet) Intersect(o RangeSet) RangeSet {
	var out RangeSet
	i, j := 0, 0
	for i < len(s.r) && j < len(o.r) {
		lo, hi := max(s.r[i].Lo, o.r[j].Lo), min(s.r[i].Hi, o.r[j].Hi)
		if lo < hi {
			out.Add(lo, hi)
		}
		if s.r[i].Hi < o.r[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// FromWire reads a set in the form Wire writes: single ticks and
// [lo, hi) pairs, as decoded into the value model of package pack.
func FromWire(items []any) (RangeSet, error) {
	var s RangeSet
	num := func(v any) (uint64, bool) {
		switch v := v.(type) {
		case int64:
			return uint64(v), v >= 0
		case uint64:
			return v, true
		}
		return 0, false
	}
	for _, it := range items {
		if t, ok := num(it); ok {
			s.AddTick(t)
			continue
		}
		pair, ok := it.([]any)
		if !ok || len(pair) != 2 {
			return s, fmt.Errorf("a tick range is a tick or a [lo, hi) pair, not %v", it)
		}
		lo, ok1 := num(pair[0])
		hi, ok2 := num(pair[1])
		if !ok1 || !ok2 || lo > hi {
			return s, fmt.Errorf("bad tick range %v", it)
		}
		s.Add(lo, hi)
	}
	return s, nil
}
