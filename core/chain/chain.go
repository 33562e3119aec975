// Package chain implements change chains: which server changed an entry,
// at which of its ticks, and what that change replaced.
//
// Every server (node) counts its own changes with a tick. An entry's chain
// lists the changes that led to its current value, newest first, each node
// at most once, bounded in length. Two chains are ordered by descent: a
// chain descends from another when it holds the other's newest change (or a
// later one of the same node). Concurrent changes — neither descends from
// the other — are a conflict, which every node resolves the same way.
package chain

import (
	"fmt"
	"strings"
)

// Node is a server, interned by a Registry so that links can point to it.
// Its fields are immutable.
type Node struct {
	Name string
}

func (n *Node) String() string { return n.Name }

// Registry interns nodes by name. It is not safe for concurrent use; its
// owner (the tree) guards it.
type Registry struct {
	nodes map[string]*Node
}

// Node returns the node called name, creating it on first use.
func (r *Registry) Node(name string) *Node {
	if n, ok := r.nodes[name]; ok {
		return n
	}
	if r.nodes == nil {
		r.nodes = make(map[string]*Node)
	}
	n := &Node{Name: name}
	r.nodes[name] = n
	return n
}

// Lookup returns the node called name, if it is known.
func (r *Registry) Lookup(name string) (*Node, bool) {
	n, ok := r.nodes[name]
	return n, ok
}

// All returns every known node.
func (r *Registry) All() []*Node {
	out := make([]*Node, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, n)
	}
	return out
}

// MaxTick bounds every tick and tock a server takes from elsewhere (a
// peer, a file): no honest server gets near it (its ticks start at the
// clock in microseconds, see core/server, and count up by one per change:
// 2^62 is reached in the year 148,000), so a larger one is forged or
// corrupt. Refusing it keeps counters from wrapping around to 0.
const MaxTick = 1 << 62

// Link is one change: the node that made it and that node's tick.
type Link struct {
	Node *Node
	Tick uint64
}

func (l Link) String() string { return fmt.Sprintf("%s@%d", l.Node.Name, l.Tick) }

// Chain is a list of links, newest first. A Chain is immutable once built:
// functions here return new chains and never modify their arguments.
type Chain []Link

// Head returns the newest link; ok is false for an empty chain.
func (c Chain) Head() (l Link, ok bool) {
	if len(c) == 0 {
		return Link{}, false
	}
	return c[0], true
}

// TickOf returns the tick of node's link in c.
func (c Chain) TickOf(n *Node) (uint64, bool) {
	for _, l := range c {
		if l.Node == n {
			return l.Tick, true
		}
	}
	return 0, false
}

// Extend returns the chain of a new change by n at tick: n's link first,
// followed by c without n's old link, cut to max links.
func (c Chain) Extend(n *Node, tick uint64, max int) Chain {
	out := make(Chain, 0, min(len(c)+1, max))
	out = append(out, Link{Node: n, Tick: tick})
	for _, l := range c {
		if len(out) >= max {
			break
		}
		if l.Node != n {
			out = append(out, l)
		}
	}
	return out
}

// Equal reports whether the chains hold the same links.
func (c Chain) Equal(d Chain) bool {
	if len(c) != len(d) {
		return false
	}
	for i := range c {
		if c[i] != d[i] {
			return false
		}
	}
	return true
}

func (c Chain) String() string {
	var sb strings.Builder
	for i, l := range c {
		if i > 0 {
			sb.WriteString(" < ")
		}
		sb.WriteString(l.String())
	}
	return sb.String()
}

// Relation is how an incoming chain relates to the one an entry has.
type Relation int

// The relations Compare reports.
const (
	Same     Relation = iota // the same newest change
	Older                    // the entry already holds the incoming change or a later one: ignore it
	Newer                    // the incoming chain descends from the entry's: apply it
	Conflict                 // concurrent changes: resolve with Wins
)

var relationNames = [...]string{"same", "older", "newer", "conflict"}

func (r Relation) String() string { return relationNames[r] }

// Compare tells how the incoming chain in relates to an entry's chain
// have. An empty have (an entry never set) is older than anything.
func Compare(have, in Chain) Relation {
	ih, ok := in.Head()
	if !ok {
		return Older
	}
	hh, ok := have.Head()
	if !ok {
		return Newer
	}
	if hh == ih {
		return Same
	}
	if t, ok := have.TickOf(ih.Node); ok && t >= ih.Tick {
		return Older
	}
	if t, ok := in.TickOf(hh.Node); ok && t >= hh.Tick {
		return Newer
	}
	return Conflict
}

// Wins decides a conflict between the entry's change (tock haveTock,
// chain have) and an incoming one: the higher tock wins, and equal tocks
// go to the change whose newest node name sorts last. Every node decides
// the same way.
func Wins(haveTock uint64, have Chain, inTock uint64, in Chain) bool {
	if inTock != haveTock {
		return inTock > haveTock
	}
	hh, _ := have.Head()
	ih, _ := in.Head()
	if ih.Node.Name != hh.Node.Name {
		return ih.Node.Name > hh.Node.Name
	}
	return ih.Tick > hh.Tick
}
