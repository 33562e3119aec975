package server

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// An action runs a request. Inline actions reply before returning;
// streamed ones run in a goroutine (see stream.go).
type action struct {
	run      func(c *conn, req *wire.Request, root path.Path) error
	streamed bool
}

var actions map[string]action

func init() {
	actions = map[string]action{
		"get_value":    {run: (*conn).getValue},
		"set_value":    {run: (*conn).setValue},
		"delete_value": {run: (*conn).deleteValue},
		"get_tock":     {run: (*conn).getTock},
		"root":         {run: (*conn).chroot},
		"enum":         {run: (*conn).enum},
		"stop":         {run: (*conn).stop},
		"get_state":    {run: (*conn).getState},
		"save":         {run: (*conn).save, streamed: true},
		"log":          {run: (*conn).logDest, streamed: true},
		"get_tree":     {run: (*conn).getTree, streamed: true},
		"watch":        {run: (*conn).watch, streamed: true},
		"delete_tree":  {run: (*conn).deleteTree, streamed: true},
		"msg_send":     {run: (*conn).msgSend},
		"msg_monitor":  {run: (*conn).msgMonitor, streamed: true},

		"get_internal":      {run: internal((*conn).getValue)},
		"set_internal":      {run: internal((*conn).setValue)},
		"delete_internal":   {run: internal((*conn).deleteValue)},
		"enum_internal":     {run: internal((*conn).enum)},
		"get_tree_internal": {run: internal((*conn).getTree), streamed: true},
	}
}

// systemRoot is the None element that starts the system tree.
var systemRoot = path.Must(nil)

// internal makes an action address the system (None-rooted) tree.
func internal(fn func(*conn, *wire.Request, path.Path) error) func(*conn, *wire.Request, path.Path) error {
	return func(c *conn, req *wire.Request, _ path.Path) error {
		return fn(c, req, systemRoot)
	}
}

func (c *conn) handle(req *wire.Request) {
	if req.Seq == 0 {
		// The client's hello: {seq: 0, qlen: N}.
		if req.HasQlen {
			c.mu.Lock()
			c.flow = req.Qlen > 0
			c.mu.Unlock()
		}
		return
	}
	if req.Action == "" {
		c.streamMessage(req)
		return
	}
	a, ok := actions[req.Action]
	if !ok {
		c.sendError(req.Seq, true, fmt.Errorf("%w %q", wire.ErrUnknownAction, req.Action))
		return
	}
	if a.streamed {
		c.startStream(req, a.run)
		return
	}
	if err := a.run(c, req, c.root); err != nil {
		c.sendError(req.Seq, true, err)
	}
}

func needPath(req *wire.Request) error {
	if !req.HasPath {
		return fmt.Errorf("%w: %q needs a path", wire.ErrBadRequest, req.Action)
	}
	return nil
}

// nchain returns how many chain links a reply carries.
func nchain(req *wire.Request, def int) int {
	if !req.HasNChain {
		return def
	}
	return req.NChain
}

func (c *conn) getValue(req *wire.Request, root path.Path) error {
	if req.HasNode && !req.HasPath {
		return c.getEvent(req, root)
	}
	if err := needPath(req); err != nil {
		return err
	}
	it, ok := c.s.tree.Get(root.Join(req.Path))
	n := nchain(req, 0)
	tock := it.Tock
	if !ok || it.Head.Node == nil {
		tock = c.s.tree.Tock()
	}
	c.reply(req.Seq, func(m *wire.Msg) {
		if it.HasValue {
			m.Raw("value", it.Value)
		}
		if n != 0 {
			m.Chain("chain", it.Head, it.Older, n)
		}
		m.Uint("tock", tock)
	})
	return nil
}

// getEvent finds the entry whose newest change is node's tick.
func (c *conn) getEvent(req *wire.Request, root path.Path) error {
	var found *tree.Item
	c.s.tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024}, func(items []tree.Item) bool {
		for i := range items {
			if h := items[i].Head; h.Node.Name == req.Node && h.Tick == req.Tick {
				it := items[i]
				found = &it
				return false
			}
		}
		return true
	})
	if found == nil {
		return fmt.Errorf("%w: no current entry was set by %s at tick %d", wire.ErrNoData, req.Node, req.Tick)
	}
	n := nchain(req, 0)
	c.reply(req.Seq, func(m *wire.Msg) {
		if found.HasValue {
			m.Raw("value", found.Value)
		}
		if n != 0 {
			m.Chain("chain", found.Head, found.Older, n)
		}
		m.Uint("tock", found.Tock)
		m.Path("path", found.Path)
	})
	return nil
}

