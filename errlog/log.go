package errlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
)

// Errors of the package.
var (
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("error log closed")
	// ErrContention: a record changed under every one of maxTries
	// attempts to update it.
	ErrContention = errors.New("the record kept changing")
	// ErrNoSubsystem: a Failure without a Subsystem.
	ErrNoSubsystem = errors.New("a failure needs a subsystem")
)

// maxTries bounds the attempts of one update against concurrent writers.
const maxTries = 20

// pause waits before attempt try+1 after a conflict: a random time below
// 1 ms << try (at most 100 ms), so that writers that keep colliding
// (one of them, with its index up to date, always a round trip ahead)
// draw apart.
func pause(ctx context.Context, try int) error {
	limit := min(time.Millisecond<<min(try, 10), 100*time.Millisecond)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(rand.N(limit)):
		return nil
	}
}

// Log records failures of one node in the error subtree. It keeps an
// index of all error records (of every node), fed by a watch of Root, so
// that recording a failure that already has a record costs no lookup.
//
// A Log is safe for concurrent use. Record and Resolve of the same
// (path, subsystem) take turns; others run in parallel.
type Log struct {
	c    *client.Client
	node string
	now  func() time.Time

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	wake   chan struct{} // the merger has work (capacity 1)

	mu      sync.Mutex         // protects the fields below
	records map[string]*Record // by At's encoding
	byID    map[ident][]string // the At encodings of each (path, subsystem)
	losers  map[string]bool    // records of this node to merge into another
	locks   map[ident]*idLock
	err     error // why the watch stopped, if it did
}

// idLock serializes the changes of one (path, subsystem) within a Log.
type idLock struct {
	mu    sync.Mutex
	users int // holders and waiters; the entry goes when it is 0
}

// Open starts keeping an index of the error records and returns once it
// holds every record in the tree, so that a failure that already has a
// record, made by any node, before or since, updates it instead of adding
// one. node names the recording node in the records it creates and in its
// trace records.
//
// The Log watches Root through c for as long as it is open. With
// Config.Reconnect, the watch survives a lost connection; without, the
// Log goes on with the index it has (changes by others then make its
// updates conflict, re-read and retry) until c's requests fail.
func Open(ctx context.Context, c *client.Client, node string) (*Log, error) {
	if node == "" {
		return nil, errors.New("errlog: open: the node name is empty")
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		c: c, node: node, now: time.Now, ctx: lctx, cancel: cancel,
		wake:    make(chan struct{}, 1),
		records: map[string]*Record{}, byID: map[ident][]string{},
		losers: map[string]bool{}, locks: map[ident]*idLock{},
	}
	ready := make(chan error, 1)
	l.wg.Add(2)
	go l.follow(ready)
	go l.merger()
	select {
	case err := <-ready:
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("errlog: open: watch %v: %w", Root, err)
		}
		return l, nil
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	}
}

// Close stops the watch and a merge in progress (see the package doc). It
// may be called more than once.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
	return nil
}

// Err tells why the Log stopped following the tree, if it did (the
// client was closed, say).
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Find returns the record of (p, subsystem) as the index holds it: the
// one that wins when there are several. Its Value and Chain are the
// index's own: read them, do not change them.
func (l *Log) Find(p path.Path, subsystem string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.winnerLocked(ident{p.Encoded(), subsystem})
	if r == nil {
		return Record{}, false
	}
	return *r, true
}

