package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/latency"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// An action runs a request that passed the gate. Inline actions reply
// before returning; streamed ones run in a goroutine (see stream.go).
type action struct {
	run      func(c *conn, r *call) error
	streamed bool
	scope    scope // where its path lives
	need     Modes // what the session must be granted there before it runs
	// beforeLogin: the action may run before the connection logged in
	// while logins are on (the login itself).
	beforeLogin bool
	stat        int // its place in wire.Actions, where Stats count it
}

// scope tells the gate how to resolve an action's path.
type scope uint8

const (
	// scopeConn: the action touches only the connection's own state
	// (stop, get_tock); no path, no access decision.
	scopeConn scope = iota
	// scopeData: "path" is below the connection's root.
	scopeData
	// scopeSystem: "path" is below the system root (the *_internal actions).
	scopeSystem
	// scopeServer: the action concerns the whole server and is asked for
	// as the system root (save, log, get_state).
	scopeServer
	// scopeTopic: msg_send's and msg_monitor's topic.
	scopeTopic
	// scopeAuth: a user record or `None auth`, named by typ and ident
	// (see authPath).
	scopeAuth
)

// call is a request that passed the gate.
type call struct {
	*wire.Request
	path  path.Path // the request's path, resolved: root or system root joined in
	grant Grant     // what the session may do at path
	sess  *Session
	ack   wire.AckLevel // set_value, delete_value: when to acknowledge (see ackLevel)
	stat  int           // the action's (see action.stat)
	held  bool          // the reply waits (replyHeld): the request is counted when it goes out
}

// actions are the server's side of wire.Actions; a test checks that
// every action of the protocol is here.
var actions map[string]action

func init() {
	actions = map[string]action{
		wire.GetValue:    {run: (*conn).getValue, scope: scopeData, need: ModeRead},
		wire.SetValue:    {run: (*conn).setValue, scope: scopeData}, // write or create: see setValue
		wire.DeleteValue: {run: (*conn).deleteValue, scope: scopeData, need: ModeDelete},
		wire.GetTree:     {run: (*conn).getTree, streamed: true, scope: scopeData}, // items are filtered one by one
		wire.Watch:       {run: (*conn).watch, streamed: true, scope: scopeData},
		wire.DeleteTree:  {run: (*conn).deleteTree, streamed: true, scope: scopeData},
		wire.Enum:        {run: (*conn).enum, scope: scopeData, need: ModeEnum},
		wire.Root:        {run: (*conn).chroot, scope: scopeData, need: ModeAccess},
		wire.TestACL:     {run: (*conn).testACL, scope: scopeData},

		wire.GetInternal:     {run: (*conn).getValue, scope: scopeSystem, need: ModeRead},
		wire.SetInternal:     {run: (*conn).setValue, scope: scopeSystem},
		wire.DeleteInternal:  {run: (*conn).deleteValue, scope: scopeSystem, need: ModeDelete},
		wire.EnumInternal:    {run: (*conn).enum, scope: scopeSystem, need: ModeEnum},
		wire.GetTreeInternal: {run: (*conn).getTree, streamed: true, scope: scopeSystem},

		wire.GetState: {run: (*conn).getState, scope: scopeServer, need: ModeRead},
		wire.Save:     {run: (*conn).save, streamed: true, scope: scopeServer, need: ModeRead | ModeWrite},
		wire.Log:      {run: (*conn).logDest, streamed: true, scope: scopeServer, need: ModeRead | ModeWrite},

		wire.MsgSend:    {run: (*conn).msgSend, scope: scopeTopic, need: ModeWrite},
		wire.MsgMonitor: {run: (*conn).msgMonitor, streamed: true, scope: scopeTopic, need: ModeRead},

		wire.GetTock: {run: (*conn).getTock},
		wire.Stop:    {run: (*conn).stop},

		wire.DiffieHellman: {run: (*conn).diffieHellman, beforeLogin: true},
		wire.Auth:          {run: (*conn).login, beforeLogin: true},
		wire.AuthInfo:      {run: (*conn).authInfo, scope: scopeAuth, need: ModeRead},
		wire.AuthGet:       {run: (*conn).authGet, scope: scopeAuth, need: ModeRead},
		wire.AuthList:      {run: (*conn).authList, streamed: true, scope: scopeAuth, need: ModeRead | ModeEnum},
		wire.AuthSet:       {run: (*conn).authSet, scope: scopeAuth}, // write or create
		wire.SetAuthTyp:    {run: (*conn).setAuthTyp, scope: scopeAuth, need: ModeWrite},
	}
}

// getEventAction is get_value by node and tick: no path to check first;
// the entry it finds is checked like every value that goes out.
var getEventAction = action{run: (*conn).getEvent}

