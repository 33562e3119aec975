package acl_test

import (
	"slices"
	"testing"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/path"
)

// fuzzElems is the alphabet of the fuzz target's patterns and paths:
// few elements, so that rules and paths meet often.
var fuzzElems = []path.Elem{path.Str("a"), path.Str("b"), path.Str("+"), path.Str("#"), path.Must(nil).Last(), path.Str("c")}

// The ranks of the ways one path element is matched, in the documented
// order.
const (
	rankLiteral = iota
	rankPlus
	rankHashStart
	rankHashMore
)

// refWays returns every way pat matches p, as rank sequences: the
// original's NodeFinder spelled out rule by rule. more: the pattern
// element before was a "#" that may take more elements.
func refWays(pat, p []path.Elem, more bool) [][]int {
	if len(p) == 0 {
		if len(pat) == 0 {
			return [][]int{{}}
		}
		return nil
	}
	var ways [][]int
	add := func(rank int, rest [][]int) {
		for _, w := range rest {
			ways = append(ways, append([]int{rank}, w...))
		}
	}
	e := p[0]
	wild := func(s string) bool { return len(pat) > 0 && pat[0] == path.Str(s) }
	if len(pat) > 0 && !wild("+") && !wild("#") && pat[0] == e {
		add(rankLiteral, refWays(pat[1:], p[1:], false))
	}
	if e.Kind() == path.Nil {
		return ways
	}
	if wild("+") {
		add(rankPlus, refWays(pat[1:], p[1:], false))
	}
	if wild("#") {
		add(rankHashStart, refWays(pat[1:], p[1:], true))
	}
	if more {
		add(rankHashMore, refWays(pat, p[1:], true))
	}
	return ways
}

// refReaches reports whether pat matches p followed by some more
// elements (or none): refWays with the path allowed to end early.
func refReaches(pat, p []path.Elem, more bool) bool {
	if len(p) == 0 {
		return true // the rest of the pattern matches ordinary strings
	}
	e := p[0]
	wild := func(s string) bool { return len(pat) > 0 && pat[0] == path.Str(s) }
	if len(pat) > 0 && !wild("+") && !wild("#") && pat[0] == e && refReaches(pat[1:], p[1:], false) {
		return true
	}
	if e.Kind() == path.Nil {
		return false
	}
	return wild("+") && refReaches(pat[1:], p[1:], false) ||
		wild("#") && refReaches(pat[1:], p[1:], true) ||
		more && refReaches(pat, p[1:], true)
}

// refMatch tries every rule and sorts the matching ones by their most
// specific way.
func refMatch(rules []acl.Rule, p path.Path) (acl.Rule, bool) {
	pe := slices.Collect(p.Elems())
	var best []int
	var bestRule acl.Rule
	for _, r := range rules {
		for _, w := range refWays(slices.Collect(r.Pattern.Elems()), pe, false) {
			if best == nil || slices.Compare(w, best) < 0 {
				best, bestRule = w, r
			}
		}
	}
	return bestRule, best != nil
}

// FuzzMatch: Match never panics and agrees with refMatch; MatchIndex
// names the same rule; Reaches agrees with refReaches. The input
// spells rules and a path in fuzzElems: each byte below 0xf0 is an
// element (mod len(fuzzElems)), 0xf0-0xfe end a rule whose modes are the
// low bits, 0xff ends the rules; what follows is the path.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 3, 0xf1, 0, 2, 5, 0xf2, 2, 1, 5, 0xf3, 0, 1, 2, 0xf4, 0xff, 0, 1, 5})
	f.Add([]byte{3, 0, 3, 0xf1, 3, 0xf2, 0xff, 0, 0, 0, 1})
	f.Add([]byte{4, 3, 0xf1, 2, 0xf2, 0xf3, 0xff, 4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rules []acl.Rule
		var cur []path.Elem
		seen := map[path.Path]bool{}
		i := 0
		for ; i < len(data) && data[i] != 0xff; i++ {
			c := data[i]
			if c < 0xf0 {
				if len(cur) < 8 {
					cur = append(cur, fuzzElems[int(c)%len(fuzzElems)])
				}
				continue
			}
			pat := path.Must(elemsAny(cur)...)
			cur = nil
			if seen[pat] || len(rules) >= 16 {
				continue
			}
			seen[pat] = true
			rules = append(rules, acl.Rule{Pattern: pat, Modes: acl.Modes(c & 0x0f)})
		}
		var pe []path.Elem
		for _, c := range data[min(i+1, len(data)):] {
			if len(pe) < 10 {
				pe = append(pe, fuzzElems[int(c)%len(fuzzElems)])
			}
		}
		p := path.Must(elemsAny(pe)...)
		a, err := acl.Compile(rules)
		if err != nil {
			t.Fatalf("Compile(%v): %v", rules, err)
		}
		got, gotOK := a.Match(p)
		want, wantOK := refMatch(rules, p)
		if got != want || gotOK != wantOK {
			t.Fatalf("rules %v, path %v: Match = %v %v, reference %v %v", rules, p, got, gotOK, want, wantOK)
		}
		if i, ok := a.MatchIndex(p); ok != gotOK || ok && rules[i] != got {
			t.Fatalf("rules %v, path %v: MatchIndex = %d %v, Match = %v", rules, p, i, ok, got)
		}
		for _, m := range []acl.Modes{acl.ModeRead, acl.ModeWrite, acl.ModeRead | acl.ModeCreate} {
			ref := false
			for _, r := range rules {
				if r.Modes&m != 0 && refReaches(slices.Collect(r.Pattern.Elems()), pe, false) {
					ref = true
				}
			}
			if got := a.Reaches(p, m); got != ref {
				t.Fatalf("rules %v, path %v: Reaches(%v) = %v, reference %v", rules, p, m, got, ref)
			}
		}
	})
}

func elemsAny(es []path.Elem) []any {
	out := make([]any, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
