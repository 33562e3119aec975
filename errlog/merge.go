package errlog

import (
	"context"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Two nodes that see a new failure at about the same time (or on both
// sides of a network split) each create a record for it. Every Log sees
// both through its watch and agrees which one stays (winnerLocked); the
// node that created the other merges it: it deletes it (with its chain
// as precondition, so that no count is lost to a concurrent update),
// adds its count to the winner, and moves its trace records over.

// sweepAgain is how long after a merge the merger looks once more for
// trace records below the merged record: a node may have updated the
// record just before it went and written its trace record just after.
const sweepAgain = time.Second

// merger merges this node's losing records as they turn up. A merge
// that fails (the connection, say) is tried again after sweepAgain.
func (l *Log) merger() {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.wake:
		}
		var moved [][2]path.Path // from, to
		retry := false
		for _, k := range l.takeLosers() {
			from, to, st := l.merge(l.ctx, k)
			if l.ctx.Err() != nil {
				return
			}
			switch st {
			case mergeDone:
				l.sweep(l.ctx, from, to)
				moved = append(moved, [2]path.Path{from, to})
			case mergeFailed:
				retry = true
				l.mu.Lock()
				l.losers[k] = true
				l.mu.Unlock()
			}
		}
		if len(moved) == 0 && !retry {
			continue
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(sweepAgain):
		}
		for _, m := range moved {
			l.sweep(l.ctx, m[0], m[1])
		}
		if retry {
			l.kick()
		}
	}
}

// kick wakes the merger.
func (l *Log) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Log) takeLosers() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []string
	for k := range l.losers {
		ks = append(ks, k)
	}
	clear(l.losers)
	return ks
}

// What merge did.
type mergeStatus int

const (
	mergeNone   mergeStatus = iota // nothing: the record is gone or wins now
	mergeDone                      // the loser is gone: move its trace records
	mergeFailed                    // try again later
)

// merge merges the record at key k into the winner of its (path,
// subsystem), if it still loses. It returns the two records' paths; to
// is the root if the winner went meanwhile.
func (l *Log) merge(ctx context.Context, k string) (from, to path.Path, st mergeStatus) {
	l.mu.Lock()
	r := l.records[k]
	var id ident
	if r != nil {
		id = r.ident()
	}
	l.mu.Unlock()
	if r == nil {
		return from, to, mergeNone
	}
	defer l.lock(id)()
	from = r.At
	var gone Record
	for tries := 0; ; tries++ {
		l.mu.Lock()
		r, w := l.records[k], l.winnerLocked(id)
		var cur Record
		if r != nil {
			cur = *r
		}
		l.mu.Unlock()
		if r == nil || r == w {
			return from, to, mergeNone
		}
		if tries == maxTries {
			return from, to, mergeFailed
		}
		res, err := l.c.Delete(ctx, cur.At, client.IfChain(cur.Chain), client.Chains(1))
		if err == nil {
			gone = cur
			l.note(client.Entry{Path: cur.At, Chain: res.Chain, Tock: res.Tock})
			break
		}
		if !isConflict(err) || l.reread(ctx, cur.At) != nil || pause(ctx, tries) != nil {
			return from, to, mergeFailed
		}
	}
	// The loser is gone: from here on its counts live only in this
	// goroutine until the winner holds them.
	for try := range maxTries {
		l.mu.Lock()
		w := l.winnerLocked(id)
		var cur Record
		if w != nil {
			cur = *w
		}
		l.mu.Unlock()
		if w == nil {
			return from, to, mergeDone // deleted meanwhile: nothing to add to
		}
		_, err := l.put(ctx, cur.At, merged(cur, gone), cur.Chain)
		if err == nil {
			return from, cur.At, mergeDone
		}
		if !isConflict(err) || l.reread(ctx, cur.At) != nil || pause(ctx, try) != nil {
			return from, to, mergeDone
		}
	}
	return from, to, mergeDone
}

// merged is the winner w's value with the loser's failures added: counts
// summed, the earliest first and latest last time, the worse severity of
// open records, and open if either is open.
func merged(w, loser Record) pack.Map {
	kvs := []pack.KV{{Key: "count", Value: max(w.Count, 0) + max(loser.Count, 0)}}
	if t := loser.FirstSeen; !t.IsZero() && (w.FirstSeen.IsZero() || t.Before(w.FirstSeen)) {
		kvs = append(kvs, pack.KV{Key: "first_seen", Value: unixTime(t)})
	}
	if t := loser.LastSeen; t.After(w.LastSeen) {
		kvs = append(kvs, pack.KV{Key: "last_seen", Value: unixTime(t)})
	}
	if t := loser.Created; !t.IsZero() && (w.Created.IsZero() || t.Before(w.Created)) {
		kvs = append(kvs, pack.KV{Key: "created", Value: unixTime(t)})
	}
	if !loser.Resolved {
		sev := loser.Severity
		if !w.Resolved {
			sev = min(sev, w.Severity)
		}
		kvs = append(kvs, pack.KV{Key: "severity", Value: int64(sev)}, pack.KV{Key: "resolved", Value: false})
	}
	return with(w.Value, kvs...)
}

// sweep moves the trace records below from to to (where to has none of
// that node, or an older one) and deletes them below from. With to
// unknown (the winner was deleted), it only deletes.
func (l *Log) sweep(ctx context.Context, from, to path.Path) {
	var traces []client.Entry
	for e, err := range l.c.GetTree(ctx, from, client.TreeOptions{MinDepth: 1, MaxDepth: 1, Chains: 1}) {
		if err != nil {
			return
		}
		traces = append(traces, e)
	}
	for _, e := range traces {
		if !to.IsRoot() {
			l.moveTrace(ctx, e, to.Join(e.Path))
		}
		l.c.Delete(ctx, from.Join(e.Path), client.IfChain(e.Chain))
	}
}

// moveTrace copies the trace record e to dst unless dst holds a newer one.
func (l *Log) moveTrace(ctx context.Context, e client.Entry, dst path.Path) {
	cur, err := l.c.Get(ctx, dst, client.Chains(1))
	if err != nil {
		return
	}
	if cur.HasValue {
		have, err1 := parseTrace(cur.Raw)
		mine, err2 := parseTrace(e.Raw)
		if err1 == nil && (err2 != nil || !mine.Seen.After(have.Seen)) {
			return
		}
	}
	// A conflict means the node wrote a newer one meanwhile: keep that.
	l.c.Set(ctx, dst, client.Raw(e.Raw), client.IfChain(cur.Chain))
}