func init() {
	for i, name := range wire.Actions {
		if a, ok := actions[name]; ok {
			a.stat = i
			actions[name] = a
		}
		if name == wire.GetValue {
			getEventAction.stat = i
		}
	}
}

// systemRoot is the None element that starts the system tree.
var systemRoot = path.Must(nil)

// handle is the gate: every request passes here. It resolves the
// request's path once, asks the session's grant there, and runs the
// action only if the grant has what the action needs. It counts the
// request (Stats) unless the request goes on: a stream, or a change
// whose acknowledgement waits; those count when they end.
func (c *conn) handle(req *wire.Request) {
	if req.Seq == 0 {
		// The client's hello: {seq: 0, qlen: N}.
		if req.HasQlen {
			c.mu.Lock()
			c.qlen = uint64(max(req.Qlen, 0))
			c.mu.Unlock()
		}
		return
	}
	if req.Action == "" {
		c.streamMessage(req)
		return
	}
	var start latency.Mark
	timed := false
	if req.Action == wire.GetValue || req.Action == wire.SetValue {
		c.timing++
		if timed = c.timing%timeEvery == 0; timed {
			start = latency.Now()
		}
	}
	stat, goesOn, err := c.gate(req)
	if err != nil {
		c.sendError(req.Seq, true, err)
	}
	if timed {
		h := &c.stats.get
		if req.Action == wire.SetValue {
			h = &c.stats.set
		}
		h.SinceOwned(start)
	}
	if !goesOn {
		c.stats.countOwned(stat, err)
	}
}

// gate runs req if it passes, and returns its action's stat index,
// whether the request goes on (a stream started, an acknowledgement
// waits), and the error to reply with.
func (c *conn) gate(req *wire.Request) (stat int, goesOn bool, err error) {
	a, known := actions[req.Action]
	stat = statOther
	if known {
		stat = a.stat
	}
	if err := c.seqInUse(req.Seq); err != nil {
		return stat, false, err
	}
	if !known {
		return stat, false, fmt.Errorf("%w %q", wire.ErrUnknownAction, req.Action)
	}
	if req.Action == wire.GetValue && req.HasNode && !req.HasPath {
		a = getEventAction
	}
	if c.needsLogin(&a) {
		return stat, false, fmt.Errorf("%w using: %s", wire.ErrAuthRequired, c.s.AuthMethod())
	}
	// The reader goroutine's own call, reused: a call on the stack would
	// move to the heap through the action's func value, once per request.
	r := &c.gated
	*r = call{Request: req, sess: c.sess, stat: stat}
	switch a.scope {
	case scopeData, scopeSystem:
		base := c.root
		if a.scope == scopeSystem {
			base = systemRoot
		}
		// The request's path is within the limits, as it was decoded;
		// below the connection's root (or None) it may not be, and the
		// tree and the other servers hold only paths that are.
		r.path = base.Join(req.Path)
		if err := r.path.Check(); err != nil {
			return stat, false, fmt.Errorf("%w: field \"path\" below %v: %w", wire.ErrBadRequest, base, err)
		}
	case scopeServer:
		r.path = systemRoot
	case scopeTopic:
		r.path = req.Topic
	case scopeAuth:
		p, err := authPath(req)
		if err != nil {
			return stat, false, err
		}
		r.path = p
	}
	if a.scope != scopeConn {
		r.grant = c.s.grant(r.sess, req.Action, r.path)
		if err := r.grant.Need(req.Action, r.path, a.need); err != nil {
			return stat, false, err
		}
	}
	if a.streamed {
		c.startStream(r, a.run)
		return stat, true, nil
	}
	err = a.run(c, r)
	return stat, r.held, err
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

func (c *conn) getValue(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	it, ok := c.s.tree.Get(r.path)
	v, _, err := c.outValueAt(r, &it)
	if err != nil {
		return err
	}
	n := nchain(req, 0)
	tock := it.Tock
	if !ok || it.Head.Node == nil {
		tock = c.s.tree.Tock()
	}
	c.reply(req.Seq, func(m *wire.Msg) {
		if it.HasValue {
			m.Raw("value", v)
		}
		if n != 0 {
			m.Chain("chain", it.Head, it.Older, n)
		}
		m.Uint("tock", tock)
	})
	return nil
}

// getEvent finds the entry below the connection's root whose newest
// change is node's tick: get_value by node and tick.
func (c *conn) getEvent(r *call) error {
	req := r.Request
	var found *tree.Item
	c.s.tree.Walk(c.root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024, SkipSystem: true}, func(items []tree.Item) bool {
		for i := range items {
			if h := items[i].Head; h.Node.Name == req.Node && h.Tick == req.Tick {
				it := items[i]
				found = &it
				return false
			}
		}
		return true
	})
	missing := fmt.Errorf("%w: no current entry was set by %s at tick %d", wire.ErrNoData, req.Node, req.Tick)
	if found == nil {
		return missing
	}
	v, ok, err := c.outValue(r.sess, req.Action, found)
	if err != nil {
		return err
	}
	if !ok {
		return missing // what the session may not read, it does not learn of either
	}
	rel, _ := found.Path.TrimPrefix(c.root)
	n := nchain(req, 0)
	c.reply(req.Seq, func(m *wire.Msg) {
		if found.HasValue {
			m.Raw("value", v)
		}
		if n != 0 {
			m.Chain("chain", found.Head, found.Older, n)
		}
		m.Uint("tock", found.Tock)
		m.Path("path", rel)
	})
	return nil
}

