package tree

import (
	"errors"
	"fmt"
	"sync"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/path"
)

// Config configures a Tree.
type Config struct {
	// Node is the name of this server: local changes are its ticks.
	Node string
	// ChainLength bounds how many links a chain keeps (default 5).
	ChainLength int
	// Equal compares two raw values; it decides "changed" and `prev`
	// preconditions. Default: byte equality.
	Equal func(a, b string) bool
}

// Tree is the in-memory store of one server. It is safe for concurrent
// use: reads share a lock, changes take it exclusively. Watch callbacks,
// Cond.Check and WalkOptions.Prune run while it is held, so they must
// be quick and must not call the tree; Subscribe hands changes over to
// code that runs without it.
type Tree struct {
	mu       sync.RWMutex // protects the fields below
	root     entry
	reg      chain.Registry
	self     *chain.Node
	tick     uint64 // this node's last tick
	tock     uint64 // the highest tock seen
	chainLen int
	equal    func(a, b string) bool
	watches  watches
	values   int                        // entries that hold a value
	bytes    int64                      // the size of their values (raw msgpack)
	known    map[*chain.Node]*knowledge // what this tree holds of each node's changes
	own      *knowledge                 // known[self]: the ticks of its own it made or was told of

	sortMu sync.Mutex // serialises building sorted child lists (see children.ordered)
}

// knowledge is what a tree knows of one node's changes.
type knowledge struct {
	seen chain.RangeSet // ticks applied here, or reported superseded by a peer
	top  uint64         // the highest tick announced or seen
}

func (t *Tree) knowledgeOf(n *chain.Node) *knowledge {
	k := t.known[n]
	if k == nil {
		if t.known == nil {
			t.known = make(map[*chain.Node]*knowledge)
		}
		k = &knowledge{}
		t.known[n] = k
	}
	return k
}

// saw records that tick of n is held here.
func (t *Tree) saw(n *chain.Node, tick uint64) {
	k := t.knowledgeOf(n)
	k.seen.AddTick(tick)
	k.top = max(k.top, tick)
}

// New returns an empty tree.
func New(cfg Config) *Tree {
	if cfg.ChainLength <= 0 {
		cfg.ChainLength = 5
	}
	if cfg.Equal == nil {
		cfg.Equal = func(a, b string) bool { return a == b }
	}
	t := &Tree{chainLen: cfg.ChainLength, equal: cfg.Equal}
	t.self = t.reg.Node(cfg.Node)
	// Its own ticks are known like anyone's: those it makes and those it
	// is shown (a log, a peer). A server restarted without all of its
	// data may have made ticks that only others hold; they are missing
	// here until found, never taken as seen.
	t.own = t.knowledgeOf(t.self)
	return t
}

// The tree's items, updates and precondition errors are those of the
// protocol (core/change); the names here spare the tree's users an import.
type (
	Item          = change.Item
	Update        = change.Update
	Link          = change.Link
	ConflictError = change.ConflictError
)

// Errors of preconditions; a *ConflictError wraps one of them.
var (
	ErrExists   = change.ErrExists
	ErrNotFound = change.ErrNotFound
	ErrChain    = change.ErrChain
	ErrPrev     = change.ErrPrev
	ErrRoot     = change.ErrRoot
)

func (t *Tree) item(p path.Path, e *entry) Item {
	v, ok := e.value()
	return Item{Path: p, Value: v, HasValue: ok, Head: e.head(), Older: e.older(), Tock: e.tock}
}

// Node returns this server's node.
func (t *Tree) Node() *chain.Node { return t.self }

// Ticks returns this node's last tick and the highest tock seen.
func (t *Tree) Ticks() (tick, tock uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tick, t.tock
}

// NodeTicks returns the highest tick known of every node, this one
// included (announced ticks count, too).
func (t *Tree) NodeTicks() map[string]uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := map[string]uint64{t.self.Name: t.tick}
	for n, k := range t.known {
		if n != t.self {
			m[n.Name] = k.top
		}
	}
	return m
}

// Known returns, per node, the ticks this tree has seen: changes made or
// applied here and changes reported superseded. For this node, too, only
// what it made since it started and what it was shown count: what it made
// before a restart and lost is not known here.
func (t *Tree) Known() map[string]chain.RangeSet {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := make(map[string]chain.RangeSet, len(t.known))
	for n, k := range t.known {
		m[n.Name] = k.seen.Clone()
	}
	return m
}