// cond builds the precondition of a change from its request.
func cond(req *wire.Request) (tree.Cond, error) {
	var cd tree.Cond
	if req.HasChain {
		if req.ChainNil {
			cd.MustBeNew = true
		} else {
			cd.Chain = &tree.Want{Node: req.ChainNode, Tick: req.ChainTick}
		}
	}
	if req.HasPrev {
		if err := value.Validate(req.Prev); err != nil {
			return cd, fmt.Errorf("%w: prev: %v", wire.ErrBadValue, err)
		}
		cd.Prev, cd.HasPrev = string(req.Prev), true
	}
	cd.Idem = req.Idem
	return cd, nil
}

func (c *conn) setValue(req *wire.Request, root path.Path) error {
	if err := needPath(req); err != nil {
		return err
	}
	if !req.HasValue {
		return fmt.Errorf("%w: set_value needs a value (call delete_value to clear one)", wire.ErrBadRequest)
	}
	if err := value.Validate(req.Value); err != nil {
		return fmt.Errorf("%w: %v", wire.ErrBadValue, err)
	}
	cd, err := cond(req)
	if err != nil {
		return err
	}
	res, err := c.s.tree.Set(root.Join(req.Path), string(req.Value), cd)
	if err != nil {
		return err
	}
	return c.changeReply(req, cd, res)
}

func (c *conn) deleteValue(req *wire.Request, root path.Path) error {
	if err := needPath(req); err != nil {
		return err
	}
	if req.HasValue {
		return fmt.Errorf("%w: a deleted entry cannot have a value", wire.ErrBadRequest)
	}
	cd, err := cond(req)
	if err != nil {
		return err
	}
	res, err := c.s.tree.Delete(root.Join(req.Path), cd)
	if err != nil {
		return err
	}
	return c.changeReply(req, cd, res)
}

// changeReply answers set_value and delete_value as the original does:
// the old value comes back as prev unless the client gave a precondition.
func (c *conn) changeReply(req *wire.Request, cd tree.Cond, res tree.Result) error {
	n := nchain(req, 1)
	sendPrev := res.HasPrev && !req.HasChain && !req.HasPrev && !(cd.Idem && !res.Changed)
	it := res.Item
	enc := func(m *wire.Msg) {
		m.Bool("changed", res.Changed)
		if sendPrev {
			m.Raw("prev", res.Prev)
		}
		if n != 0 && it.Head.Node != nil {
			m.Chain("chain", it.Head, it.Older, n)
		}
		tock := it.Tock
		if it.Head.Node == nil {
			tock = c.s.tree.Tock()
		}
		m.Uint("tock", tock)
	}
	// Two static calls, not a func value: enc then stays on the stack.
	if cl := c.s.durableLog(); cl != nil {
		// Acknowledge once on disk; meanwhile the connection goes on, so
		// pipelined changes share an fsync.
		c.replyDurable(cl, req.Seq, enc)
	} else {
		c.reply(req.Seq, enc)
	}
	return nil
}

func (c *conn) getTock(req *wire.Request, root path.Path) error {
	tock := c.s.tree.Tock()
	c.reply(req.Seq, func(m *wire.Msg) { m.Uint("tock", tock) })
	return nil
}

// chroot makes later paths of this connection relative to req.Path.
func (c *conn) chroot(req *wire.Request, root path.Path) error {
	if err := needPath(req); err != nil {
		return err
	}
	c.root = root.Join(req.Path) // inline: the reader goroutine owns c.root
	it, _ := c.s.tree.Get(c.root)
	n := nchain(req, 1)
	c.reply(req.Seq, func(m *wire.Msg) {
		if it.HasValue {
			m.Raw("value", it.Value)
		}
		if n != 0 && it.Head.Node != nil {
			m.Chain("chain", it.Head, it.Older, n)
		}
		m.Uint("tock", it.Tock)
		m.PathArray("path", path.Root)
	})
	return nil
}

// enum lists the names of the children that hold a value.
func (c *conn) enum(req *wire.Request, root path.Path) error {
	if err := needPath(req); err != nil {
		return err
	}
	var names []tree.Item
	c.s.tree.Walk(root.Join(req.Path), tree.WalkOptions{MinDepth: 1, MaxDepth: 1}, func(items []tree.Item) bool {
		names = append(names, items...)
		return true
	})
	tock := c.s.tree.Tock()
	c.reply(req.Seq, func(m *wire.Msg) {
		m.Key("result")
		if req.WithData {
			m.B = pack.AppendMapHeader(m.B, len(names))
		} else {
			m.B = pack.AppendArrayHeader(m.B, len(names))
		}
		for _, it := range names {
			m.B = append(m.B, it.Path.Last().Encoded()...)
			if req.WithData {
				m.B = append(m.B, it.Value...)
			}
		}
		m.Uint("tock", tock)
	})
	return nil
}

