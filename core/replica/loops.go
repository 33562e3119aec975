package replica

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"time"

	"github.com/distkv-go/distkv/core/accept"
	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/tree"
)

// accept serves incoming peer connections.
func (r *Replica) accept() {
	accept.Serve(r.ctx, r.ln, r.log, "peer", func(nc net.Conn) bool {
		if !r.goFunc(func() { r.incoming(nc) }) {
			nc.Close()
			return false
		}
		return true
	})
}

// errTLSOnly is what a peer without TLS hears from a TLS peer listener.
var errTLSOnly = errors.New("this server's peer listener speaks TLS: set server.peer.ssl")

// incoming runs a connection from a peer: the TLS handshake if the
// listener speaks TLS, the peer handshake, then the peer's requests.
// Both handshakes run here, in the connection's goroutine, with a
// deadline: a slow peer holds nothing but its own connection.
func (r *Replica) incoming(nc net.Conn) {
	if r.cfg.TLS != nil {
		tc, err := tlsconf.Handshake(r.ctx, nc, r.cfg.TLS, 0, handshakeTimeout)
		if err != nil {
			if errors.Is(err, tlsconf.ErrNotTLS) {
				nc.SetWriteDeadline(time.Now().Add(time.Second))
				nc.Write(appendError(nil, errTLSOnly.Error()))
			}
			if r.ctx.Err() == nil && !errors.Is(err, io.EOF) {
				r.log.Warn("refused a peer", "addr", nc.RemoteAddr().String(), "err", tlsconf.Explain(err, r.cfg.TLSFiles, "the peer", "server.peer.ssl"))
			}
			nc.Close()
			return
		}
		nc = tc
	}
	pc := newPeerConn(r, nc)
	if !r.track(pc) {
		return
	}
	defer func() {
		pc.close()
		pc.fr.Release() // gives its input budget back
		r.untrack(pc)
	}()
	err := pc.handshake(responder)
	if err == nil {
		err = r.checkPeerCert(pc)
	}
	if err != nil {
		r.warn("refused a peer", hostOf(nc.RemoteAddr()), err, "addr", nc.RemoteAddr().String())
		pc.sendError(err)
		return
	}
	if err := r.serve(pc); err != nil && !errors.Is(err, io.EOF) && r.ctx.Err() == nil {
		r.log.Info("peer connection ended", "peer", pc.name, "err", err)
	}
}

// checkPeerCert checks that a peer which had to present a certificate
// (server.peer.ssl.ca) presented one for the node its hello names: a
// certificate of one server does not let another in under its name.
func (r *Replica) checkPeerCert(pc *peerConn) error {
	tc, ok := pc.nc.(*tls.Conn)
	if !ok || r.cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return fmt.Errorf("peer %q presented no certificate", pc.name)
	}
	if err := certs[0].VerifyHostname(pc.name); err != nil {
		return fmt.Errorf("peer %q presented a certificate for another name: %w", pc.name, err)
	}
	return nil
}

// track registers a connection that is not in out, for Close to close
// it; false: Close has begun, and the connection is closed.
func (r *Replica) track(pc *peerConn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		pc.close()
		return false
	}
	r.in[pc] = struct{}{}
	return true
}

func (r *Replica) untrack(pc *peerConn) {
	r.mu.Lock()
	delete(r.in, pc)
	r.mu.Unlock()
}

