package errlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// Failure is one failure to record.
type Failure struct {
	Path      path.Path // what failed, e.g. a runner entry's path
	Subsystem string    // "run", "type", "codec", …; required
	Severity  Severity  // Fatal (0), Error (1) … Trace (6), 7; runners record Error
	Message   string    // one line, e.g. "Owch"
	Trace     string    // multi-line, e.g. a Lua traceback
	Comment   string
	Data      any // what it takes to reproduce it, in the model of package pack
}

// Limits on what a trace record keeps of a Failure.
const (
	maxTraceLines = 40       // the first 10 and the last 30 lines
	maxText       = 16 << 10 // bytes of Message, Comment and Trace each
)

// Record records f: a new record for (f.Path, f.Subsystem), or the
// existing one (open or resolved) counted up, its last_seen set and
// resolved cleared; then this node's trace record below it. With a
// record in the index that takes two requests (three for a new record).
// A record that another node changes meanwhile is re-read and updated
// again.
func (l *Log) Record(ctx context.Context, f Failure) error {
	if f.Subsystem == "" {
		return fmt.Errorf("errlog: record %v: %w", f.Path, ErrNoSubsystem)
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	id := ident{f.Path.Encoded(), f.Subsystem}
	defer l.lock(id)()
	now := l.now()
	for try := range maxTries {
		l.mu.Lock()
		r := l.winnerLocked(id)
		var cur Record
		if r != nil {
			cur = *r
		}
		l.mu.Unlock()
		var (
			at  path.Path
			res client.Result
			err error
		)
		if r == nil {
			at, res, err = l.create(ctx, f, now)
		} else {
			at = cur.At
			res, err = l.put(ctx, at, counted(cur, f, now), cur.Chain)
		}
		if err == nil {
			return l.trace(ctx, at, f, res.Tock, now)
		}
		if !isConflict(err) {
			return fmt.Errorf("errlog: record %v %s: %w", f.Path, f.Subsystem, err)
		}
		if r != nil {
			err = l.reread(ctx, at)
		}
		if err == nil {
			err = pause(ctx, try)
		}
		if err != nil {
			return fmt.Errorf("errlog: record %v %s: %w", f.Path, f.Subsystem, err)
		}
	}
	return fmt.Errorf("errlog: record %v %s: %w", f.Path, f.Subsystem, ErrContention)
}

// counted is cur's value after one more failure f at now.
func counted(cur Record, f Failure, now time.Time) pack.Map {
	sev := f.Severity
	if !cur.Resolved {
		sev = min(sev, cur.Severity) // the worst since it opened
	}
	kvs := []pack.KV{
		{Key: "severity", Value: int64(sev)},
		{Key: "resolved", Value: false},
		{Key: "count", Value: max(cur.Count, 0) + 1},
		{Key: "last_seen", Value: unixTime(now)},
	}
	if cur.FirstSeen.IsZero() {
		kvs = append(kvs, pack.KV{Key: "first_seen", Value: unixTime(now)})
	}
	return with(cur.Value, kvs...)
}

// create stores a new record for f at Root NODE TOCK, TOCK the server's
// current tock. The server raises its tock with every change, and a new
// record is one, so the next record of this node gets another number; a
// number taken twice anyway (two servers that have seen the same tock, a
// node name used twice) fails the precondition IfNew and is retried.
func (l *Log) create(ctx context.Context, f Failure, now time.Time) (path.Path, client.Result, error) {
	rep, err := l.c.Request(ctx, wire.GetTock, nil)
	if err != nil {
		return path.Path{}, client.Result{}, err
	}
	at := Root.Join(path.Must(l.node, rep.Tock))
	t := unixTime(now)
	v := pack.Map{
		{Key: "path", Value: f.Path},
		{Key: "subsystem", Value: f.Subsystem},
		{Key: "severity", Value: int64(f.Severity)},
		{Key: "resolved", Value: false},
		{Key: "created", Value: t},
		{Key: "count", Value: int64(1)},
		{Key: "first_seen", Value: t},
		{Key: "last_seen", Value: t},
	}
	res, err := l.put(ctx, at, v, nil)
	return at, res, err
}

// put stores a record's value with chain as precondition (nil: the entry
// must be new) and puts the outcome into the index.
func (l *Log) put(ctx context.Context, at path.Path, v pack.Map, chain client.Chain) (client.Result, error) {
	raw, err := value.Encode(v)
	if err != nil {
		return client.Result{}, err
	}
	res, err := l.c.Set(ctx, at, client.Raw(raw), client.IfChain(chain), client.Chains(1))
	if err == nil {
		l.note(client.Entry{Path: at, Raw: raw, HasValue: true, Chain: res.Chain, Tock: res.Tock})
	}
	return res, err
}

// reread puts the current state of the record at into the index.
func (l *Log) reread(ctx context.Context, at path.Path) error {
	e, err := l.c.Get(ctx, at, client.Chains(1))
	if err != nil {
		return err
	}
	l.note(e)
	return nil
}

// trace stores this node's trace record of f below the record at. Only
// this node writes it, so it needs no precondition.
func (l *Log) trace(ctx context.Context, at path.Path, f Failure, tock uint64, now time.Time) error {
	v := pack.Map{{Key: "seen", Value: unixTime(now)}, {Key: "tock", Value: tock}}
	for _, kv := range []pack.KV{{Key: "trace", Value: cutLines(f.Trace)}, {Key: "comment", Value: f.Comment}, {Key: "message", Value: f.Message}} {
		if s := kv.Value.(string); s != "" {
			v = append(v, pack.KV{Key: kv.Key, Value: cut(s)})
		}
	}
	raw, err := value.Encode(v)
	if f.Data != nil {
		raw, err = value.Encode(append(v, pack.KV{Key: "data", Value: f.Data}))
		if err != nil {
			// Data outside the model: keep what it says, as text.
			raw, err = value.Encode(append(v, pack.KV{Key: "data", Value: cut(fmt.Sprintf("%v", f.Data))}))
		}
	}
	if err != nil {
		return fmt.Errorf("errlog: record %v %s: trace record: %w", f.Path, f.Subsystem, err)
	}
	if _, err := l.c.Set(ctx, at.Child(path.Str(l.node)), client.Raw(raw)); err != nil {
		return fmt.Errorf("errlog: record %v %s: trace record: %w", f.Path, f.Subsystem, err)
	}
	return nil
}

// cutLines keeps the first 10 and the last 30 lines of a long trace.
func cutLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) <= maxTraceLines {
		return s
	}
	const head = 10
	tail := maxTraceLines - head
	return strings.Join(lines[:head], "") + "…\n" + strings.Join(lines[len(lines)-tail:], "")
}

