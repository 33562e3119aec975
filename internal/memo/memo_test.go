package memo

import (
	"strconv"
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	c := New[int]()
	if _, ok := c.Get([]byte("a")); ok {
		t.Fatal("empty cache hit")
	}
	k := []byte("a")
	c.Put(k, 1)
	k[0] = 'b' // Put keeps a copy
	if v, ok := c.Get([]byte("a")); !ok || v != 1 {
		t.Fatalf("a: %v %v", v, ok)
	}
	if _, ok := c.Get([]byte("b")); ok {
		t.Fatal("b was never put")
	}
	c.Put([]byte("a"), 2)
	if v, _ := c.Get([]byte("a")); v != 1 {
		t.Fatalf("a after a second put: %v, want the first", v)
	}
	if _, ok := c.Get(nil); ok {
		t.Fatal("empty key hit")
	}
	c = New[int]()
	c.Put(nil, 3)
	if v, ok := c.Get([]byte{}); !ok || v != 3 {
		t.Fatalf("empty key: %v %v", v, ok)
	}
}

// TestBounded: the table grows with use up to its maximum, keeps recent
// keys, and never holds more than the maximum.
func TestBounded(t *testing.T) {
	c := New[int]()
	for i := range 100_000 {
		c.Put([]byte(strconv.Itoa(i)), i)
	}
	if n := len(c.table.Load().slots); n != MaxSlots {
		t.Fatalf("%d slots, want %d", n, MaxSlots)
	}
	if n := held(c); n > MaxSlots || n < MaxSlots/2 {
		t.Fatalf("%d entries held", n)
	}
	// Whatever is held is right.
	for i := range 100_000 {
		if v, ok := c.Get([]byte(strconv.Itoa(i))); ok && v != i {
			t.Fatalf("%d holds %d", i, v)
		}
	}
	// Keys in use again take over from the flood: put 1,000 of them 10
	// times each, and most are held (some share a slot).
	for range 10 {
		for i := range 1000 {
			c.Put([]byte("w"+strconv.Itoa(i)), i)
		}
	}
	held := 0
	for i := range 1000 {
		if v, ok := c.Get([]byte("w" + strconv.Itoa(i))); ok && v == i {
			held++
		}
	}
	if held < 800 {
		t.Fatalf("%d of 1,000 keys in use held", held)
	}
	// A few keys in a big cache keep a small table.
	s := New[int]()
	for i := range 10 {
		s.Put([]byte{byte(i)}, i)
	}
	if n := len(s.table.Load().slots); n != minSlots {
		t.Fatalf("10 keys: %d slots", n)
	}
}

// TestGrowKeeps: growing keeps what the smaller table held.
func TestGrowKeeps(t *testing.T) {
	c := New[int]()
	for i := range 40 {
		c.Put([]byte(strconv.Itoa(i)), i)
	}
	before := held(c)
	for i := 40; i < 64; i++ {
		c.Put([]byte(strconv.Itoa(i)), i)
	}
	c.Put([]byte("x"), -1) // the 65th put grows the table
	if n := len(c.table.Load().slots); n != 2*minSlots {
		t.Fatalf("%d slots", n)
	}
	if held(c) < before {
		t.Fatalf("held %d before growing, %d after", before, held(c))
	}
}

// TestConcurrent is for the race detector: readers and writers at once,
// and every hit is the value put for its key.
func TestConcurrent(t *testing.T) {
	c := New[string]()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20_000 {
				k := strconv.Itoa((i * (g + 1)) % 3000)
				if v, ok := c.Get([]byte(k)); ok && v != k {
					t.Errorf("%s holds %s", k, v)
					return
				}
				c.Put([]byte(k), k)
			}
		})
	}
	wg.Wait()
}

func BenchmarkGet(b *testing.B) {
	c := New[int]()
	keys := make([][]byte, 100_000)
	for i := range keys {
		keys[i] = []byte("\xcb" + strconv.Itoa(i) + ".25")
		c.Put(keys[i], i)
	}
	i := 0
	for b.Loop() {
		c.Get(keys[i%len(keys)])
		i += 7919
	}
}

// held counts the entries c holds.
func held[V any](c *Cache[V]) int {
	t := c.table.Load()
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.slots {
		if t.slots[i].e.Load() != nil {
			n++
		}
	}
	return n
}

// TestWorkingSet: of a working set of three quarters of the cache, each
// key put a few times (as values read again and again are), most is held:
// about 10 % of the keys find their set full (a set gets a Poisson(3)
// number of them), where one slot per key would leave out 30 %.
func TestWorkingSet(t *testing.T) {
	c := New[int]()
	n := MaxSlots * 3 / 4
	for range 20 {
		for i := range n {
			if _, ok := c.Get([]byte(strconv.Itoa(i))); !ok {
				c.Put([]byte(strconv.Itoa(i)), i)
			}
		}
	}
	hits := 0
	for i := range n {
		if v, ok := c.Get([]byte(strconv.Itoa(i))); ok && v == i {
			hits++
		}
	}
	if hits < n*85/100 {
		t.Fatalf("%d of %d keys held", hits, n)
	}
	t.Logf("%d of %d keys held", hits, n)
}
