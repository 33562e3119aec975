// Package memo remembers the outcomes of pure computations by the bytes
// they were computed from: a bounded, concurrent, direct-mapped cache.
//
// Types and codecs remember what a Lua script made of a value, since
// values repeat and a script call costs about a microsecond. A lookup must
// then cost far less than the call, also when it misses: the cache is one
// array of slots indexed by a hash of the key, so a lookup is a hash and
// one or two memory reads, never a walk. A new key takes its slot from
// whatever held it (sometimes, see Put), so the cache follows the values
// in use instead of filling up with the first ones it saw.
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
	slots  []atomic.Pointer[entry[V]]
	stores atomic.Int64 // Puts into this table, until it is as large as it gets
}

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
	e := t.slots[h&uint64(len(t.slots)-1)].Load()
	if e == nil || e.hash != h || e.key != string(key) {
		return v, false
	}
	return e.val, true
}

// Put stores v for key (a copy of it), unless the key is held already:
// a pure computation's outcome does not change. A key whose slot holds
// another takes it one time in four: a value read often gets in soon,
// while a stream of distinct values (which no memo helps) costs few
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
	slot := &t.slots[h&uint64(len(t.slots)-1)]
	if e := slot.Load(); e != nil && (e.hash == h && e.key == string(key) || rand.Uint32()%4 != 0) {
		return
	}
	slot.Store(&entry[V]{hash: h, key: string(key), val: v})
}

// grow replaces old (nil: none) by a table of n slots holding old's
// entries. Of two goroutines growing at once one wins; the other stores
// into the winner's table.
func (c *Cache[V]) grow(old *table[V], n int) *table[V] {
	t := &table[V]{slots: make([]atomic.Pointer[entry[V]], n)}
	if old != nil {
		for i := range old.slots {
			if e := old.slots[i].Load(); e != nil {
				t.slots[e.hash&uint64(n-1)].Store(e)
			}
		}
	}
	if c.table.CompareAndSwap(old, t) {
		return t
	}
	return c.table.Load()
}