// follow keeps the index in sync with the tree. It reports the first
// complete state to ready.
func (l *Log) follow(ready chan<- error) {
	defer l.wg.Done()
	const minWait, maxWait = 100 * time.Millisecond, 5 * time.Second
	wait := minWait
	for {
		done, err := l.watch(ready)
		if done {
			ready = nil
			wait = minWait
		}
		switch {
		case l.ctx.Err() != nil:
			return
		case ready != nil:
			ready <- err
			return
		case errors.Is(err, client.ErrClosed):
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			return
		}
		// An overflow, say: watch again from a fresh state.
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// watch runs one watch of the records (depth 2 below Root). The state it
// starts with, and the one after a resync, replaces the index when
// complete. It reports whether it got a complete state.
func (l *Log) watch(ready chan<- error) (upToDate bool, err error) {
	opt := client.WatchOptions{Fetch: true, TreeOptions: client.TreeOptions{MinDepth: 2, MaxDepth: 2, Chains: 1}}
	state := map[string]client.Entry{} // a state being read; nil once complete
	for ev, err := range l.c.Watch(l.ctx, Root, opt) {
		switch {
		case err != nil:
			return upToDate, err
		case ev.Resync:
			state = map[string]client.Entry{}
		case ev.UpToDate:
			if state != nil {
				l.replace(state)
				state = nil
			}
			if !upToDate && ready != nil {
				ready <- nil
			}
			upToDate = true
		case state != nil:
			at := Root.Join(ev.Path)
			ev.Path = at
			if ev.HasValue {
				state[at.Encoded()] = ev.Entry
			} else {
				delete(state, at.Encoded())
			}
		default:
			ev.Path = Root.Join(ev.Path)
			l.note(ev.Entry)
		}
	}
	return upToDate, l.ctx.Err()
}

// replace makes state the index, keeping what the index knows newer (a
// change of this Log's own that the watch has not delivered yet).
func (l *Log) replace(state map[string]client.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.records
	l.records, l.byID = map[string]*Record{}, map[ident][]string{}
	for k, e := range state {
		if o := old[k]; o != nil && o.tock > e.Tock {
			l.putLocked(o)
			continue
		}
		if rec, err := parseRecord(e.Raw); err == nil {
			rec.At, rec.Chain, rec.tock = e.Path, e.Chain, e.Tock
			l.putLocked(&rec)
		}
	}
	for id := range l.byID {
		l.checkLocked(id)
	}
}

// note applies one entry, from the watch or from a request, to the index.
// An entry older than what the index holds is ignored.
func (l *Log) note(e client.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := e.Path.Encoded()
	old := l.records[k]
	if old != nil {
		if e.Tock < old.tock {
			return
		}
		l.dropLocked(old)
	}
	if !e.HasValue {
		return
	}
	rec, err := parseRecord(e.Raw)
	if err != nil {
		return // not a record: nobody can update it, so the index ignores it
	}
	rec.At, rec.Chain, rec.tock = e.Path, e.Chain, e.Tock
	l.putLocked(&rec)
	l.checkLocked(rec.ident())
}

func (l *Log) putLocked(r *Record) {
	k := r.At.Encoded()
	l.records[k] = r
	id := r.ident()
	l.byID[id] = append(l.byID[id], k)
}

func (l *Log) dropLocked(r *Record) {
	k := r.At.Encoded()
	delete(l.records, k)
	id := r.ident()
	ks := l.byID[id]
	for i, x := range ks {
		if x == k {
			ks = append(ks[:i:i], ks[i+1:]...)
			break
		}
	}
	if len(ks) == 0 {
		delete(l.byID, id)
	} else {
		l.byID[id] = ks
	}
}

// winnerLocked is the record of id that the others merge into: the one
// first seen, then the one whose At sorts first. Every node picks the
// same one from the same records.
func (l *Log) winnerLocked(id ident) *Record {
	var best *Record
	for _, k := range l.byID[id] {
		if r := l.records[k]; best == nil || before(r, best) {
			best = r
		}
	}
	return best
}

func before(a, b *Record) bool {
	if c := cmpSeen(a.FirstSeen, b.FirstSeen); c != 0 {
		return c < 0
	}
	return path.Compare(a.At, b.At) < 0
}

// cmpSeen orders times, a missing one (zero) last.
func cmpSeen(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return cmp.Compare(a.UnixNano(), b.UnixNano())
}

// checkLocked hands this node's records of id that lose to another to
// the merger. Only the node that created a duplicate merges it, so that
// nodes do not race each other for the same work (they could: every step
// has a precondition).
func (l *Log) checkLocked(id ident) {
	ks := l.byID[id]
	if len(ks) < 2 {
		return
	}
	w := l.winnerLocked(id)
	found := false
	for _, k := range ks {
		if r := l.records[k]; r != w && r.Node() == l.node && !l.losers[k] {
			l.losers[k] = true
			found = true
		}
	}
	if found {
		l.kick()
	}
}

// lock takes the turn of id within this Log.
func (l *Log) lock(id ident) func() {
	l.mu.Lock()
	il := l.locks[id]
	if il == nil {
		il = &idLock{}
		l.locks[id] = il
	}
	il.users++
	l.mu.Unlock()
	il.mu.Lock()
	return func() {
		il.mu.Unlock()
		l.mu.Lock()
		if il.users--; il.users == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
}
