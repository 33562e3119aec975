package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// stream is a running multi-reply: {state: start}, items, {state: end}.
type stream struct {
	c      *conn
	sess   *Session // the session that started it
	action string
	seq    uint64
	ctx    context.Context
	cancel context.CancelFunc
	wseq   uint64 // flow-control sequence; guarded by c.mu
	acked  uint64 // the highest wseq the client acknowledged; guarded by c.mu
	// abort, if set, ends a wait for the client's acknowledgement: a
	// watch's changes overflowed meanwhile.
	abort   <-chan struct{}
	last    path.Path // relative path of the last item, for depth compression
	started bool      // {state: start} went out; owned by the stream goroutine
}

// startStream runs a streamed action in its own goroutine.
func (c *conn) startStream(gated *call, run func(*conn, *call) error) {
	req := *gated.Request
	req.Own()
	r := *gated
	r.Request = &req
	ctx, cancel := context.WithCancel(c.ctx)
	st := &stream{c: c, sess: r.sess, action: r.Action, seq: r.Seq, ctx: ctx, cancel: cancel}
	c.mu.Lock()
	c.streams[r.Seq] = st // the gate (handle) refused a seq in use
	c.open.Add(1)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			cancel()
			c.flush()
		}()
		err := run(c, &r)
		c.s.stats.count(r.stat, err)
		var last func([]byte) []byte // nil: the reply went out through finish
		if err != nil || st.started {
			// An error goes out before the end, so the client sees it.
			tock := c.s.tree.Tock()
			last = func(b []byte) []byte {
				if err != nil {
					b = appendError(b, st.seq, true, err, tock)
				}
				if st.started {
					b = st.appendState(b, "end", tock)
				}
				return b
			}
		}
		st.finish(last)
	}()
}

// finish sends the stream's last message (enc; nil if it went out
// already) and frees its seq in the same step: a client that has the last
// message may use the seq again at once, and no request under that seq
// runs before the last message is on its way.
func (st *stream) finish(enc func([]byte) []byte) {
	c := st.c
	c.mu.Lock()
	if enc != nil {
		c.writeLocked(enc)
	}
	if c.streams[st.seq] == st {
		delete(c.streams, st.seq)
		c.open.Add(-1)
	}
	c.mu.Unlock()
}

// reply sends a streamed action's one reply (delete_tree without nchain,
// save, log) as its last message.
func (st *stream) reply(enc func(m *wire.Msg)) {
	st.finish(func(b []byte) []byte {
		m := wire.Begin(b)
		m.Uint("seq", st.seq)
		enc(&m)
		return m.End()
	})
}

// streamOf returns the stream running req.
func (c *conn) streamOf(req *wire.Request) *stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[req.Seq]
}

// streamMessage takes a client message for a running stream: flow-control
// acknowledgements, which let a paused stream go on.
func (c *conn) streamMessage(req *wire.Request) {
	if req.State == "ack" {
		c.mu.Lock()
		if st := c.streams[req.Seq]; st != nil && req.Ack > st.acked {
			st.acked = req.Ack
			c.room.Broadcast()
		}
		c.mu.Unlock()
		return
	}
	c.sendError(req.Seq, true, fmt.Errorf(`%w: a request needs an "action"`, wire.ErrBadRequest))
}

// send sends one stream message: enc adds pairs after seq (and wseq).
func (st *stream) send(enc func(m *wire.Msg)) {
	st.c.write(func(b []byte) []byte { return st.appendMsg(b, enc) })
}

// appendMsg encodes a stream message; c.mu must be held.
func (st *stream) appendMsg(b []byte, enc func(m *wire.Msg)) []byte {
	m := wire.Begin(b)
	m.Uint("seq", st.seq)
	if st.c.qlen > 0 {
		st.wseq++
		m.Uint("wseq", st.wseq)
	}
	enc(&m)
	return m.End()
}

// state sends {state: s}.
func (st *stream) state(s string) {
	st.started = true
	tock := st.c.s.tree.Tock()
	st.c.write(func(b []byte) []byte { return st.appendState(b, s, tock) })
}

func (st *stream) appendState(b []byte, s string, tock uint64) []byte {
	return st.appendMsg(b, func(m *wire.Msg) {
		m.Str("state", s)
		m.Uint("tock", tock)
	})
}

// shorten compresses an item's path: relative to prefix, it is depth
// elements of the previous item's path followed by rest.
func (st *stream) shorten(p, prefix path.Path) (depth int, rest path.Path) {
	rel, _ := p.TrimPrefix(prefix)
	depth = path.CommonPrefixLen(st.last, rel)
	st.last = rel
	rest, _ = rel.TrimPrefix(rel.Prefix(depth))
	return depth, rest
}