// Complete returns, per node, the highest tick T such that this tree has
// seen every tick from 1 to T of that node (0: not even the first).
func (t *Tree) Complete() map[string]uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := make(map[string]uint64, len(t.known))
	for n, k := range t.known {
		if rs := k.seen.Ranges(); len(rs) > 0 && rs[0].Lo <= 1 {
			m[n.Name] = rs[0].Hi - 1
		} else {
			m[n.Name] = 0
		}
	}
	return m
}

// Missing returns, per node, the ticks up to the highest known that this
// tree has not seen.
func (t *Tree) Missing() map[string]chain.RangeSet {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := map[string]chain.RangeSet{}
	for n, k := range t.known {
		if miss := k.seen.Complement(1, k.top+1); miss.Len() > 0 {
			m[n.Name] = miss
		}
	}
	return m
}

// Announce records that node has reached tick (a tick announcement): the
// ticks up to it that are not seen here become missing. Others knowing a
// higher tick of this very node (it restarted without its log) raise its
// counter, so that it never reuses a tick someone has seen. A tick above
// chain.MaxTick is refused.
func (t *Tree) Announce(node string, tick uint64) error {
	if tick > chain.MaxTick {
		return &TickError{Node: node, Tick: tick}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.reg.Node(node)
	if n == t.self {
		t.tick = max(t.tick, tick)
	}
	k := t.knowledgeOf(n)
	k.top = max(k.top, tick)
	return nil
}

// MarkKnown records ticks of node that a peer reports as seen (superseded
// changes that no entry holds any more), or that no server holds, so they
// are no longer missing. Ticks above chain.MaxTick are refused.
func (t *Tree) MarkKnown(node string, r *chain.RangeSet) error {
	rs := r.Ranges()
	if n := len(rs); n > 0 && rs[n-1].Hi-1 > chain.MaxTick {
		return &TickError{Node: node, Tick: rs[n-1].Hi - 1}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.knowledgeOf(t.reg.Node(node))
	for _, x := range rs {
		k.seen.Add(x.Lo, x.Hi)
		k.top = max(k.top, x.Hi-1)
	}
	return nil
}

// TickError refuses a tick or tock above chain.MaxTick: forged or
// corrupt, as no server's counter gets near it.
type TickError struct {
	Node string // the node whose tick it is; "" for a tock
	Tick uint64
}

func (e *TickError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("tock %d is beyond any real one (at most %d): forged or corrupt", e.Tick, uint64(chain.MaxTick))
	}
	return fmt.Sprintf("tick %d of node %q is beyond any real one (at most %d): forged or corrupt", e.Tick, e.Node, uint64(chain.MaxTick))
}

// Tock returns the highest tock seen.
func (t *Tree) Tock() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tock
}

// SeeTock raises the tock to at least v (Lamport clock); a v above
// chain.MaxTick is refused.
func (t *Tree) SeeTock(v uint64) error {
	if v > chain.MaxTick {
		return &TickError{Tick: v}
	}
	t.mu.Lock()
	t.tock = max(t.tock, v)
	t.mu.Unlock()
	return nil
}

// Len returns the number of entries that hold a value.
func (t *Tree) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.values
}

// Stats is what a tree holds, for monitoring.
type Stats struct {
	Values int   // entries that hold a value
	Bytes  int64 // the size of those values, raw msgpack (names, chains and tombstones not counted)
	// Missing is how many ticks up to the highest known of each node
	// this tree has not seen: changes it lacks, which replication fetches
	// (or gives up on, see package replica).
	Missing uint64
}

// Stats returns the counts, kept as entries change: it costs a look at
// each node known, not a walk.
func (t *Tree) Stats() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	st := Stats{Values: t.values, Bytes: t.bytes}
	for _, k := range t.known {
		seen := uint64(0)
		for _, r := range k.seen.Ranges() {
			if lo, hi := max(r.Lo, 1), min(r.Hi, k.top+1); hi > lo {
				seen += hi - lo
			}
		}
		st.Missing += k.top - seen
	}
	return st
}

// lookup finds the entry at p, or nil.
func (t *Tree) lookup(p path.Path) *entry {
	e := &t.root
	for el := range p.Elems() {
		if e = e.kids.find(el.Encoded()); e == nil {
			return nil
		}
	}
	return e
}