// serve answers a peer's pushes and requests on an incoming connection.
func (r *Replica) serve(pc *peerConn) error {
	w := bufio.NewWriterSize(pc.nc, 64<<10)
	// The tick of the last push applied, and of the last acknowledged:
	// acknowledged once no more input is waiting, so one message answers
	// a burst of pushes.
	var applied, acked uint64
	for {
		if pc.sendAcks && applied > acked && !pc.fr.Buffered() {
			if err := write(w, pc, appendAcked(nil, applied), true); err != nil {
				return err
			}
			acked = applied
		}
		raw, err := pc.next()
		if err != nil {
			return err
		}
		m, err := decodeMsg(raw)
		if err != nil {
			return fmt.Errorf("bad message from %s: %w", pc.name, err)
		}
		switch m.op {
		case "push":
			u, err := decodeUpdate(m)
			if err != nil {
				return fmt.Errorf("bad push from %s: %w", pc.name, err)
			}
			// A server pushes its own changes only; others' it relays in
			// answers to pulls, which their origin could have sent too.
			if u.Chain[0].Node != pc.name {
				return fmt.Errorf("%s pushed a change of node %q: a server pushes only its own", pc.name, u.Chain[0].Node)
			}
			if r.apply(u, pc.name) {
				applied = u.Chain[0].Tick
			}
		case "pull":
			want := make(map[string]chain.RangeSet, len(m.want))
			for node, items := range m.want {
				rs, err := chain.FromWire(items)
				if err != nil {
					return fmt.Errorf("bad pull from %s: %w", pc.name, err)
				}
				want[node] = rs
			}
			r.mu.Lock()
			for node, rs := range want {
				r.remote[node] = rs.Clone()
			}
			r.mu.Unlock()
			if err := r.sendTicks(w, pc, m.seq, want); err != nil {
				return err
			}
		case "dump":
			if err := r.sendAll(w, pc, m.seq); err != nil {
				return err
			}
		case "ticks":
			for node, tick := range m.ticks {
				if err := r.cfg.Tree.Announce(node, tick); err != nil {
					return fmt.Errorf("bad ticks from %s: %w", pc.name, err)
				}
			}
			if m.complete != nil {
				r.mu.Lock()
				r.complete[pc.name] = m.complete
				r.mu.Unlock()
				r.completeAt(m.complete[r.cfg.Node])
			}
			if m.yours != nil {
				rs, err := chain.FromWire(m.yours)
				if err != nil {
					return fmt.Errorf("bad ticks from %s: %w", pc.name, err)
				}
				r.seenThere(&rs)
			}
		default:
			return fmt.Errorf("unknown op %q from %s", m.op, pc.name)
		}
	}
}

// write writes b to w and flushes when flush is set, with a deadline.
func write(w *bufio.Writer, pc *peerConn, b []byte, flush bool) error {
	pc.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.Write(b); err != nil {
		return err
	}
	pc.r.bytesOut.Add(uint64(len(b)))
	if flush {
		return w.Flush()
	}
	return nil
}

