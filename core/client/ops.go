package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/big"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// Raw is an already encoded msgpack value; Set sends it as it is.
type Raw []byte

// encodeValue appends v: the value model and string-keyed Go maps via
// package value, Raw as is, anything else via msgpack/v5.
func encodeValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case Raw:
		if err := value.Validate(v); err != nil {
			return b, err
		}
		return append(b, v...), nil
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, string, []byte, *big.Int, []any, pack.Map, path.Path, map[string]any, pack.Ext:
		return pack.Append(b, v)
	}
	enc, err := msgpack.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// Link is one change of an entry: the node that made it and its tick.
type Link = change.Link

// Chain is an entry's history, newest change first.
type Chain []Link

// Entry is an entry as the server sent it.
type Entry struct {
	Path     path.Path
	Raw      []byte // the value, raw msgpack, if HasValue
	HasValue bool   // false: no value (never set, or deleted)
	Chain    Chain  // the changes that led to it, newest first (if asked for)
	Tock     uint64
}

// Value decodes the value into the model of package pack (with path.Path).
func (e *Entry) Value() (any, error) {
	if !e.HasValue {
		return nil, errors.New("the entry has no value")
	}
	return value.Decode(e.Raw)
}

// Decode decodes the value into v with msgpack/v5 (struct tags apply).
func (e *Entry) Decode(v any) error {
	if !e.HasValue {
		return errors.New("the entry has no value")
	}
	return msgpack.Unmarshal(e.Raw, v)
}

// Option adjusts a request.
type Option func(Args) Args

// IfChain makes a Set or Delete fail with a *ConflictError unless the
// entry's newest change is still the one of chain (as Get returned it).
// An empty chain means the entry must not exist yet (see IfNew).
func IfChain(c Chain) Option {
	return func(a Args) Args {
		if len(c) == 0 {
			return append(a, pack.KV{Key: "chain", Value: nil})
		}
		return append(a, pack.KV{Key: "chain", Value: pack.Map{{Key: "node", Value: c[0].Node}, {Key: "tick", Value: c[0].Tick}}})
	}
}

// IfNew makes a Set fail with a *ConflictError if the entry has a value.
func IfNew() Option { return IfChain(nil) }

// IfValue makes a Set or Delete fail with a *ConflictError unless the
// entry's value equals v. As in the original, NaN equals nothing, itself
// included: a v that holds a NaN anywhere never matches.
func IfValue(v any) Option {
	return func(a Args) Args { return append(a, pack.KV{Key: "prev", Value: v}) }
}

// Idem makes a Set of the value the entry already holds change nothing.
// A value that holds a NaN is never the one the entry holds (NaN equals
// nothing): its Set is a change.
func Idem() Option {
	return func(a Args) Args { return append(a, pack.KV{Key: "idem", Value: true}) }
}

// AckPeer makes a Set or Delete return only once another server of the
// network has applied the change too, so that the failure of the server
// the client talks to cannot lose it. If no other server confirms it in
// time (server.ack_timeout), the call fails with an error that
// errors.Is(err, wire.ErrUnconfirmed): the change was applied on the
// server and may or may not survive its failure. AckLocal acknowledges
// once the change is applied on the server itself (the default, unless
// the server's server.ack says otherwise).
func AckPeer() Option { return ackLevel("peer") }

// AckLocal: see AckPeer.
func AckLocal() Option { return ackLevel("local") }

func ackLevel(level string) Option {
	return func(a Args) Args { return append(a, pack.KV{Key: "ack", Value: level}) }
}

// Chains asks for n links of chain (-1: all) in what the call returns.
func Chains(n int) Option {
	return func(a Args) Args { return append(a, pack.KV{Key: "nchain", Value: int64(n)}) }
}

func build(base Args, opts []Option) Args {
	for _, o := range opts {
		base = o(base)
	}
	return base
}

// ConflictError is a failed precondition of Set or Delete: the entry
// exists (IfNew), was changed meanwhile (IfChain), or holds another value
// (IfValue). errors.Is with change.ErrExists, change.ErrChain, change.ErrPrev or
// change.ErrNotFound tells which.
type ConflictError struct {
	Path path.Path
	Err  *wire.ServerError
}

func (e *ConflictError) Error() string { return e.Err.Error() }
func (e *ConflictError) Unwrap() error { return e.Err }

func conflict(p path.Path, err error) error {
	var se *wire.ServerError
	if errors.As(err, &se) {
		switch {
		case errors.Is(se, change.ErrExists), errors.Is(se, change.ErrChain), errors.Is(se, change.ErrPrev), errors.Is(se, change.ErrNotFound):
			return &ConflictError{Path: p, Err: se}
		}
	}
	return err
}

func chainOf(r *wire.Reply) Chain { return Chain(r.Chain) }

// Get reads the entry at p, with its whole chain. An entry that does not
// exist comes back with HasValue false and no chain.
func (c *Client) Get(ctx context.Context, p path.Path, opts ...Option) (Entry, error) {
	rep, err := c.Request(ctx, "get_value", build(Args{{Key: "path", Value: p}, {Key: "nchain", Value: int64(-1)}}, opts))
	if err != nil {
		return Entry{}, err
	}
	return Entry{Path: p, Raw: rep.Value, HasValue: rep.HasValue, Chain: chainOf(rep), Tock: rep.Tock}, nil
}

// Result is what a change did.
type Result struct {
	Changed bool   // the value differs from before
	Prev    []byte // the old value, raw, when there was one and no precondition was given
	HasPrev bool
	Chain   Chain // the entry's chain after the change
	Tock    uint64
}

