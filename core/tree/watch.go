package tree

import (
	"github.com/distkv-go/distkv/core/path"
)

// watches maps a watched prefix (its encoding) to its watchers.
type watches struct {
	byPrefix map[string][]*watcher
	lens     map[int]int // how many watched prefixes have each length in bytes
	n        int
	cur      Item // the change being told, so that no Item goes to the heap
}

type watcher struct {
	prefix path.Path
	fn     func(*Item)
}

// Watch calls fn for every change at or below prefix, from now on, until
// cancel is called. fn runs while the tree is locked, in the order of the
// changes: it must not block, must not call the tree, and must not keep
// the pointer (copy the Item to keep it). Watch returns the tock as of registration: every change fn will see
// has a higher tock, so a walk with Before set to it sends each entry at
// most once (either in the walk or to fn).
func (t *Tree) Watch(prefix path.Path, fn func(*Item)) (tock uint64, cancel func()) {
	w := &watcher{prefix: prefix, fn: fn}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watches.byPrefix == nil {
		t.watches.byPrefix = make(map[string][]*watcher)
	}
	k := prefix.Encoded()
	if len(t.watches.byPrefix[k]) == 0 {
		if t.watches.lens == nil {
			t.watches.lens = make(map[int]int)
		}
		t.watches.lens[len(k)]++
	}
	t.watches.byPrefix[k] = append(t.watches.byPrefix[k], w)
	t.watches.n++
	// The next change gets tock+1; entries at tock or below are state.
	return t.tock + 1, func() { t.unwatch(w) }
}

func (t *Tree) unwatch(w *watcher) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := w.prefix.Encoded()
	ws := t.watches.byPrefix[k]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			t.watches.n--
			break
		}
	}
	if len(ws) == 0 {
		if _, ok := t.watches.byPrefix[k]; ok {
			delete(t.watches.byPrefix, k)
			if t.watches.lens[len(k)]--; t.watches.lens[len(k)] == 0 {
				delete(t.watches.lens, len(k))
			}
		}
	} else {
		t.watches.byPrefix[k] = ws
	}
}

// notify hands a change to the watchers of every prefix of its path.
// The tree is locked.
func (t *Tree) notify(item Item) {
	if t.watches.n == 0 {
		return
	}
	t.watches.cur = item
	defer func() { t.watches.cur = Item{} }()
	it := &t.watches.cur
	enc := it.Path.Encoded()
	call := func(k string) {
		for _, w := range t.watches.byPrefix[k] {
			w.fn(it)
		}
	}
	call("")
	// Only prefixes of a watched length are looked up: hashing every
	// prefix would cost the square of the path's length.
	n := 0
	for el := range it.Path.Elems() {
		n += len(el.Encoded())
		if t.watches.lens[n] > 0 {
			call(enc[:n])
		}
	}
}