// sendTicks answers a pull: the entries whose chains hold wanted ticks
// (one walk for every node asked about), what of them this server has
// seen, then done.
func (r *Replica) sendTicks(w *bufio.Writer, pc *peerConn, seq uint64, want map[string]chain.RangeSet) error {
	// What this server has seen is taken before the walk: every change it
	// has seen by then is in the tree when the walk starts (or replaced
	// by a newer one the walk sends), but the walk misses entries added
	// while it goes on, whose ticks must not be said to be known.
	known := r.cfg.Tree.Known()
	var err error
	var buf []byte
	r.cfg.Tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024}, func(items []tree.Item) bool {
		for i := range items {
			for _, l := range items[i].Chain() {
				if rs, ok := want[l.Node.Name]; ok && rs.Contains(l.Tick) {
					buf = appendUpdate(buf[:0], "update", seq, &items[i])
					if err = write(w, pc, buf, false); err != nil {
						return false
					}
					break
				}
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for node, rs := range want {
		seen := known[node].Intersect(rs)
		if err := write(w, pc, appendKnown(nil, seq, node, &seen), false); err != nil {
			return err
		}
	}
	return write(w, pc, appendOp(nil, "done", seq), true)
}

// sendAll answers a dump: every entry ever set, every node's seen ticks,
// then done.
func (r *Replica) sendAll(w *bufio.Writer, pc *peerConn, seq uint64) error {
	// Taken before the walk, as in sendTicks. The horizon lets the
	// receiver drop what was deleted and purged here; an entry the walk
	// misses because it was added meanwhile is above it.
	known, ticks, complete := r.cfg.Tree.Known(), r.cfg.Tree.NodeTicks(), r.cfg.Tree.Complete()
	var err error
	var buf []byte
	r.cfg.Tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024}, func(items []tree.Item) bool {
		for i := range items {
			buf = appendUpdate(buf[:0], "update", seq, &items[i])
			if err = write(w, pc, buf, false); err != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for node, rs := range known {
		if err := write(w, pc, appendKnown(nil, seq, node, &rs), false); err != nil {
			return err
		}
	}
	if err := write(w, pc, appendTicks(nil, seq, ticks, complete, nil), false); err != nil {
		return err
	}
	return write(w, pc, appendOp(nil, "done", seq), true)
}

// dial connects to a peer and runs the outgoing connection until it ends.
func (r *Replica) dial(p Peer) {
	defer func() {
		r.mu.Lock()
		delete(r.dials, p.Name)
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(r.ctx, handshakeTimeout)
	nc, err := r.cfg.Dial(ctx, p.Addr)
	if err != nil {
		cancel()
		r.log.Debug("cannot reach a peer", "peer", p.Name, "addr", p.Addr, "err", err)
		return
	}
	if r.cfg.DialTLS != nil {
		cfg := r.cfg.DialTLS.Clone()
		cfg.ServerName = p.Name
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			cancel()
			nc.Close()
			r.log.Warn("peer handshake failed", "peer", p.Name, "addr", p.Addr, "err", r.explainTLS(err, p.Name))
			return
		}
		nc = tc
	}
	cancel()
	pc := newPeerConn(r, nc)
	defer pc.fr.Release() // gives its input budget back; this goroutine reads pc
	if !r.track(pc) {
		return
	}
	err = pc.handshake(initiator)
	r.untrack(pc)
	if err != nil {
		r.warn("peer handshake failed", p.Name, r.explainTLS(err, p.Name), "peer", p.Name)
		pc.close()
		return
	}
	// Made only now: a queue of Config.Queue pushes takes 1.5 MiB by
	// default, which no connection that is not a trusted outgoing one
	// should cost.
	pc.pushes = make(chan []byte, r.cfg.Queue)
	r.mu.Lock()
	if old := r.out[pc.name]; old != nil || r.ctx.Err() != nil {
		r.mu.Unlock()
		pc.close()
		return
	}
	r.out[pc.name] = pc
	r.mu.Unlock()
	r.log.Info("connected to a peer", "peer", pc.name, "addr", p.Addr)
	defer func() {
		pc.close()
		r.mu.Lock()
		if r.out[pc.name] == pc {
			delete(r.out, pc.name)
		}
		r.mu.Unlock()
		r.log.Info("lost a peer", "peer", pc.name)
	}()
	if !r.goFunc(pc.writeLoop) {
		return // closing
	}
	if err := pc.readLoop(); err != nil && r.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		r.log.Debug("peer connection ended", "peer", pc.name, "err", err)
	}
}

// explainTLS says what a failed TLS handshake with a peer means (with
// TLS 1.3 a peer that refuses this server's certificate says so at the
// first read, in the peer handshake).
func (r *Replica) explainTLS(err error, peer string) error {
	if r.cfg.DialTLS == nil {
		return err
	}
	return tlsconf.Explain(err, r.cfg.TLSFiles, fmt.Sprintf("peer %q", peer), "server.peer.ssl")
}

// writeLoop writes queued requests and pushes, flushing when idle.
func (pc *peerConn) writeLoop() {
	w := bufio.NewWriterSize(pc.nc, 64<<10)
	for {
		var b []byte
		select {
		case b = <-pc.reqs:
		case b = <-pc.pushes:
			pc.queued.Add(-int64(len(b)))
		case <-pc.closed:
			return
		}
		flush := len(pc.reqs) == 0 && len(pc.pushes) == 0
		if err := write(w, pc, b, flush); err != nil {
			pc.close()
			return
		}
	}
}

// readLoop applies the answers to this connection's requests.
func (pc *peerConn) readLoop() error {
	for {
		m, err := pc.read("")
		if err != nil {
			return err
		}
		// Is this part of a dump being tracked? (Sync sets it under mu.)
		pc.mu.Lock()
		inDump := pc.dumpSeq != 0 && m.seq == pc.dumpSeq
		pc.mu.Unlock()
		switch m.op {
		case "update":
			u, err := decodeUpdate(m)
			if err != nil {
				return fmt.Errorf("bad update from %s: %w", pc.name, err)
			}
			pc.r.apply(u, pc.name) // confirms the entry (see Sync)
		case "ticks":
			if inDump {
				pc.mu.Lock()
				pc.dumpComplete = m.complete
				pc.mu.Unlock()
			}
		case "acked":
			pc.r.acked(pc, m.tick)
		case "known":
			rs, err := chain.FromWire(m.ranges)
			if err != nil {
				return err
			}
			if err := pc.r.cfg.Tree.MarkKnown(m.node, &rs); err != nil {
				return fmt.Errorf("bad known from %s: %w", pc.name, err)
			}
		case "done":
			if inDump {
				pc.mu.Lock()
				complete := pc.dumpComplete
				pc.dumpComplete, pc.dumpSeq = nil, 0
				pc.mu.Unlock()
				pc.r.dropStale(complete)
			}
			pc.mu.Lock()
			ch := pc.pending[m.seq]
			delete(pc.pending, m.seq)
			pc.mu.Unlock()
			if ch != nil {
				ch <- nil
			}
		default:
			return fmt.Errorf("unexpected %q from %s", m.op, pc.name)
		}
	}
}

// announceLoop broadcasts this node's tick regularly.
func (r *Replica) announceLoop() {
	t := time.NewTicker(r.cfg.Announce)
	defer t.Stop()
	last := uint64(0)
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		tick, _ := r.cfg.Tree.Ticks()
		if tick == 0 && last == 0 {
			continue
		}
		last = tick
		if err := r.cfg.Gossip.Announce(appendTick(nil, r.cfg.Node, tick)); err != nil {
			r.log.Debug("announce failed", "err", err)
		}
	}
}

// listenLoop takes the others' announcements.
func (r *Replica) listenLoop() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case a, ok := <-r.cfg.Gossip.Announcements():
			if !ok {
				return
			}
			m, err := decodeMsg(a.Payload)
			if err != nil || m.op != "tick" || m.node == "" {
				r.log.Debug("dropped a malformed announcement", "from", a.From, "err", err)
				continue
			}
			if err := r.cfg.Tree.Announce(m.node, m.tick); err != nil {
				r.log.Warn("refused an announcement", "from", a.From, "err", err)
			}
		}
	}
}

