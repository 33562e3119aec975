package acl

import (
	"fmt"
	"sync"

	"github.com/distkv-go/distkv/core/path"
)

// Rule grants Modes at the paths its Pattern matches.
type Rule struct {
	Pattern path.Path
	Modes   Modes
}

func (r Rule) String() string { return fmt.Sprintf("%v=%s", r.Pattern, r.Modes) }

// The wildcard elements, by their encoding.
var (
	plusEnc = path.Str("+").Encoded()
	hashEnc = path.Str("#").Encoded()
)

// ACL is a compiled set of rules. The zero ACL and nil have no rules.
type ACL struct {
	root *node
	// memos is the number of "#" nodes with children: the ones Match
	// must remember failures at.
	memos int
	pool  sync.Pool // of *[]uint64, the failure bits of one Match
}

type node struct {
	rule    Rule
	index   int // of rule, in the slice given to Compile
	hasRule bool
	below   Modes            // the modes of every rule at or below this node
	lit     map[string]*node // by element encoding
	plus    *node
	hash    *node
	isHash  bool // reached through a "#": may take more elements
	memo    int  // for a "#" node with children, its index among them; else -1
}

func newNode(isHash bool) *node { return &node{isHash: isHash, memo: -1} }

// Compile builds the ACL of rules. It refuses a pattern beyond the path
// limits, two rules with the same pattern, and modes outside AllModes.
func Compile(rules []Rule) (*ACL, error) {
	a := &ACL{root: newNode(false)}
	for i, r := range rules {
		if err := r.Pattern.Check(); err != nil {
			return nil, fmt.Errorf("acl rule %d (%v): %w", i, r.Pattern, err)
		}
		if r.Modes&^AllModes != 0 {
			return nil, fmt.Errorf("acl rule %d (%v): modes %#x outside the known ones (%s)", i, r.Pattern, uint16(r.Modes), modeLetters)
		}
		n := a.root
		for e := range r.Pattern.Elems() {
			switch enc := e.Encoded(); enc {
			case plusEnc:
				if n.plus == nil {
					n.plus = newNode(false)
				}
				n = n.plus
			case hashEnc:
				if n.hash == nil {
					n.hash = newNode(true)
				}
				n = n.hash
			default:
				c := n.lit[enc]
				if c == nil {
					if n.lit == nil {
						n.lit = make(map[string]*node)
					}
					c = newNode(false)
					n.lit[enc] = c
				}
				n = c
			}
		}
		if n.hasRule {
			return nil, fmt.Errorf("acl rule %d: pattern %v appears twice (rule %v and %v)", i, r.Pattern, n.rule, r)
		}
		n.rule, n.index, n.hasRule = r, i, true
	}
	a.number(a.root)
	return a, nil
}

// number gives each "#" node with children its memo index, and each node
// the modes of the rules at and below it.
func (a *ACL) number(n *node) Modes {
	if n.isHash && (n.lit != nil || n.plus != nil || n.hash != nil) {
		n.memo = a.memos
		a.memos++
	}
	if n.hasRule {
		n.below = n.rule.Modes
	}
	for _, c := range n.lit {
		n.below |= a.number(c)
	}
	if n.plus != nil {
		n.below |= a.number(n.plus)
	}
	if n.hash != nil {
		n.below |= a.number(n.hash)
	}
	return n.below
}

// Match returns the rule that decides for p, as the package
// documentation orders them; ok is false if no rule matches.
func (a *ACL) Match(p path.Path) (r Rule, ok bool) {
	n := a.find(p)
	if n == nil {
		return Rule{}, false
	}
	return n.rule, true
}

// MatchIndex is Match that returns the deciding rule's index in the
// rules given to Compile, for callers that keep data per rule.
func (a *ACL) MatchIndex(p path.Path) (i int, ok bool) {
	n := a.find(p)
	if n == nil {
		return -1, false
	}
	return n.index, true
}

// find returns the node of the rule that decides for p; nil if none.
func (a *ACL) find(p path.Path) *node {
	if a == nil || a.root == nil {
		return nil
	}
	m, bits := a.newMatcher(p)
	n := m.walk(a.root, p, 0)
	if bits != nil {
		a.pool.Put(bits)
	}
	return n
}