// cond builds the precondition of a change from its request.
func (c *conn) cond(r *call) (tree.Cond, error) {
	req := r.Request
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
		prev, err := c.inValue(r.path, req.Prev)
		if err != nil {
			return cd, fmt.Errorf("%w: prev: %w", wire.ErrBadValue, err)
		}
		cd.Prev, cd.HasPrev = string(prev), true
	}
	cd.Idem = req.Idem
	return cd, nil
}

// ackLevel decides when a change is acknowledged (the request's ack, or
// server.ack), and refuses before changing anything what cannot be met.
func (c *conn) ackLevel(r *call) error {
	r.ack = r.AckLevel
	if r.ack == wire.AckDefault {
		r.ack = c.s.cfg.Ack
	}
	if r.ack == wire.AckPeer {
		switch rep := c.s.replica(); {
		case rep == nil:
			return fmt.Errorf("%w: ack: peer needs another server, and this one is not part of a network; nothing was changed", wire.ErrUnconfirmed)
		case !rep.PeersUp():
			return fmt.Errorf("%w: ack: peer needs another server, and no other server of the network is up; nothing was changed", wire.ErrUnconfirmed)
		}
	}
	return nil
}

func (c *conn) setValue(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	if err := c.ackLevel(r); err != nil {
		return err
	}
	if !req.HasValue {
		return fmt.Errorf("%w: set_value needs a value (call delete_value to clear one)", wire.ErrBadRequest)
	}
	if err := value.Validate(req.Value); err != nil {
		return fmt.Errorf("%w: %v", wire.ErrBadValue, err)
	}
	v, err := c.inValue(r.path, req.Value)
	if err != nil {
		return fmt.Errorf("%w: %w", wire.ErrBadValue, err)
	}
	if err := checkRecord(r.path, v); err != nil {
		return fmt.Errorf("%w: %w", wire.ErrBadValue, err)
	}
	if err := c.s.checkAuthRecord(r.path, v, false); err != nil {
		return err
	}
	if ck := c.s.hooks.Checker; ck != nil {
		if err := ck.Check(r.sess, r.path, v); err != nil {
			return fmt.Errorf("%w: %w", wire.ErrBadValue, err)
		}
	}
	cd, err := c.cond(r)
	if err != nil {
		return err
	}
	if err := c.writeOrCreate(r, &cd); err != nil {
		return err
	}
	res, err := c.s.tree.Set(r.path, string(v), cd)
	if err != nil {
		return err
	}
	return c.changeReply(r, cd, res)
}

// writeOrCreate makes a set need the grant's write mode where the entry
// holds a value and its create mode where it does not. With only one of
// the two, the tree decides under its lock, atomically with the set.
func (c *conn) writeOrCreate(r *call, cd *tree.Cond) error {
	const both = ModeWrite | ModeCreate
	switch r.grant.Allow & both {
	case both:
		return nil
	case 0:
		return r.grant.Need(r.Action, r.path, ModeWrite)
	}
	g, action := r.grant, r.Action
	cd.Check = func(p tree.Proposal) error {
		if p.Old.HasValue {
			return g.Need(action, p.Old.Path, ModeWrite)
		}
		return g.Need(action, p.Old.Path, ModeCreate)
	}
	return nil
}

func (c *conn) deleteValue(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	if err := c.ackLevel(r); err != nil {
		return err
	}
	if req.HasValue {
		return fmt.Errorf("%w: a deleted entry cannot have a value", wire.ErrBadRequest)
	}
	if err := c.s.checkAuthRecord(r.path, nil, true); err != nil {
		return err
	}
	cd, err := c.cond(r)
	if err != nil {
		return err
	}
	res, err := c.s.tree.Delete(r.path, cd)
	if err != nil {
		return err
	}
	return c.changeReply(r, cd, res)
}