// checkLoop connects to new peers, tells them the ticks this node knows
// of, and fetches missing ticks.
func (r *Replica) checkLoop() {
	t := time.NewTicker(r.cfg.Check)
	defer t.Stop()
	for {
		r.connect()
		r.tellTicks()
		r.fetchMissing()
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tellTicks sends every connected peer the highest tick this node knows
// of every node. So a change that reached only this node is found
// missing by the others even if its origin is gone and announces nothing.
func (r *Replica) tellTicks() {
	ticks, complete, known := r.cfg.Tree.NodeTicks(), r.cfg.Tree.Complete(), r.cfg.Tree.Known()
	for _, pc := range r.connected("") {
		yours := known[pc.name]
		select {
		case pc.reqs <- appendTicks(nil, 0, ticks, complete, &yours):
		default: // busy: next time
		}
	}
}

// connect dials the peers this node has no connection to.
func (r *Replica) connect() {
	for _, p := range r.cfg.Gossip.Peers() {
		if p.Name == r.cfg.Node || p.Addr == "" {
			continue
		}
		r.mu.Lock()
		busy := r.out[p.Name] != nil || r.dials[p.Name]
		if !busy {
			r.dials[p.Name] = true
		}
		r.mu.Unlock()
		if !busy {
			r.goFunc(func() { r.dial(p) })
		}
	}
}

// connected returns the outgoing connections, the origin's first if it
// is among them.
func (r *Replica) connected(prefer string) []*peerConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*peerConn, 0, len(r.out))
	for _, pc := range r.out {
		out = append(out, pc)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].name == prefer) != (out[j].name == prefer) {
			return out[i].name == prefer
		}
		return out[i].name < out[j].name
	})
	return out
}

// fetchMissing asks peers, one at a time, for the ticks this node has
// missed since the previous check, in one request each (one walk of the
// peer's tree), until nothing is missing. A peer that is an origin of
// missing ticks is asked first.
func (r *Replica) fetchMissing() {
	now := r.cfg.Tree.Missing()
	miss := make(map[string]chain.RangeSet, len(now))
	for node, rs := range now {
		if old := rs.Intersect(r.missed[node]); old.Len() > 0 {
			miss[node] = old
		}
	}
	r.missed = now
	if len(now) == 0 && r.behind {
		r.behind = false
		r.lastCatchUp.Store(int64(time.Since(r.behindAt)))
		r.log.Info("caught up: this server holds every change it knows of")
	}
	if len(miss) == 0 {
		r.unheld = nil
		return
	}
	if !r.behind {
		r.behind, r.behindAt = true, time.Now()
	}
	prefer := ""
	for node := range miss {
		prefer = node
		break
	}
	answered := map[string]bool{}
	for _, pc := range r.connected(prefer) {
		ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
		r.pulls.Add(1)
		err := pc.request(ctx, func(seq uint64) []byte { return appendPull(nil, seq, miss) })
		cancel()
		if err != nil {
			r.log.Debug("pull failed", "peer", pc.name, "err", err)
			continue
		}
		answered[pc.name] = true
		// What is still missing of it: not seen by this peer either.
		now := r.cfg.Tree.Missing()
		var got uint64
		for node, rs := range miss {
			left := rs.Intersect(now[node])
			got += rs.Len() - left.Len()
			if left.Len() == 0 {
				delete(miss, node)
			} else {
				miss[node] = left
			}
		}
		if got > 0 {
			r.log.Info("fetched changes this server had missed", "peer", pc.name, "ticks", got)
		}
		if len(miss) == 0 {
			r.unheld = nil
			return
		}
	}
	r.giveUp(miss, answered)
}