// item sends an entry, its path relative to prefix and depth-compressed,
// if the session may read it. With flow control it first waits for room
// in the window; when the stream is stopped meanwhile, it sends nothing
// and the caller's pace reports the stop.
func (st *stream) item(it *tree.Item, prefix path.Path, nchain int) error {
	v, ok, err := st.c.outValue(st.sess, st.action, it)
	if err != nil {
		// One value the codec cannot convert must not end the stream
		// (nor stall a watch): it is left out, and the log says so.
		st.c.codecFailed(st.sess, "a value is left out of a stream: the codec failed", err, "action", st.action)
		return nil
	}
	if !ok || !st.window() {
		return nil
	}
	depth, rest := st.shorten(it.Path, prefix)
	st.send(func(m *wire.Msg) {
		if it.HasValue {
			m.Raw("value", v)
		}
		if nchain != 0 && it.Head.Node != nil {
			m.Chain("chain", it.Head, it.Older, nchain)
		}
		m.Uint("tock", it.Tock)
		m.PathArray("path", rest)
		m.Uint("depth", uint64(depth))
	})
	return nil
}

// pace flushes and waits while the client is behind: while the output
// buffer is full, and, with flow control, while qlen messages of this
// stream wait for the client's acknowledgement. false: stop.
func (st *stream) pace() bool {
	st.c.flush()
	return st.c.waitRoom() && st.window()
}