// create finds or makes the entry at p.
func (t *Tree) create(p path.Path) *entry {
	e := &t.root
	for el := range p.Elems() {
		c := e.kids.find(el.Encoded())
		if c == nil {
			name := el.Encoded()
			c = &entry{data: name, nameLen: uint32(len(name))}
			if e.kids == nil {
				e.kids = &children{}
			}
			e.kids.insert(c)
		}
		e = c
	}
	return e
}

// Get returns the entry at p. ok is false when there is no entry at all;
// an entry without a value (deleted, or only a parent of others) is
// returned with HasValue false.
func (t *Tree) Get(p path.Path) (it Item, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e := t.lookup(p)
	if e == nil {
		return Item{Path: p}, false
	}
	return t.item(p, e), true
}

// Cond is a precondition of a local change.
type Cond struct {
	// MustBeNew: the entry must not hold a value.
	MustBeNew bool
	// MustExist: the entry must hold a value (for a writer who may
	// change entries but not create them).
	MustExist bool
	// Chain: the entry's newest change must be this one (node and tick).
	Chain *Want
	// Prev: the entry's value must equal this raw value ("" with HasPrev
	// false: no condition).
	Prev    string
	HasPrev bool
	// Idem: if the value is already equal, change nothing (no new tick).
	Idem bool
	// Check, if not nil, decides last whether the change may be made: it
	// is called once the other preconditions hold, before anything
	// changes, also for a change that will turn out to change nothing
	// (Idem, or deleting an entry never set). If it returns an error,
	// the change is not made and Set or Delete returns that error as it
	// is. It runs under the tree's write lock, so that what it sees is
	// what the change replaces (an access or type check is atomic with
	// the change): it must be fast, must not block, and must not call
	// the tree (that deadlocks).
	Check func(Proposal) error
}

// Proposal is a local change that Cond.Check may refuse.
type Proposal struct {
	// Old is the entry as it is: Old.Path is the change's path;
	// HasValue is false if it holds no value, and Head.Node is nil if
	// it was never set. Its chain is the tree's: do not modify it.
	Old Item
	// Value is the raw value to store if HasValue; HasValue is false
	// for a delete.
	Value    string
	HasValue bool
}

// Want names a change by node name and tick, as a client sends it.
type Want struct {
	Node string
	Tick uint64
}

// Result tells what a local change did.
type Result struct {
	Changed bool   // the value differs from before (or the entry was deleted)
	Prev    string // the old value, if HasPrev
	HasPrev bool
	Item    Item // the entry after the change
}

func (t *Tree) check(p path.Path, e *entry, c Cond) error {
	old, had := "", false
	if e != nil {
		old, had = e.value()
	}
	if c.MustBeNew && had {
		return &ConflictError{Path: p, Err: ErrExists}
	}
	if c.MustExist && !had {
		return &ConflictError{Path: p, Err: ErrNotFound}
	}
	if c.Chain != nil {
		if !had {
			return &ConflictError{Path: p, Err: ErrNotFound}
		}
		if e.node.Name != c.Chain.Node || e.tick != c.Chain.Tick {
			return &ConflictError{Path: p, Err: ErrChain,
				Have: e.head().String(), Want: fmt.Sprintf("%s@%d", c.Chain.Node, c.Chain.Tick)}
		}
	}
	if c.HasPrev && (!had || !t.equal(old, c.Prev)) {
		return &ConflictError{Path: p, Err: ErrPrev}
	}
	return nil
}

// Set stores value (raw msgpack, already validated) at p as a new change
// of this node, if the precondition holds.
func (t *Tree) Set(p path.Path, value string, c Cond) (Result, error) {
	return t.change(p, value, true, c)
}

// Delete removes the value at p as a new change of this node. The entry
// keeps its chain (a tombstone), so that the deletion can replicate. An
// entry that never held a value is left alone.
func (t *Tree) Delete(p path.Path, c Cond) (Result, error) {
	if p.IsRoot() {
		return Result{}, ErrRoot
	}
	return t.change(p, "", false, c)
}