// cut keeps at most maxText bytes of s, at a character boundary, and
// marks the cut.
func cut(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxText {
		return s
	}
	n := maxText - len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Resolve marks the open record of (p, subsystem) resolved: "resolved"
// becomes the server's tock. Without an open record in the index it does
// nothing and sends nothing, so a runner may call it after every success.
func (l *Log) Resolve(ctx context.Context, p path.Path, subsystem string) error {
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	id := ident{p.Encoded(), subsystem}
	defer l.lock(id)()
	var tock uint64
	for try := range maxTries {
		// Every open record of id: duplicates not merged yet too, else
		// the merge would reopen what was resolved.
		l.mu.Lock()
		var open []Record
		for _, k := range l.byID[id] {
			if r := l.records[k]; !r.Resolved {
				open = append(open, *r)
			}
		}
		l.mu.Unlock()
		if len(open) == 0 {
			return nil
		}
		if tock == 0 {
			rep, err := l.c.Request(ctx, wire.GetTock, nil)
			if err != nil {
				return fmt.Errorf("errlog: resolve %v %s: %w", p, subsystem, err)
			}
			tock = max(rep.Tock, 1) // 0 would read as open
		}
		for _, r := range open {
			_, err := l.put(ctx, r.At, resolved(r, tock), r.Chain)
			if isConflict(err) {
				if err = l.reread(ctx, r.At); err == nil {
					err = pause(ctx, try)
				}
			}
			if err != nil {
				return fmt.Errorf("errlog: resolve %v %s: %w", p, subsystem, err)
			}
		}
	}
	return fmt.Errorf("errlog: resolve %v %s: %w", p, subsystem, ErrContention)
}

func resolved(r Record, tock uint64) pack.Map {
	return with(r.Value, pack.KV{Key: "resolved", Value: tock})
}

func isConflict(err error) bool {
	var ce *client.ConflictError
	return errors.As(err, &ce)
}
