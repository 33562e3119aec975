// Package memo remembers the outcomes of pure computations by the bytes
// they were computed from: a bounded, concurrent, direct-mapped cache.
//
// Types and codecs remember what a Lua script made of a value, since
// values repeat and a script call costs about a microsecond. A lookup must
// then cost far less than the call, also when it misses: the cache is one
// array of slots, four to a set, and a key's hash picks its set, so a
// lookup is a hash, one read of the set's hashes and one of the entry
// whose hash matches, never a walk. A new key takes a slot from whatever
// held it (sometimes, see Put), so the cache follows the values in use
// instead of filling up with the first ones it saw.
package memo

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// Cache maps keys (byte strings) to values of type V. The zero value is
// not usable; make one with New. It is safe for concurrent use.
type Cache[V any] struct {
	seed  maphash.Seed
	table atomic.Pointer[table[V]]
}

type table[V any] struct {
	slots  []slot[V]
	stores atomic.Int64 // Puts into this table, until it is as large as it gets
}

// slot holds an entry and its hash, so that a lookup reads only the
// entry whose hash matches. The two are written one after the other; a
// reader that sees a hash with another entry finds that entry's hash or
// key differ: a miss.
type slot[V any] struct {
	hash atomic.Uint64
	e    atomic.Pointer[entry[V]]
}

const ways = 4 // slots in a set: four hashes and pointers in a cache line

type entry[V any] struct {
	hash uint64
	key  string
	val  V
}

// The table starts small (a cache that is never used costs nothing, one
// used for a few values little) and doubles once it has had as many Puts
// as it has slots, up to MaxSlots.
//
// MaxSlots is small on purpose: a lookup that misses the processor's
// caches costs a few hundred nanoseconds, as much as the Lua call it
// saves. With 65,536 slots a codec's memo cost more than it saved when
// half the lookups hit (BENCHMARKS.md, issue 14); 4,096 slots and their
// entries stay in the caches, and cover the values a sensor or a switch
// writes.
const (
	minSlots = 64
	MaxSlots = 4096
)

// New returns an empty cache.
func New[V any]() *Cache[V] {
	return &Cache[V]{seed: maphash.MakeSeed()}
}

// Get returns the value stored for key, if the cache still holds it.
func (c *Cache[V]) Get(key []byte) (v V, ok bool) {
	t := c.table.Load()
	if t == nil {
		return v, false
	}
	h := maphash.Bytes(c.seed, key)
	set := t.set(h)
	for i := range set {
		if set[i].hash.Load() != h {
			continue
		}
		if e := set[i].e.Load(); e != nil && e.hash == h && e.key == string(key) {
			return e.val, true
		}
	}
	return v, false
}

// set returns the slots of the set of hash h.
func (t *table[V]) set(h uint64) []slot[V] {
	i := h & uint64(len(t.slots)-1) &^ (ways - 1)
	return t.slots[i : i+ways : i+ways]
}

// Put stores v for key (a copy of it), unless the key is held already:
// a pure computation's outcome does not change. A key whose set is full
// takes one of its slots one time in four: a value read often gets in
// soon, while a stream of distinct values (which no memo helps) costs few
// allocations and few writes to memory other processors read.
func (c *Cache[V]) Put(key []byte, v V) {
	t := c.table.Load()
	if t == nil {
		t = c.grow(nil, minSlots)
	}
	if len(t.slots) < MaxSlots && t.stores.Add(1) > int64(len(t.slots)) {
		t = c.grow(t, 2*len(t.slots))
	}
	h := maphash.Bytes(c.seed, key)
	set := t.set(h)
	free := -1
	for i := range set {
		e := set[i].e.Load()
		switch {
		case e == nil:
			if free < 0 {
				free = i
			}
		case e.hash == h && e.key == string(key):
			return
		}
	}
	if free < 0 {
		r := rand.Uint32()
		if r%4 != 0 {
			return
		}
		free = int(r/4) % ways
	}
	set[free].put(&entry[V]{hash: h, key: string(key), val: v})
}

func (s *slot[V]) put(e *entry[V]) {
	s.e.Store(e)
	s.hash.Store(e.hash)
}

// grow replaces old (nil: none) by a table of n slots holding old's
// entries (those that fit). Of two goroutines growing at once one wins;
// the other stores into the winner's table.
func (c *Cache[V]) grow(old *table[V], n int) *table[V] {
	t := &table[V]{slots: make([]slot[V], n)}
	if old != nil {
		for i := range old.slots {
			e := old.slots[i].e.Load()
			if e == nil {
				continue
			}
			set := t.set(e.hash)
			for j := range set {
				if set[j].e.Load() == nil {
					set[j].put(e)
					break
				}
			}
		}
	}
	if c.table.CompareAndSwap(old, t) {
		return t
	}
	return c.table.Load()
}
