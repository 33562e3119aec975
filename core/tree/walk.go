package tree

import (
	"github.com/distkv-go/distkv/core/path"
)

// Which entries a walk reports.
type Which int

// The selections of WalkOptions.Which.
const (
	Values  Which = iota // entries that hold a value
	Chained              // entries ever set: values and tombstones (what a save needs)
	All                  // every entry, also those that only hold others
)

// WalkOptions select what Walk reports.
type WalkOptions struct {
	Which Which
	// MinDepth and MaxDepth limit the depth below the prefix (the prefix
	// itself is depth 0). MaxDepth < 0 means no limit.
	MinDepth, MaxDepth int
	// Before, if not 0, skips entries whose tock is Before or later (a
	// watch sends those as changes).
	Before uint64
	// Prune, if not nil, is called with the path of each entry the walk
	// comes to, before it reads the entry: true skips the entry and its
	// whole subtree. It runs under the tree's read lock, so it must be
	// fast, must not block and must not call the tree. A walk that
	// paused (see Walk) may call it again for a path, so it should
	// depend on the path alone.
	Prune func(path.Path) bool
	// SkipSystem skips the None subtree when walking from the root (a
	// Prune of that one path, together with Prune if set).
	SkipSystem bool
	// Batch is the most items handed over at once (default 256).
	Batch int
}

// Walk reports the entries under prefix in path order (see path.Compare),
// depth first, parents before children. It collects up to opt.Batch items
// under the read lock, then releases it and calls fn, so fn may block
// without stalling writers; fn must not keep the slice. It also releases
// the lock after visiting a few thousand entries it does not report
// (deleted or pruned ones, parents), so every hold of the lock is short.
// Walk stops when fn returns false. Each item is a consistent state of
// its entry, but the tree may change between batches: an entry added
// meanwhile behind the walk's position, or in a list of children the
// walk is already inside, is not reported. The items' paths share memory
// (see path.Builder): Clone one to keep it long.
func (t *Tree) Walk(prefix path.Path, opt WalkOptions, fn func([]Item) bool) {
	t.walk(prefix, opt, fn, max(visitsPerLock, 4*opt.Batch))
}

// walk is Walk with the work that one hold of the lock may do, and it
// returns how often it took the lock.
func (t *Tree) walk(prefix path.Path, opt WalkOptions, fn func([]Item) bool, visits int) (holds int) {
	if opt.Batch <= 0 {
		opt.Batch = 256
	}
	w := walker{t: t, opt: opt, prefix: prefix, prune: opt.Prune, batch: make([]Item, 0, opt.Batch), visits: visits}
	if opt.SkipSystem && prefix.IsRoot() {
		w.prune = skipSystem(opt.Prune)
	}
	resume, resuming, skip := path.Root, false, false
	for ; ; holds++ {
		w.batch = w.batch[:0]
		w.work, w.made = 0, w.paths.Made()
		t.mu.RLock()
		done := true
		if e := t.lookup(prefix); e != nil {
			done = w.visit(e, prefix, 0, resume, resuming, skip)
		}
		t.mu.RUnlock()
		if w.sortFor != nil {
			w.sortOutside()
		}
		if !done {
			resume, _ = w.last.TrimPrefix(prefix)
			resuming, skip = true, w.pruned
		}
		if len(w.batch) > 0 && !fn(w.batch) || done {
			return holds + 1
		}
	}
}

// A walk releases the lock after visiting this many entries (or four
// batches, if more), or after making this many bytes of paths, whether
// or not it has a batch of items to report: a walk through a million
// deleted or hidden entries, or along long paths, must not keep writers
// waiting.
const (
	visitsPerLock    = 4096
	pathBytesPerLock = 1 << 20
)

type walker struct {
	t      *Tree
	opt    WalkOptions
	prefix path.Path
	prune  func(path.Path) bool // opt.Prune, and SkipSystem's
	batch  []Item
	paths  path.Builder // makes the paths of the entries visited
	last   path.Path    // path of the last entry visited
	pruned bool         // last was pruned: a resumed walk skips its subtree
	work   int          // entries visited and path bytes/256 pruned under this hold of the lock
	made   int          // w.paths.Made() when this hold of the lock began
	visits int          // how much work one hold of the lock may do
	// inside holds the sorted children of the entries the walk is inside
	// of (those on the path to last). A resumed walk continues in these
	// lists instead of sorting again: a change to a big directory drops
	// its sorted list, and sorting a million children for every batch of
	// a walk while writes go on would never end.
	inside map[*entry][]*entry
	// A big list of children to sort without the lock before the walk
	// goes on: whose, as of which change, and the children.
	sortFor  *entry
	sortGen  uint64
	sortKids []named
}