// giveUp stops looking for the missing ticks that no server of the
// network holds: every member (failed ones included, as they may come
// back with them) answered a pull for them without them, in two checks in
// a row. Such ticks were never used (a server that starts again skips the
// ticks up to its clock, see core/server's TickFloor) or were lost with a
// server that crashed before passing them on. Looking on would cost every
// member a walk of its tree per check, forever, and hold back the purge of
// that node's tombstones. (Two checks, because a member may have been
// asked just before it fetched them from another that was asked after.)
func (r *Replica) giveUp(miss map[string]chain.RangeSet, answered map[string]bool) {
	members := r.cfg.Gossip.Members()
	if !slices.Contains(members, r.cfg.Node) { // not a list to trust
		r.unheld = nil
		return
	}
	for _, m := range members {
		if m != r.cfg.Node && !answered[m] {
			r.unheld = nil
			return
		}
	}
	prev := r.unheld
	r.unheld = miss
	for node, rs := range miss {
		gone := rs.Intersect(prev[node])
		if gone.Len() == 0 {
			continue
		}
		if err := r.cfg.Tree.MarkKnown(node, &gone); err != nil {
			r.log.Warn("cannot stop looking for ticks", "node", node, "err", err)
			continue
		}
		r.unheldTicks.Add(gone.Len())
		r.log.Info("no server holds these ticks: never used, or lost in a crash; no longer looked for",
			"node", node, "ticks", gone.String())
	}
}

// ErrNoPeer is returned by Sync when no peer could be reached.
var ErrNoPeer = errors.New("no peer to sync from")

// Sync downloads the whole state from a live peer and returns when it is
// applied. It waits for a peer until ctx ends.
func (r *Replica) Sync(ctx context.Context) error {
	for {
		r.connect()
		for _, pc := range r.connected("") {
			// Every update the dump brings confirms its entry; those left
			// unconfirmed may be stale (see dropStale).
			r.cfg.Tree.Unconfirm()
			start := time.Now()
			err := pc.request(ctx, func(seq uint64) []byte {
				pc.mu.Lock()
				pc.dumpSeq = seq
				pc.mu.Unlock()
				return appendOp(nil, "dump", seq)
			})
			if err == nil {
				r.lastSync.Store(int64(time.Since(start)))
				r.log.Info("synced", "from", pc.name)
				r.awaitDials(ctx)
				return nil
			}
			r.log.Warn("sync failed", "peer", pc.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoPeer, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitDials waits until every peer being dialed has answered or failed
// (a handshake ends within handshakeTimeout): each answer tells the
// highest tick of this node that peer has seen, and a server must know
// them all before it makes changes, or it could reuse a tick that one of
// them holds (after a restart without its log, or with a log that missed
// the last changes).
func (r *Replica) awaitDials(ctx context.Context) {
	for {
		r.mu.Lock()
		n := 0
		for name := range r.dials {
			if r.out[name] == nil { // still dialing or in its handshake
				n++
			}
		}
		r.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dropStale removes, after a full download, the local entries the sender
// did not send although it has seen their newest change: they were deleted
// and purged while this server was away (or loaded an old log). An entry
// that changed meanwhile was confirmed by that change and stays.
func (r *Replica) dropStale(complete map[string]uint64) {
	if complete == nil {
		return
	}
	for _, p := range r.cfg.Tree.DropUnconfirmed(complete) {
		r.stale.Add(1)
		r.log.Info("dropped an entry the network deleted meanwhile", "path", p.String())
	}
}

// purgeLoop purges the tombstones every member of the network has seen.
func (r *Replica) purgeLoop() {
	t := time.NewTicker(r.cfg.Purge)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		if h := r.horizon(); h != nil {
			if n := r.cfg.Tree.Purge(h); n > 0 {
				r.purged.Add(uint64(n))
				r.log.Debug("purged tombstones", "count", n)
			}
		}
	}
}

// horizon is, per node, the lowest gap-free tick horizon of all members;
// nil while a member has not reported its own.
func (r *Replica) horizon() map[string]uint64 {
	h := r.cfg.Tree.Complete()
	// Not under mu: Members may ask an external agent (a network call),
	// and every local change takes mu.
	members := r.cfg.Gossip.Members()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range members {
		if m == r.cfg.Node {
			continue
		}
		c, ok := r.complete[m]
		if !ok {
			return nil
		}
		for n, t := range h {
			h[n] = min(t, c[n])
		}
	}
	return h
}