// getState reports the node's view of ticks: get_state's flags select
// the parts (see the reference).
func (c *conn) getState(req *wire.Request, root path.Path) error {
	f := req.Flags
	st := c.s.state(f["present"] || f["known"] || f["superseded"] || f["deleted"])
	tock := c.s.tree.Tock()
	c.reply(req.Seq, func(m *wire.Msg) {
		m.Str("node", c.s.cfg.Node)
		m.Uint("tock", tock)
		if f["nodes"] {
			m.Key("nodes")
			m.B = pack.AppendMapHeader(m.B, len(st.ticks))
			for n, t := range st.ticks {
				m.B = pack.AppendString(m.B, n)
				m.B = pack.AppendUint(m.B, t)
			}
		}
		sets := []struct {
			flag string
			key  string
			r    map[string]*chain.RangeSet
		}{
			{"known", "known", st.superseded}, {"superseded", "known", st.superseded},
			{"present", "present", st.present}, {"deleted", "deleted", st.deleted},
			{"missing", "missing", st.missing}, {"remote_missing", "remote_missing", st.remoteMissing},
		}
		done := map[string]bool{}
		for _, s := range sets {
			if !f[s.flag] || done[s.key] {
				continue
			}
			done[s.key] = true
			m.Key(s.key)
			m.B = pack.AppendMapHeader(m.B, len(s.r))
			for n, rs := range s.r {
				m.B = pack.AppendString(m.B, n)
				m.B, _ = pack.Append(m.B, rs.Wire())
			}
		}
		if rs := c.s.ReplicaStats(); f["nodes"] || rs.Conflicts > 0 {
			// Not in the original: how many concurrent changes this server
			// resolved (one side's change was dropped, see the log).
			m.Uint("conflicts", rs.Conflicts)
		}
		if f["node_drop"] {
			m.Key("node_drop")
			m.B = pack.AppendArrayHeader(m.B, 0)
		}
	})
	return nil
}

type state struct {
	ticks                        map[string]uint64
	present, superseded, deleted map[string]*chain.RangeSet
	missing, remoteMissing       map[string]*chain.RangeSet
}

// state reports the ticks of each node: the highest known, which the
// tree's entries hold (present), which were seen but replaced
// (superseded), deletions, and which are missing here. The entry scan
// runs only when present, superseded or deleted ticks are asked for.
func (s *Server) state(ranges bool) state {
	st := state{ticks: s.tree.NodeTicks(), missing: map[string]*chain.RangeSet{}, remoteMissing: map[string]*chain.RangeSet{}}
	for n, r := range s.tree.Missing() {
		st.missing[n] = &r
	}
	if rep := s.replica(); rep != nil {
		for n, r := range rep.RemoteMissing() {
			if r.Len() > 0 {
				st.remoteMissing[n] = &r
			}
		}
	}
	if !ranges {
		return st
	}
	st.present = map[string]*chain.RangeSet{}
	st.deleted = map[string]*chain.RangeSet{}
	st.superseded = map[string]*chain.RangeSet{}
	get := func(m map[string]*chain.RangeSet, n string) *chain.RangeSet {
		if m[n] == nil {
			m[n] = &chain.RangeSet{}
		}
		return m[n]
	}
	s.tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024}, func(items []tree.Item) bool {
		for _, it := range items {
			for _, l := range it.Chain() {
				get(st.present, l.Node.Name).AddTick(l.Tick)
			}
			if !it.HasValue {
				get(st.deleted, it.Head.Node.Name).AddTick(it.Head.Tick)
			}
		}
		return true
	})
	for n, known := range s.tree.Known() {
		sup := known
		if p := st.present[n]; p != nil {
			sup = chain.RangeSet{}
			for _, r := range known.Ranges() {
				gaps := p.Complement(r.Lo, r.Hi)
				for _, gap := range gaps.Ranges() {
					sup.Add(gap.Lo, gap.Hi)
				}
			}
		}
		if sup.Len() > 0 {
			st.superseded[n] = &sup
		}
	}
	return st
}

// stop ends a running multi-reply.
func (c *conn) stop(req *wire.Request, root path.Path) error {
	c.mu.Lock()
	st := c.streams[req.Task]
	c.mu.Unlock()
	if st != nil {
		st.cancel()
	}
	tock := c.s.tree.Tock()
	c.reply(req.Seq, func(m *wire.Msg) {
		m.Bool("result", st != nil)
		m.Uint("tock", tock)
	})
	return nil
}

var errNoFile = errors.New(`"path" must name a file`)