// sortBig is the number of children from which a walk sorts them without
// holding the tree lock: a million take over a second, which writers
// should not wait for.
const sortBig = 1024

// sortOutside sorts the children the walk paused for, keeps them for the
// rest of the walk, and shares them with other walks if they have not
// changed meanwhile.
func (w *walker) sortOutside() {
	kids := sortNamed(w.sortKids)
	w.pause(w.sortFor, kids)
	w.t.mu.RLock()
	if c := w.sortFor.kids; c != nil && c.gen == w.sortGen {
		w.t.sortMu.Lock()
		c.sorted.CompareAndSwap(nil, &kids)
		w.t.sortMu.Unlock()
	}
	w.t.mu.RUnlock()
	w.sortFor, w.sortKids = nil, nil
}

func (w *walker) wants(e *entry, depth int) bool {
	if depth < w.opt.MinDepth {
		return false
	}
	if w.opt.Before != 0 && e.tock >= w.opt.Before && e.chained() {
		return false
	}
	switch w.opt.Which {
	case Values:
		_, ok := e.value()
		return ok
	case Chained:
		return e.chained()
	}
	return true
}

// systemRoot is the encoding of the path (None), the system tree.
const systemRoot = "\xc0"

// skipSystem returns a prune of the system tree and what next prunes.
func skipSystem(next func(path.Path) bool) func(path.Path) bool {
	return func(p path.Path) bool {
		return p.Encoded() == systemRoot || next != nil && next(p)
	}
}

// visit walks e, at p, depth elements below the prefix. While resuming,
// it skips everything up to and including the path after (relative to
// p), and with skip the subtree at after too: the walk has been there,
// so it has not pruned the entries on the way to it (and it pruned the
// one at after, if skip). It returns false when the batch filled up, or
// the work for one hold of the lock is done, before the subtree was.
func (w *walker) visit(e *entry, p path.Path, depth int, after path.Path, resuming, skip bool) bool {
	if !resuming {
		want := w.wants(e, depth)
		// At least one entry per hold, so that every hold makes progress.
		if want && len(w.batch) == cap(w.batch) || w.work > 0 && w.worked() {
			return false // before pruning: the next batch comes back here
		}
		w.work++
		if w.prune != nil { // it may read all of p
			w.work += len(p.Encoded()) / (pathBytesPerLock / visitsPerLock)
		}
		// The next batch resumes after p (and its subtree, if pruned).
		w.last, w.pruned = p, w.prune != nil && w.prune(p)
		if w.pruned {
			return true
		}
		if want {
			w.batch = append(w.batch, w.t.item(p, e))
		}
	} else if skip && after.IsRoot() {
		return true
	}
	if w.opt.MaxDepth >= 0 && depth >= w.opt.MaxDepth {
		return true
	}
	kids, ok := w.inside[e]
	if !ok {
		if c := e.kids; c != nil && c.n >= sortBig && c.sorted.Load() == nil {
			// Pause; Walk sorts them without the lock, then resumes
			// here (or at the last item collected, which leads here).
			w.sortFor, w.sortGen, w.sortKids = e, c.gen, c.unsorted()
			return false
		}
		kids = e.kids.ordered(&w.t.sortMu)
	}
	start := 0
	if resuming && !after.IsRoot() {
		// Continue inside the child on the resume path, then after it.
		first, rest := after.Split()
		lo, hi := 0, len(kids)
		for lo < hi {
			m := (lo + hi) / 2
			if path.CompareElem(kids[m].elem(), first) < 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		start = lo
		if start < len(kids) && kids[start].name() == first.Encoded() {
			if !w.visit(kids[start], w.paths.Child(p, first), depth+1, rest, true, skip) {
				w.pause(e, kids)
				return false
			}
			start++
		}
	}
	for _, k := range kids[start:] {
		if !w.visit(k, w.paths.Child(p, k.elem()), depth+1, path.Root, false, false) {
			w.pause(e, kids)
			return false
		}
	}
	delete(w.inside, e)
	return true
}

// worked reports whether this hold of the lock has done its work:
// entries visited, and bytes of paths made or pruned.
func (w *walker) worked() bool {
	return w.work+(w.paths.Made()-w.made)/(pathBytesPerLock/visitsPerLock) >= w.visits
}

// pause keeps the children of e, which the walk is inside of, for the
// next batch.
func (w *walker) pause(e *entry, kids []*entry) {
	if w.inside == nil {
		w.inside = map[*entry][]*entry{}
	}
	w.inside[e] = kids
}