func (t *Tree) change(p path.Path, value string, set bool, c Cond) (Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.lookup(p)
	if err := t.check(p, e, c); err != nil {
		return Result{}, err
	}
	if c.Check != nil {
		pr := Proposal{Old: Item{Path: p}, Value: value, HasValue: set}
		if e != nil {
			pr.Old = t.item(p, e)
		}
		if err := c.Check(pr); err != nil {
			return Result{}, err
		}
	}
	var res Result
	if e != nil {
		res.Prev, res.HasPrev = e.value()
	}
	switch {
	case set:
		res.Changed = !res.HasPrev || !t.equal(res.Prev, value)
		if c.Idem && !res.Changed {
			res.Item = t.item(p, e)
			return res, nil
		}
	default:
		if e == nil || !e.chained() {
			return Result{Item: Item{Path: p}}, nil
		}
		res.Changed = res.HasPrev
	}
	if e == nil {
		e = t.create(p)
	}
	t.tick++
	t.tock++
	t.own.seen.AddTick(t.tick)
	t.own.top = t.tick
	if e.prev == nil && (e.node == nil || e.node == t.self) {
		// Only this node changed the entry: the chain is its new link alone.
		t.store(e, value, set, nil, t.tock)
		e.node, e.tick = t.self, t.tick
	} else {
		t.store(e, value, set, e.chain().Extend(t.self, t.tick, t.chainLen), t.tock)
	}
	res.Item = t.item(p, e)
	t.notify(res.Item)
	return res, nil
}

// store writes a new state into e, keeping the value count right.
func (t *Tree) store(e *entry, value string, ok bool, c chain.Chain, tock uint64) {
	t.count(e, len(value), ok)
	e.setValue(value, ok)
	e.setChain(c)
	e.tock = tock
}

// count keeps the value count and size right for e about to hold a
// value of size bytes (ok), or no value.
func (t *Tree) count(e *entry, size int, ok bool) {
	old, had := e.value()
	if had {
		t.values--
		t.bytes -= int64(len(old))
	}
	if ok {
		t.values++
		t.bytes += int64(size)
	}
}

// Outcome tells what Apply did with an update.
type Outcome int

// The outcomes of Apply.
const (
	Applied   Outcome = iota // the entry now holds the update
	Stale                    // the entry already holds this change or a later one
	Lost                     // a concurrent change won the conflict; the update was dropped
	Overruled                // the update won a conflict and replaced a concurrent change
)

