package tree

import (
	"hash/maphash"
	"iter"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
)

// entry is one node of the tree. It is 64 bytes: the name and the value
// share one string, the newest chain link is inline, and children live in
// a table of pointers, so a million small entries fit in about 110 MB.
type entry struct {
	data    string // name encoding, then the raw msgpack value (if any)
	nameLen uint32
	flags   uint32
	node    *chain.Node  // newest link of the chain; nil: never set
	tick    uint64       // its tick
	prev    *chain.Chain // older links; nil if none
	tock    uint64
	kids    *children
}

// Entry flags.
const (
	hasValue    = 1 << 0
	unconfirmed = 1 << 1 // see Tree.Unconfirm
)

func (e *entry) name() string { return e.data[:e.nameLen] }

func (e *entry) elem() path.Elem { return path.ElemFromEncoded(e.name()) }

func (e *entry) value() (string, bool) {
	return e.data[e.nameLen:], e.flags&hasValue != 0
}

func (e *entry) setValue(v string, ok bool) {
	if ok {
		e.data = e.name() + v
		e.flags |= hasValue
	} else {
		e.data = e.name()
		e.flags &^= hasValue
	}
}

// chained reports whether the entry was ever set (it has a chain).
func (e *entry) chained() bool { return e.node != nil }

func (e *entry) head() chain.Link { return chain.Link{Node: e.node, Tick: e.tick} }

func (e *entry) older() chain.Chain {
	if e.prev == nil {
		return nil
	}
	return *e.prev
}

// chain returns the full chain (allocates).
func (e *entry) chain() chain.Chain {
	if e.node == nil {
		return nil
	}
	return append(chain.Chain{e.head()}, e.older()...)
}

func (e *entry) setChain(c chain.Chain) {
	if len(c) == 0 {
		e.node, e.tick, e.prev = nil, 0, nil
		return
	}
	e.node, e.tick = c[0].Node, c[0].Tick
	if len(c) > 1 {
		rest := slices.Clip(c[1:])
		e.prev = &rest
	} else {
		e.prev = nil
	}
}

// children is an open-addressing hash table of entries keyed by name,
// with linear probing. Each slot has a control byte: 0 when empty, else
// 0x80 | 7 bits of the name's hash, so a probe compares names only when
// those bits match and rarely touches an entry it does not want. A sorted
// list is built on demand for walks and cached until the set changes.
//
// A big table grows incrementally: the entries move from the old table to
// the new one a few slots per insert, so that no single change rehashes a
// million names under the write lock (half a second). Until then lookups
// look in both.
type children struct {
	ctrl   []byte
	slots  []*entry                 // len is a power of two, as for ctrl
	n      int                      // entries, in both tables while one drains
	gen    uint64                   // counts inserts and removals
	old    *drain                   // the table being moved into this one; nil: none
	sorted atomic.Pointer[[]*entry] // built by walks under the read lock
}

// drain is a table whose entries move to a bigger one. A moved or removed
// entry leaves ctrl moved, so probes for the others go on past it.
type drain struct {
	ctrl  []byte
	slots []*entry
	next  int // slots before next have moved
}

const (
	moved = 1 // ctrl of a drained slot (never a tag: tags have the top bit)
	// growAtOnce is the table size up to which a table grows in one go.
	growAtOnce = 1024
	// drainStep is how many old slots each insert moves: the old table
	// empties long before the new one fills up.
	drainStep = 8
)

var seed = maphash.MakeSeed()

func hashName(name string) (h uint64, tag byte) {
	h = maphash.String(seed, name)
	return h, byte(h>>57) | 0x80
}