// Set stores v at p. Options add preconditions (IfChain, IfNew, IfValue).
func (c *Client) Set(ctx context.Context, p path.Path, v any, opts ...Option) (Result, error) {
	args := build(Args{{Key: "path", Value: p}, {Key: "value", Value: v}, {Key: "nchain", Value: int64(-1)}}, opts)
	rep, err := c.Request(ctx, "set_value", args)
	if err != nil {
		return Result{}, conflict(p, err)
	}
	return Result{Changed: rep.Changed, Prev: rep.Prev, HasPrev: rep.HasPrev, Chain: chainOf(rep), Tock: rep.Tock}, nil
}

// Delete removes the value at p. The entry's chain is kept (so the
// deletion replicates), which is why a deleted entry has no chain to
// compare with: deleting clears it, as far as callers are concerned.
func (c *Client) Delete(ctx context.Context, p path.Path, opts ...Option) (Result, error) {
	rep, err := c.Request(ctx, "delete_value", build(Args{{Key: "path", Value: p}, {Key: "nchain", Value: int64(-1)}}, opts))
	if err != nil {
		return Result{}, conflict(p, err)
	}
	return Result{Changed: rep.Changed, Prev: rep.Prev, HasPrev: rep.HasPrev, Chain: chainOf(rep), Tock: rep.Tock}, nil
}

// DeleteTree removes every value at and below p and returns how many.
func (c *Client) DeleteTree(ctx context.Context, p path.Path) (int, error) {
	rep, err := c.Request(ctx, "delete_tree", Args{{Key: "path", Value: p}})
	if err != nil {
		return 0, err
	}
	return int(rep.NumChanged), nil
}

// TreeOptions select what GetTree and Watch report.
type TreeOptions struct {
	MinDepth int  // skip entries above this depth below the path (the path is 0)
	MaxDepth int  // skip entries below this depth; 0: no limit (Get reads p alone)
	Empty    bool // also report entries without a value
	Chains   int  // chain links per entry (0: none, -1: all)
	Internal bool // read the system tree (None-rooted) instead of the data tree
}

func (o TreeOptions) args(p path.Path) Args {
	maxDepth := int64(o.MaxDepth)
	if maxDepth <= 0 {
		maxDepth = -1
	}
	a := Args{{Key: "path", Value: p}, {Key: "min_depth", Value: int64(o.MinDepth)}, {Key: "max_depth", Value: maxDepth}}
	if o.Empty {
		a = append(a, pack.KV{Key: "empty", Value: true})
	}
	if o.Chains != 0 {
		a = append(a, pack.KV{Key: "nchain", Value: int64(o.Chains)})
	}
	return a
}

// GetTree walks the subtree at p in path order. Entry paths are relative
// to p. The walk reflects each entry as it was when reached.
func (c *Client) GetTree(ctx context.Context, p path.Path, o TreeOptions) iter.Seq2[Entry, error] {
	action := "get_tree"
	if o.Internal {
		action = "get_tree_internal"
	}
	return func(yield func(Entry, error) bool) {
		c.items(ctx, action, o.args(p), nil, func(ev Event, err error) bool { return yield(ev.Entry, err) })
	}
}

// items runs a multi-reply of entries and yields them with full paths
// (and the up-to-date and resync markers); resume, if not nil, resumes it
// on a new connection. It reports whether the server ended the stream
// normally.
func (c *Client) items(ctx context.Context, action string, args, resume Args, yield func(Event, error) bool) (ended bool) {
	s, err := c.stream(ctx, action, args, resume)
	if err != nil {
		yield(Event{}, err)
		return false
	}
	defer s.Stop()
	var l wire.Longer
	for {
		m, ok, err := s.next()
		if !ok {
			if err != nil {
				yield(Event{}, err)
				return false
			}
			return true
		}
		var ev Event
		switch {
		case m.resync:
			l = wire.Longer{} // a new stream: paths start afresh
			ev.Resync = true
		case m.rep.State == "uptodate":
			ev.UpToDate = true
		default:
			if ev.Entry, err = itemEntry(&l, &m.rep); err != nil {
				yield(Event{}, err)
				return false
			}
		}
		if !yield(ev, nil) {
			return false
		}
	}
}

func itemEntry(l *wire.Longer, rep *wire.Reply) (Entry, error) {
	full, err := l.Expand(rep.Depth, rep.Path)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Path: full, Raw: rep.Value, HasValue: rep.HasValue, Chain: chainOf(rep), Tock: rep.Tock}, nil
}

// Event is one message of a watch: a changed (or, with fetch, existing)
// entry, or one of two markers.
type Event struct {
	Entry         // Path is relative to the watched path; HasValue false: deleted
	UpToDate bool // the marker: everything before it was the state when the watch began
	// Resync marks a watch resumed on a new connection (Config.Reconnect):
	// what follows up to the next UpToDate is the whole current state;
	// entries not in it were deleted while the client was disconnected.
	Resync bool
}

// WatchOptions configure Watch.
type WatchOptions struct {
	TreeOptions
	Fetch bool // send the current state first, then the UpToDate marker
}

// Watch reports changes at and below p as they happen until the loop
// stops or ctx ends. With Fetch, the current state comes first, then an
// Event with UpToDate set. A watch whose consumer falls too far behind
// ends with an error wrapping wire.ErrOverflow (ErrOverflow when the
// client's queue ran over, else the server's): watch again with Fetch to
// get back in sync. With Config.Reconnect, a watch goes on across
// reconnects, with an Event with Resync set and the current state again
// (see the package doc).
func (c *Client) Watch(ctx context.Context, p path.Path, o WatchOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		args := o.args(p)
		resume := append(o.args(p), pack.KV{Key: "fetch", Value: true})
		if o.Fetch {
			args = resume
		}
		if c.items(ctx, "watch", args, resume, yield) {
			yield(Event{}, fmt.Errorf("watch: %w: the server ended the watch", ErrClosed))
		}
	}
}
