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
	hasRule bool
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
		n.rule, n.hasRule = r, true
	}
	a.number(a.root)
	return a, nil
}

// number gives each "#" node with children its memo index.
func (a *ACL) number(n *node) {
	if n.isHash && (n.lit != nil || n.plus != nil || n.hash != nil) {
		n.memo = a.memos
		a.memos++
	}
	for _, c := range n.lit {
		a.number(c)
	}
	if n.plus != nil {
		a.number(n.plus)
	}
	if n.hash != nil {
		a.number(n.hash)
	}
}

// Match returns the rule that decides for p, as the package
// documentation orders them; ok is false if no rule matches.
func (a *ACL) Match(p path.Path) (r Rule, ok bool) {
	if a == nil || a.root == nil {
		return Rule{}, false
	}
	m := matcher{}
	var bits *[]uint64
	if a.memos > 0 {
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
	}
	n := m.walk(a.root, p, 0)
	if bits != nil {
		a.pool.Put(bits)
	}
	if n == nil {
		return Rule{}, false
	}
	return n.rule, true
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