// window waits, with flow control, until the client has acknowledged
// enough of this stream's messages that one more may go out. false: stop
// (or, for a watch, its changes overflowed meanwhile).
func (st *stream) window() bool {
	c := st.c
	c.mu.Lock()
	if c.qlen == 0 || st.wseq-st.acked < c.qlen {
		c.mu.Unlock()
		return st.ctx.Err() == nil
	}
	c.mu.Unlock()
	c.flush() // what waits for the acknowledgement must reach the client
	ctx, cancel := context.WithCancel(st.ctx)
	defer cancel()
	if st.abort != nil {
		go func() {
			select {
			case <-st.abort:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.room.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for st.wseq-st.acked >= c.qlen && !c.dead && ctx.Err() == nil {
		c.room.Wait()
	}
	return !c.dead && ctx.Err() == nil
}

func which(req *wire.Request) tree.Which {
	if req.Empty {
		return tree.All
	}
	return tree.Values
}

func (c *conn) getTree(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	st := c.streamOf(req)
	prefix := r.path
	n := nchain(req, 0)
	st.state("start")
	var err error
	opt := tree.WalkOptions{Which: which(req), MinDepth: req.MinDepth, MaxDepth: req.MaxDepth, SkipSystem: true, Prune: c.pruner(r.sess, req.Action)}
	c.s.tree.Walk(prefix, opt, func(items []tree.Item) bool {
		for i := range items {
			if err = st.item(&items[i], prefix, n); err != nil {
				return false
			}
		}
		return st.pace()
	})
	return err
}

// watch sends changes below a path as they happen; with fetch, the
// current state first, then {state: uptodate}.
func (c *conn) watch(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	st := c.streamOf(req)
	prefix := r.path
	n := nchain(req, 0)
	minD, maxD := req.MinDepth, req.MaxDepth
	prefixLen := prefix.Len()
	sub := c.s.tree.Subscribe(prefix, c.s.cfg.Queue)
	defer sub.Close()
	c.s.stats.watches.Add(1)
	defer c.s.stats.watches.Add(-1)
	st.abort = sub.Done()
	st.state("start")

	// one sends a change if it is within the depth limits (and, as for
	// get_tree, not in the system tree when watching the root).
	one := func(it *tree.Item) error {
		if prefix.IsRoot() && it.Path.HasPrefix(systemRoot) {
			return nil
		}
		d := it.Path.Len() - prefixLen
		if d >= minD && (maxD < 0 || d <= maxD) {
			return st.item(it, prefix, n)
		}
		return nil
	}
	// deliver sends the changes waiting in the queue.
	deliver := func() error {
		for {
			it, ok, err := sub.TryNext()
			if errors.Is(err, tree.ErrOverflow) {
				return fmt.Errorf("%w: more than %d changes waited for this watch; watch again with fetch", wire.ErrOverflow, c.s.cfg.Queue)
			}
			if err != nil || !ok {
				return err
			}
			if err := one(&it); err != nil {
				return err
			}
		}
	}
	if req.Fetch {
		var err error
		opt := tree.WalkOptions{Which: which(req), MinDepth: minD, MaxDepth: maxD, Before: sub.Before(), SkipSystem: true, Prune: c.pruner(r.sess, req.Action)}
		c.s.tree.Walk(prefix, opt, func(items []tree.Item) bool {
			for i := range items {
				if err = st.item(&items[i], prefix, n); err != nil {
					return false
				}
			}
			// Changes that came in meanwhile are newer than anything sent
			// so far: sending them now never puts old data after new.
			if err = deliver(); err != nil {
				return false
			}
			if !st.pace() {
				err = deliver() // an overflow may have ended the wait
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if st.ctx.Err() != nil {
			return nil
		}
		st.state("uptodate")
	}
	for {
		if err := deliver(); err != nil {
			return err
		}
		if !st.pace() {
			return deliver() // an overflow may have ended the wait
		}
		it, err := sub.Next(st.ctx)
		switch {
		case st.ctx.Err() != nil:
			return nil
		case errors.Is(err, tree.ErrOverflow):
			continue // deliver says so
		case err != nil:
			return err
		}
		if err := one(&it); err != nil {
			return err
		}
	}
}

// deleteTree deletes every value at and below a path. With nchain, it
// streams what it deleted; else it replies {changed: count}.
func (c *conn) deleteTree(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	prefix := r.path
	if prefix.IsRoot() {
		return tree.ErrRoot
	}
	st := c.streamOf(req)
	n := nchain(req, 0)
	if n != 0 {
		st.state("start")
	}
	count := 0
	var failed error
	c.s.tree.Walk(prefix, tree.WalkOptions{MaxDepth: -1}, func(items []tree.Item) bool {
		for _, it := range items {
			if err := c.s.grant(st.sess, req.Action, it.Path).Need(req.Action, it.Path, ModeDelete); err != nil {
				failed = err
				return false
			}
			res, err := c.s.tree.Delete(it.Path, tree.Cond{})
			if err != nil {
				failed = err
				return false
			}
			if !res.Changed {
				continue
			}
			count++
			if n != 0 {
				st.deleted(&res, prefix, n)
			}
		}
		return n == 0 || st.pace()
	})
	if failed != nil {
		return failed
	}
	if err := c.s.waitDurable(st.ctx); err != nil {
		return err
	}
	if n == 0 {
		tock := c.s.tree.Tock()
		st.reply(func(m *wire.Msg) {
			m.Uint("changed", uint64(count))
			m.Uint("tock", tock)
		})
	}
	return nil
}

// deleted sends a delete_tree item as the original does: the change's
// chain flattened into the message, with the old value.
func (st *stream) deleted(res *tree.Result, prefix path.Path, nchain int) {
	it := &res.Item
	old := tree.Item{Path: it.Path, Value: res.Prev, HasValue: res.HasPrev}
	prev, readable, err := st.c.outValue(st.sess, st.action, &old)
	if err != nil {
		// The value is deleted already: the item goes out without it.
		st.c.codecFailed(st.sess, "an old value is left out of delete_tree: the codec failed", err)
		readable = false
	}
	depth, rest := st.shorten(it.Path, prefix)
	st.send(func(m *wire.Msg) {
		m.Str("node", it.Head.Node.Name)
		m.Uint("tick", it.Head.Tick)
		m.Key("prev")
		m.B = wire.AppendChain(m.B, first(it.Older), rest1(it.Older), nchain-1)
		m.PathArray("path", rest)
		if res.HasPrev && readable {
			m.Raw("old_value", prev)
		}
		m.Uint("tock", it.Tock)
		m.Uint("depth", uint64(depth))
	})
}

func first[T any](s []T) T {
	var zero T
	if len(s) == 0 {
		return zero
	}
	return s[0]
}

func rest1[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s[1:]
}

// save writes the tree to a file (the `log save` command).
func (c *conn) save(r *call) error {
	req := r.Request
	name, ok := req.FileName()
	if !ok {
		return fmt.Errorf("%w: %w", wire.ErrBadRequest, errNoFile)
	}
	if err := c.s.Save(name); err != nil {
		return err
	}
	c.streamOf(req).result(true)
	return nil
}

// logDest starts (path given) or stops (no path) the change log.
func (c *conn) logDest(r *call) error {
	req := r.Request
	name, ok := req.FileName()
	var err error
	switch {
	case ok:
		err = c.s.StartLog(name, req.Fetch)
	case req.HasPath:
		err = fmt.Errorf("%w: %w", wire.ErrBadRequest, errNoFile)
	default:
		err = c.s.StopLog()
	}
	if err != nil {
		return err
	}
	c.streamOf(req).result(true)
	return nil
}

// result sends {result: v} as a stream's one reply.
func (st *stream) result(v bool) {
	tock := st.c.s.tree.Tock()
	st.reply(func(m *wire.Msg) {
		m.Bool("result", v)
		m.Uint("tock", tock)
	})
}

func (c *conn) result(req *wire.Request, v bool) error {
	tock := c.s.tree.Tock()
	c.reply(req.Seq, func(m *wire.Msg) {
		m.Bool("result", v)
		m.Uint("tock", tock)
	})
	return nil
}