// probe returns the slot of name in a table, or -1.
func probe(ctrl []byte, slots []*entry, name string, h uint64, tag byte) int {
	mask := uint64(len(slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch ctrl[i] {
		case 0:
			return -1
		case tag:
			if slots[i].name() == name {
				return int(i)
			}
		}
	}
}

func (c *children) find(name string) *entry {
	if c == nil || c.n == 0 {
		return nil
	}
	h, tag := hashName(name)
	mask := uint64(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch c.ctrl[i] {
		case 0:
			if d := c.old; d != nil {
				if j := probe(d.ctrl, d.slots, name, h, tag); j >= 0 {
					return d.slots[j]
				}
			}
			return nil
		case tag:
			if e := c.slots[i]; e.name() == name {
				return e
			}
		}
	}
}

func (c *children) insert(e *entry) {
	if c.old != nil {
		c.drainSome(drainStep)
	}
	if (c.n+1)*4 > len(c.slots)*3 {
		c.grow()
	}
	c.put(e)
	c.n++
	c.gen++
	c.sorted.Store(nil)
}

func (c *children) put(e *entry) {
	h, tag := hashName(e.name())
	mask := uint64(len(c.slots) - 1)
	i := h & mask
	for c.ctrl[i] != 0 {
		i = (i + 1) & mask
	}
	c.ctrl[i], c.slots[i] = tag, e
}

// grow doubles the table: at once while it is small, else by starting to
// drain the current one into the new one.
func (c *children) grow() {
	if c.old != nil {
		c.drainSome(len(c.old.slots)) // not expected: drainStep keeps ahead
	}
	oldCtrl, oldSlots := c.ctrl, c.slots
	size := 4
	if len(oldSlots) > 0 {
		size = len(oldSlots) * 2
	}
	c.ctrl = make([]byte, size)
	c.slots = make([]*entry, size)
	if len(oldSlots) < growAtOnce {
		for _, e := range oldSlots {
			if e != nil {
				c.put(e)
			}
		}
		return
	}
	c.old = &drain{ctrl: oldCtrl, slots: oldSlots}
}

// drainSome moves the entries of up to k slots of the old table.
func (c *children) drainSome(k int) {
	d := c.old
	for end := min(d.next+k, len(d.slots)); d.next < end; d.next++ {
		if e := d.slots[d.next]; e != nil {
			c.put(e)
			d.ctrl[d.next], d.slots[d.next] = moved, nil
		}
	}
	if d.next == len(d.slots) {
		c.old = nil
	}
}

// remove deletes the child called name: in the current table shifting
// later probes back, so that lookups stay correct without tombstones; in
// a draining one leaving a moved mark.
func (c *children) remove(name string) {
	if c.n == 0 {
		return
	}
	h, tag := hashName(name)
	idx := probe(c.ctrl, c.slots, name, h, tag)
	if idx < 0 {
		if d := c.old; d != nil {
			if j := probe(d.ctrl, d.slots, name, h, tag); j >= 0 {
				d.ctrl[j], d.slots[j] = moved, nil
				c.n--
				c.gen++
				c.sorted.Store(nil)
			}
		}
		return
	}
	mask := uint64(len(c.slots) - 1)
	i := uint64(idx)
	c.ctrl[i], c.slots[i] = 0, nil
	c.n--
	c.gen++
	c.sorted.Store(nil)
	for j := (i + 1) & mask; c.ctrl[j] != 0; j = (j + 1) & mask {
		home, _ := hashName(c.slots[j].name())
		home &= mask
		// Move the entry at j into the hole at i if its home slot is not
		// in (i, j], cyclically.
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			c.ctrl[i], c.slots[i] = c.ctrl[j], c.slots[j]
			c.ctrl[j], c.slots[j] = 0, nil
			i = j
		}
	}
}

// named is a child with its name, so that it can be sorted without the
// tree lock (the entry's data may change meanwhile, its name does not).
type named struct {
	name string
	e    *entry
}

// unsorted returns the children with their names, in no order.
func (c *children) unsorted() []named {
	s := make([]named, 0, c.n)
	for e := range c.all() {
		s = append(s, named{e.name(), e})
	}
	return s
}

// all yields every child, in no order.
func (c *children) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for _, e := range c.slots {
			if e != nil && !yield(e) {
				return
			}
		}
		if d := c.old; d != nil {
			for _, e := range d.slots[d.next:] {
				if e != nil && !yield(e) {
					return
				}
			}
		}
	}
}

// sortNamed sorts children by path.CompareElem; it needs no lock.
func sortNamed(s []named) []*entry {
	slices.SortFunc(s, func(a, b named) int {
		return path.CompareElem(path.ElemFromEncoded(a.name), path.ElemFromEncoded(b.name))
	})
	out := make([]*entry, len(s))
	for i := range s {
		out[i] = s[i].e
	}
	return out
}

// ordered returns the children sorted by path.CompareElem. Walks call it
// under the tree's read lock, so several may race to build the list:
// build serialises them (changes, under the write lock, only reset it).
func (c *children) ordered(build *sync.Mutex) []*entry {
	if c == nil {
		return nil
	}
	if p := c.sorted.Load(); p != nil {
		return *p
	}
	build.Lock()
	defer build.Unlock()
	if p := c.sorted.Load(); p != nil {
		return *p
	}
	s := slices.AppendSeq(make([]*entry, 0, c.n), c.all())
	slices.SortFunc(s, func(a, b *entry) int { return path.CompareElem(a.elem(), b.elem()) })
	c.sorted.Store(&s)
	return s
}
