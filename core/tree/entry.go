package tree

import (
	"hash/maphash"
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

const hasValue = 1 << 0

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
type children struct {
	ctrl   []byte
	slots  []*entry // len is a power of two, as for ctrl
	n      int
	gen    uint64                   // counts inserts and removals
	sorted atomic.Pointer[[]*entry] // built by walks under the read lock
}

var seed = maphash.MakeSeed()

func hashName(name string) (h uint64, tag byte) {
	h = maphash.String(seed, name)
	return h, byte(h>>57) | 0x80
}

func (c *children) find(name string) *entry {
	if c == nil {
		return nil
	}
	h, tag := hashName(name)
	mask := uint64(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch c.ctrl[i] {
		case 0:
			return nil
		case tag:
			if e := c.slots[i]; e.name() == name {
				return e
			}
		}
	}
}

func (c *children) insert(e *entry) {
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

func (c *children) grow() {
	old := c.slots
	size := 4
	if len(old) > 0 {
		size = len(old) * 2
	}
	c.ctrl = make([]byte, size)
	c.slots = make([]*entry, size)
	for _, e := range old {
		if e != nil {
			c.put(e)
		}
	}
}

// remove deletes the child called name, shifting later probes back so
// that lookups stay correct without tombstones.
func (c *children) remove(name string) {
	h, tag := hashName(name)
	mask := uint64(len(c.slots) - 1)
	i := h & mask
	for {
		if c.ctrl[i] == 0 {
			return
		}
		if c.ctrl[i] == tag && c.slots[i].name() == name {
			break
		}
		i = (i + 1) & mask
	}
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
	for _, e := range c.slots {
		if e != nil {
			s = append(s, named{e.name(), e})
		}
	}
	return s
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
	s := make([]*entry, 0, c.n)
	for _, e := range c.slots {
		if e != nil {
			s = append(s, e)
		}
	}
	slices.SortFunc(s, func(a, b *entry) int { return path.CompareElem(a.elem(), b.elem()) })
	c.sorted.Store(&s)
	return s
}