// newMatcher sets up the failure memo of one search for p; bits, if not
// nil, goes back to the pool afterwards.
func (a *ACL) newMatcher(p path.Path) (m matcher, bits *[]uint64) {
	if a.memos == 0 {
		return m, nil
	}
	m.stride = p.Len() + 1
	words := (a.memos*m.stride + 63) / 64
	bits, _ = a.pool.Get().(*[]uint64)
	if bits == nil || cap(*bits) < words {
		b := make([]uint64, words)
		bits = &b
	}
	*bits = (*bits)[:words]
	clear(*bits)
	m.failed = *bits
	return m, bits
}

// Reaches reports whether a rule that grants any of the modes want
// matches p or a path below p: false means that no rule grants them
// anywhere in p's subtree, so a walk may skip it. True does not say that
// such a rule decides anywhere (a more specific rule may win). Like
// Match, it does not allocate in the steady state.
func (a *ACL) Reaches(p path.Path, want Modes) bool {
	if a == nil || a.root == nil || a.root.below&want == 0 {
		return false
	}
	m, bits := a.newMatcher(p)
	ok := m.reach(a.root, p, 0, want)
	if bits != nil {
		a.pool.Put(bits)
	}
	return ok
}

// Allowed returns the modes the deciding rule for p grants; none if no
// rule matches.
func (a *ACL) Allowed(p path.Path) Modes {
	r, _ := a.Match(p)
	return r.Modes
}

type matcher struct {
	stride int      // path length + 1: positions per memo node
	failed []uint64 // bit memo*stride+pos: (node, pos) found no rule
}

// walk returns the first node with a rule that n, at element pos, and the
// rest of the path lead to, trying the ways in the documented order.
func (m *matcher) walk(n *node, rest path.Path, pos int) *node {
	for {
		if rest.IsRoot() {
			if n.hasRule {
				return n
			}
			return nil
		}
		if n.memo >= 0 {
			bit := n.memo*m.stride + pos
			if m.failed[bit/64]&(1<<(bit%64)) != 0 {
				return nil
			}
			// Marked on the way in: a walk that finds a rule ends the
			// search, so only failures are ever met again.
			m.failed[bit/64] |= 1 << (bit % 64)
		}
		e, next := rest.Split()
		if c := n.lit[e.Encoded()]; c != nil {
			if r := m.walk(c, next, pos+1); r != nil {
				return r
			}
		}
		if e.Kind() == path.Nil {
			return nil // no wildcard matches None
		}
		if n.plus != nil {
			if r := m.walk(n.plus, next, pos+1); r != nil {
				return r
			}
		}
		if n.hash != nil {
			if r := m.walk(n.hash, next, pos+1); r != nil {
				return r
			}
		}
		if !n.isHash {
			return nil
		}
		rest, pos = next, pos+1 // the "#" takes this element too
	}
}

// reach is walk for Reaches: it succeeds at the first node, reached with
// all of the path, whose subtree has a rule granting one of want. Every
// pattern below such a node matches some path below p (wildcards take
// ordinary string elements).
func (m *matcher) reach(n *node, rest path.Path, pos int, want Modes) bool {
	for {
		if n.below&want == 0 {
			return false
		}
		if rest.IsRoot() {
			return true
		}
		if n.memo >= 0 {
			bit := n.memo*m.stride + pos
			if m.failed[bit/64]&(1<<(bit%64)) != 0 {
				return false
			}
			m.failed[bit/64] |= 1 << (bit % 64)
		}
		e, next := rest.Split()
		if c := n.lit[e.Encoded()]; c != nil && m.reach(c, next, pos+1, want) {
			return true
		}
		if e.Kind() == path.Nil {
			return false
		}
		if n.plus != nil && m.reach(n.plus, next, pos+1, want) {
			return true
		}
		if n.hash != nil && m.reach(n.hash, next, pos+1, want) {
			return true
		}
		if !n.isHash {
			return false
		}
		rest, pos = next, pos+1
	}
}