var outcomeNames = [...]string{"applied", "stale", "lost", "overruled"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// Apply merges an update by the chain rules: newer changes replace older
// ones, stale ones are ignored, and conflicts go to the same winner on
// every node (see chain.Wins). It raises this node's tick when the update
// holds one of its own changes (a log being loaded).
func (t *Tree) Apply(u Update) (Outcome, error) {
	if len(u.Chain) == 0 {
		return Stale, errors.New("an update needs a chain")
	}
	if u.Tock > chain.MaxTick {
		return Stale, &TickError{Tick: u.Tock}
	}
	for _, l := range u.Chain {
		if l.Tick > chain.MaxTick {
			return Stale, &TickError{Node: l.Node, Tick: l.Tick}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	in := make(chain.Chain, 0, len(u.Chain))
	for _, l := range u.Chain {
		n := t.reg.Node(l.Node)
		if n == t.self {
			t.tick = max(t.tick, l.Tick)
		}
		t.saw(n, l.Tick)
		in = append(in, chain.Link{Node: n, Tick: l.Tick})
	}
	t.tock = max(t.tock, u.Tock)
	// Creating the entry up front costs nothing when the update is stale
	// or lost: both need an entry that has a chain already.
	e := t.create(u.Path)
	e.flags &^= unconfirmed
	have, haveTock := e.chain(), e.tock
	outcome := Applied
	switch chain.Compare(have, in) {
	case chain.Same, chain.Older:
		return Stale, nil
	case chain.Conflict:
		if !chain.Wins(haveTock, have, u.Tock, in) {
			return Lost, nil
		}
		outcome = Overruled
	}
	t.count(e, len(u.Value), u.HasValue)
	if u.HasValue {
		e.data = e.name() + string(u.Value) // one copy, straight from the buffer
		e.flags |= hasValue
	} else {
		e.setValue("", false)
	}
	e.setChain(in)
	e.tock = u.Tock
	if t.watches.n > 0 {
		t.notify(t.item(u.Path, e))
	}
	return outcome, nil
}

// Purge drops the tombstones whose newest change is at or below horizon
// for its node: deletions every server has seen, so no older version of
// the entry can come back. Their ticks stay known. It returns how many it
// dropped. An entry that still has children stays, as a mere parent.
func (t *Tree) Purge(horizon map[string]uint64) int {
	var doomed []path.Path
	t.Walk(path.Root, WalkOptions{Which: Chained, MaxDepth: -1, Batch: 1024}, func(items []Item) bool {
		for _, it := range items {
			if !it.HasValue {
				if h, ok := horizon[it.Head.Node.Name]; ok && it.Head.Tick <= h {
					doomed = append(doomed, it.Path)
				}
			}
		}
		return true
	})
	n := 0
	// A batch at a time, as the walk: a million tombstones would keep
	// writers waiting for the lock.
	for len(doomed) > 0 {
		batch := doomed[:min(len(doomed), 1024)]
		doomed = doomed[len(batch):]
		n += t.purge(batch, horizon)
	}
	return n
}

func (t *Tree) purge(doomed []path.Path, horizon map[string]uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range doomed {
		e := t.lookup(p)
		if e == nil || e.flags&hasValue != 0 || e.node == nil {
			continue // changed meanwhile
		}
		if h, ok := horizon[e.node.Name]; !ok || e.tick > h {
			continue
		}
		e.setChain(nil)
		e.tock = 0
		t.prune(p)
		n++
	}
	return n
}

// Unconfirm marks every entry ever set as unconfirmed. An update Apply
// takes for an entry, whatever its outcome, confirms it again; so after a
// download of a peer's whole state, the entries still unconfirmed are
// those the peer does not have (see DropUnconfirmed). A mark bit in each
// entry, not a set of paths: a server with a million entries needs no
// extra memory to resync.
func (t *Tree) Unconfirm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	var mark func(e *entry)
	mark = func(e *entry) {
		if e.chained() {
			e.flags |= unconfirmed
		}
		if e.kids != nil {
			for k := range e.kids.all() {
				mark(k)
			}
		}
	}
	mark(&t.root)
}

// DropUnconfirmed confirms every entry again and removes, without
// recording a change, those still unconfirmed whose newest change is at or
// below horizon: the network no longer has them although it has seen
// their newest change (deleted and purged elsewhere while this server was
// away). Watches see each go as a deletion without a chain. It returns
// their paths.
func (t *Tree) DropUnconfirmed(horizon map[string]uint64) []path.Path {
	t.mu.Lock()
	defer t.mu.Unlock()
	var doomed []path.Path
	// The entries from the root down to the one visited, and the paths
	// of the first of them, made only when an entry is doomed: most are
	// not, and a path made for every entry would cost its length each.
	var line []*entry
	var made []path.Path
	var paths path.Builder
	pathOf := func() path.Path {
		for len(made) < len(line) {
			parent := path.Root
			if len(made) > 0 {
				parent = made[len(made)-1]
			}
			made = append(made, paths.Child(parent, line[len(made)].elem()))
		}
		if len(line) == 0 {
			return path.Root
		}
		return made[len(line)-1]
	}
	var visit func(e *entry)
	visit = func(e *entry) {
		if e.flags&unconfirmed != 0 {
			e.flags &^= unconfirmed
			if e.node != nil {
				if h, ok := horizon[e.node.Name]; ok && e.tick <= h {
					doomed = append(doomed, pathOf())
				}
			}
		}
		if e.kids != nil {
			for k := range e.kids.all() {
				// Most entries are leaves, confirmed: nothing to do.
				if k.kids != nil || k.flags&unconfirmed != 0 {
					line = append(line, k)
					visit(k)
					line = line[:len(line)-1]
					made = made[:min(len(made), len(line))]
				}
			}
		}
	}
	visit(&t.root)
	for _, p := range doomed {
		e := t.lookup(p)
		if e == nil {
			continue
		}
		t.count(e, 0, false)
		e.setValue("", false)
		e.setChain(nil)
		e.tock = 0
		t.prune(p)
		// Watches see it go, as a deletion without a chain: what they
		// built from the entry (a mirror, compiled users or types) must
		// not keep it.
		t.notify(Item{Path: p, Tock: t.tock})
	}
	return doomed
}

// prune removes the entry at p and its parents while they hold nothing:
// no value, no chain, no children. The tree is locked.
func (t *Tree) prune(p path.Path) {
	// The entries along p, found once: looking up each parent from the
	// root would cost the square of p's length.
	var stack [path.MaxElems + 1]*entry
	line := append(stack[:0], &t.root)
	e := &t.root
	for el := range p.Elems() {
		if e = e.kids.find(el.Encoded()); e == nil {
			return
		}
		line = append(line, e)
	}
	for i := len(line) - 1; i > 0; i-- {
		e := line[i]
		if e.chained() || e.flags&hasValue != 0 || (e.kids != nil && e.kids.n > 0) {
			return
		}
		line[i-1].kids.remove(e.name())
	}
}