// changeReply answers set_value and delete_value as the original does:
// the old value comes back as prev unless the client gave a precondition
// (and only to a session that may read it).
func (c *conn) changeReply(r *call, cd tree.Cond, res tree.Result) error {
	req := r.Request
	n := nchain(req, 1)
	sendPrev := res.HasPrev && !req.HasChain && !req.HasPrev && !(cd.Idem && !res.Changed)
	it := res.Item
	prev := res.Prev
	if sendPrev {
		old := tree.Item{Path: r.path, Value: res.Prev, HasValue: true}
		var err error
		if prev, sendPrev, err = c.outValueAt(r, &old); err != nil {
			c.log.Warn("the old value cannot go out", "err", err)
			sendPrev = false
		}
	}
	enc := func(m *wire.Msg) {
		m.Bool("changed", res.Changed)
		if sendPrev {
			m.Raw("prev", prev)
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
	var h heldReply
	if cl := c.s.durableLog(); cl != nil {
		if err := cl.failed(); err != nil {
			return fmt.Errorf("the change was applied on this server, but it is not on disk: %w", err)
		}
		// Acknowledged once on disk; meanwhile the connection goes on, so
		// pipelined changes share an fsync.
		h.log, h.logSeq = cl, cl.lastSeq()
	}
	if r.ack == wire.AckPeer && it.Head.Node == c.s.tree.Node() {
		h.tick, h.deadline = it.Head.Tick, time.Now().Add(c.s.cfg.AckTimeout)
	}
	// Two static calls, not a func value: enc then stays on the stack.
	if h.logSeq != 0 || h.tick != 0 {
		h.seq, h.stat = req.Seq, r.stat
		r.held = true
		c.replyHeld(h, req.Action, enc)
	} else {
		c.reply(req.Seq, enc)
	}
	return nil
}

func (c *conn) getTock(r *call) error {
	tock := c.s.tree.Tock()
	c.reply(r.Seq, func(m *wire.Msg) { m.Uint("tock", tock) })
	return nil
}

// chroot makes later paths of this connection relative to req.Path.
func (c *conn) chroot(r *call) error {
	if err := needPath(r.Request); err != nil {
		return err
	}
	it, _ := c.s.tree.Get(r.path)
	v, _, err := c.outValueAt(r, &it)
	if err != nil {
		return err
	}
	c.root = r.path // inline: the reader goroutine owns c.root
	n := nchain(r.Request, 1)
	c.reply(r.Seq, func(m *wire.Msg) {
		if it.HasValue {
			m.Raw("value", v)
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
func (c *conn) enum(r *call) error {
	req := r.Request
	if err := needPath(req); err != nil {
		return err
	}
	var names []tree.Item
	c.s.tree.Walk(r.path, tree.WalkOptions{MinDepth: 1, MaxDepth: 1}, func(items []tree.Item) bool {
		names = append(names, items...)
		return true
	})
	// Only what the session may read goes out, even as a mere name.
	kept := names[:0]
	for i := range names {
		v, ok, err := c.outValue(r.sess, req.Action, &names[i])
		if err != nil {
			// As in a walk: one value the codec cannot convert is left out.
			c.codecFailed(r.sess, "a value is left out of enum: the codec failed", err)
			continue
		}
		if ok {
			names[i].Value = v
			kept = append(kept, names[i])
		}
	}
	names = kept
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

// testACL is the original's test_acl {path, mode?, acl?}: it replies
// {access: false} if the ACL tested (the session's own, or with "acl" the
// named one) refuses mode at path (without mode: grants nothing there),
// else {access: "rwc…"}, the deciding rule's modes, if the session may
// read ACLs there (mode a, or no ACL), else {access: true}.
func (c *conn) testACL(r *call) error {
	if err := needPath(r.Request); err != nil {
		return err
	}
	var want Modes
	if r.Mode != "" {
		var err error
		if want, err = ParseModes(r.Mode); err != nil {
			return fmt.Errorf("%w: field \"mode\": %w", wire.ErrBadRequest, err)
		}
	}
	showModes := r.grant.Allow&ModeReadACL != 0
	tested := r.grant
	if r.ACL != "" {
		if err := r.grant.Need(r.Action, r.path, ModeReadACL); err != nil {
			return err // another ACL is none of its business
		}
		pol, ok := c.s.hooks.Access.(*policy)
		if !ok {
			return fmt.Errorf("%w: this server's access hook cannot test a named ACL", wire.ErrBadRequest)
		}
		tested = pol.grantACL(r.ACL, r.path)
	}
	refused := tested.Allow&want != want || want == 0 && tested.Allow == 0
	tock := c.s.tree.Tock()
	c.reply(r.Seq, func(m *wire.Msg) {
		switch {
		case refused:
			m.Bool("access", false)
		case showModes:
			m.Str("access", tested.Allow.String())
		default:
			m.Bool("access", true)
		}
		m.Uint("tock", tock)
	})
	return nil
}

// getState reports the node's view of ticks: get_state's flags select
// the parts (see the reference).
func (c *conn) getState(r *call) error {
	req := r.Request
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
func (c *conn) stop(r *call) error {
	req := r.Request
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
