// Package replica keeps the trees of a network's servers the same:
// changes go from their origin to the other servers over direct TCP
// streams, and whatever a server misses it fetches from a peer.
//
// # How
//
// Every server counts its changes (ticks) and knows, per origin node,
// which ticks it has seen (tree.Known): applied here, or reported
// superseded by a peer. Ticks announced over gossip or in a handshake raise
// the highest tick known of a node; the ticks below it that are not seen
// are missing (tree.Missing). So:
//
//   - a local change is pushed at once to every connected peer, in order;
//   - every Check interval, a server asks a peer (the origin if it can) for
//     the ticks it has missed since the previous check at least (younger
//     gaps are mostly pushes on their way, and a pull costs the peer a
//     walk of its tree); the peer answers with the entries whose chains
//     hold those ticks, and with the ticks it has seen (so superseded ones
//     stop being missing);
//   - a server starting without data downloads everything from a peer
//     (Sync) before it answers clients.
//
// Deletions keep a tombstone (the entry's chain without a value) until
// every member of the network has seen them: each server reports, per
// node, the highest tick up to which it has seen everything (its horizon,
// tree.Complete), and a tombstone goes when every member that has not
// left the network (a failed one included) reports a horizon at or above
// its tick. A server that downloads everything (Sync) drops the local
// entries the sender did not send although it has seen their newest
// change: deleted and purged while it was away. So tombstones do not pile
// up, and a deleted entry does not come back.
//
// After a split heals, nobody drives the repair: each server pulls what
// it misses, from one peer at a time (the origin first), and stops when
// nothing is missing. (The original DistKV elects one server per side to
// resend over gossip what the other side lacks.) So every change crosses
// once to each server that lacks it, however many servers each side has,
// no server waits for a driver that may have failed, and a node that
// could reach only some peers during the split repairs like any other.
//
// Ticks that no member of the network holds (a restarted server skips
// ticks up to its clock, see core/server; a crash may lose some) are
// given up once every member has said so twice (giveUp), so they are not
// looked for for ever.
//
// Nothing rests on gossip delivering an announcement: they are repeated,
// a handshake carries the tick too, and peers tell each other the highest
// tick they know of every node, so a change that reached only one server
// before its origin died is still found missing by the others.
//
// # Peer protocol
//
// msgpack maps over TCP, framed like the client protocol (core/wire).
// First a mutual challenge-response (handshake.go): the dialing side
// sends {op: hello, root, node, tick, nonce}, the other side answers with
// its own hello, the dialing side sends {op: proof, mac} and, only once it
// has checked that proof, the other side sends its own. A proof is
// HMAC-SHA256 under the network key over both nonces, both names, the
// network and the sender's role, so it cannot be replayed on another
// connection, reflected to its maker, or used under another name. Until
// a peer has proved the key, its messages may have 4 KiB at most (then
// 256 MiB, drawing on the server's input budget). Without a key the
// handshake proves nothing: anyone who reaches the port is a peer. The
// stream itself is neither encrypted nor authenticated, so someone on
// the path between two servers can read and change it, unless it runs
// over TLS (Config.TLS and DialTLS; the TLS handshake comes first, in the
// connection's goroutine, within the handshake timeout).
// Then the dialing side sends pushes {op: push, path, value, chain, tock}
// (its own changes only: a push in another node's name ends the
// connection), every Check interval {op: ticks, ticks: {node: highest tick
// known}, complete: {node: gap-free horizon}, yours: ranges of the other
// side's ticks seen here}, and requests {op: pull, seq, want: {node:
// ranges}} and {op: dump, seq}, which the other side answers with {op:
// update, seq, …}, {op: known, seq, node, ranges} and finally {op: done,
// seq}. If the dialer's hello said acks, the other side acknowledges pushes
// with {op: acked, tick} once it has applied them (see Confirmed: ack peer).
// Ticks and tocks above chain.MaxTick are refused, never let wrap. A malformed message ends the
// connection (with a log line); the dialer connects again later.
package replica

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/budget"
	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/quietlog"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/core/tree"
)

// Peer is another server of the network.
type Peer struct {
	Name string
	Addr string // its peer listener, "host:port"
}

// Announcement is a small broadcast from another server.
type Announcement struct {
	From    string
	Payload []byte
}

// Gossip is what replication needs of the gossip layer. The server adapts
// core/gossip to it; tests use a fake.
type Gossip interface {
	// Peers returns the other live servers of the network.
	Peers() []Peer
	// Members returns the names of every server of the network that has
	// not left it: live ones, and failed ones that may come back. Tombstones
	// are purged only once all of them have seen the deletion.
	Members() []string
	// Announce broadcasts a small payload (lossy, unordered).
	Announce(payload []byte) error
	// Announcements delivers the others' broadcasts.
	Announcements() <-chan Announcement
}

// Config configures a Replica. Zero fields take the defaults in brackets.
type Config struct {
	Tree   *tree.Tree // required
	Node   string     // this server's name (required)
	Root   string     // network name; peers of other networks are refused
	Key    []byte     // network key: peers must prove they hold the same [none]
	Gossip Gossip     // required

	// Listener is the peer listener; or Listen is where to open one
	// ["127.0.0.1:0"].
	Listener net.Listener
	Listen   string
	// Dial connects to a peer [net.Dialer]; tests cut links with it.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// TLS, if set, makes the peer listener speak TLS; DialTLS, if set,
	// is TLS on connections to peers, its ServerName set to the peer's
	// node name, which the peer's certificate must carry. When TLS
	// requires client certificates (ClientAuth), a peer that connects
	// must present one that carries the node name its hello claims.
	// TLSFiles names the files they were made of, for log lines. nil:
	// plain TCP.
	TLS, DialTLS *tls.Config
	TLSFiles     tlsconf.Files

	Announce time.Duration // how often to announce this node's tick [1s]
	Check    time.Duration // how often to look for missing ticks and new peers [1s]
	Purge    time.Duration // how often to purge tombstones every member has seen [1m]
	// A peer that falls behind may have Queue pushes of QueueBytes in all
	// waiting [65536, 64 MiB]; further pushes to it are dropped, and it
	// fetches them later. At 100k changes/s that is more than half a
	// second of slack.
	Queue      int
	QueueBytes int64
	Logger     *slog.Logger // [slog.Default()]
	// Budget bounds the memory of messages from peers that have not
	// arrived whole, shared with the server's client connections; nil:
	// no bound but the size of a message (256 MiB). Before its handshake
	// a peer's messages may have 4 KiB at most, outside the budget.
	Budget *budget.Budget

	// Login is this server's login for its peers (connect.auth); nil:
	// none. CheckLogin, if set, decides whether a peer may be one: it
	// gets the peer's login (nil if it sent none) and returns why not.
	Login      *auth.Login
	CheckLogin func(peer string, l *PeerLogin) error
}

// Stats count what replication did.
type Stats struct {
	Pushed    uint64 // changes sent to peers
	Received  uint64 // updates received and applied
	Conflicts uint64 // concurrent changes resolved (one side's change lost)
	Dropped   uint64 // pushes dropped because a peer was behind (fetched later)
	Pulls     uint64 // requests for missing ticks sent
	Purged    uint64 // tombstones purged
	Stale     uint64 // entries dropped after a download: deleted and purged elsewhere
	Unheld    uint64 // ticks no server holds, no longer looked for (see giveUp)

	Peers         int    // peers this server is connected to (its outgoing connections)
	BytesSent     uint64 // peer messages sent, handshakes included (TLS's own bytes not)
	BytesReceived uint64 // peer messages received, likewise
	// LastSync is how long the last download of everything took (Sync);
	// LastCatchUp how long this server last missed changes: from the
	// check that found them missing to the one that found nothing
	// missing. Zero: none yet.
	LastSync, LastCatchUp time.Duration
}

// Connected returns the names of the peers this server has an outgoing
// connection to (it pushes its changes through them), sorted.
func (r *Replica) Connected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.out))
}

// RemoteMissing returns, per node, the ticks peers last asked this server
// for: what others were missing.
func (r *Replica) RemoteMissing() map[string]chain.RangeSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]chain.RangeSet, len(r.remote))
	for n, rs := range r.remote {
		out[n] = rs.Clone()
	}
	return out
}

// Replica replicates one tree. Safe for concurrent use.
type Replica struct {
	cfg   Config
	log   *slog.Logger
	quiet quietlog.Log // repeated warnings (see warn)
	ln    net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stopWatch func()

	mu    sync.Mutex             // protects the fields below
	out   map[string]*peerConn   // outgoing connections, by peer name
	dials map[string]bool        // dials under way
	in    map[*peerConn]struct{} // incoming connections, and outgoing ones in their handshake
	// remote holds, per node, the ticks a peer last asked for: what the
	// others miss (get_state's remote_missing).
	remote map[string]chain.RangeSet
	// complete holds, per peer, its last reported gap-free tick horizon per
	// node (tree.Complete); it only grows while the peer runs.
	complete map[string]map[string]uint64

	// missed is what was missing at the previous check, and behind says
	// whether a fetch was needed since this server last missed nothing,
	// since behindAt (checkLoop only).
	missed   map[string]chain.RangeSet
	behind   bool
	behindAt time.Time
	// unheld is what every member said it lacks at the previous check
	// (checkLoop only; see giveUp).
	unheld map[string]chain.RangeSet
	// confirmed holds this node's ticks that another server has applied
	// (see Confirmed); confirmCh, if not nil, is closed when it grows.
	confirmed chain.RangeSet
	confirmCh chan struct{}

	pushed, received, conflicts, dropped, pulls, purged, stale, unheldTicks atomic.Uint64
	bytesOut, bytesIn                                                       atomic.Uint64
	lastSync, lastCatchUp                                                   atomic.Int64 // nanoseconds
}

// New checks the config and opens the peer listener; Start begins work.
func New(cfg Config) (*Replica, error) {
	if cfg.Tree == nil || cfg.Gossip == nil || cfg.Node == "" {
		return nil, errors.New("replica: Tree, Gossip and Node are required")
	}
	if cfg.Announce <= 0 {
		cfg.Announce = time.Second
	}
	if cfg.Check <= 0 {
		cfg.Check = time.Second
	}
	if cfg.Purge <= 0 {
		cfg.Purge = time.Minute
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1 << 16
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	ln := cfg.Listener
	if ln == nil {
		if cfg.Listen == "" {
			cfg.Listen = "127.0.0.1:0"
		}
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("peer listener on %s: %w", cfg.Listen, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Replica{
		cfg: cfg, log: cfg.Logger.With("node", cfg.Node), ln: ln, ctx: ctx, cancel: cancel,
		out: map[string]*peerConn{}, dials: map[string]bool{}, in: map[*peerConn]struct{}{}, remote: map[string]chain.RangeSet{}, complete: map[string]map[string]uint64{},
	}, nil
}

// Addr is the peer listener's address, to advertise in gossip tags.
func (r *Replica) Addr() string { return r.ln.Addr().String() }

// Stats returns the counters.
func (r *Replica) Stats() Stats {
	r.mu.Lock()
	peers := len(r.out)
	r.mu.Unlock()
	return Stats{Pushed: r.pushed.Load(), Received: r.received.Load(), Conflicts: r.conflicts.Load(),
		Dropped: r.dropped.Load(), Pulls: r.pulls.Load(), Purged: r.purged.Load(), Stale: r.stale.Load(),
		Unheld: r.unheldTicks.Load(), Peers: peers, BytesSent: r.bytesOut.Load(), BytesReceived: r.bytesIn.Load(),
		LastSync: time.Duration(r.lastSync.Load()), LastCatchUp: time.Duration(r.lastCatchUp.Load())}
}

// Start serves peers, pushes local changes, announces ticks and fetches
// what is missing, until Close. After Close it does nothing.
func (r *Replica) Start() {
	if r.ctx.Err() != nil {
		return
	}
	_, r.stopWatch = r.cfg.Tree.Watch(path.Root, r.local)
	r.goFunc(r.accept)
	r.goFunc(r.announceLoop)
	r.goFunc(r.listenLoop)
	r.goFunc(r.checkLoop)
	r.goFunc(r.purgeLoop)
}

// goFunc runs fn in a goroutine that Close waits for; once Close has
// begun it runs nothing and returns false. (Close cancels before it takes
// mu, so no goroutine is added while it waits.)
func (r *Replica) goFunc(fn func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
	return true
}

// conns returns every connection, outgoing and incoming.
func (r *Replica) conns() []*peerConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	conns := make([]*peerConn, 0, len(r.out)+len(r.in))
	for _, pc := range r.out {
		conns = append(conns, pc)
	}
	for pc := range r.in {
		conns = append(conns, pc)
	}
	return conns
}

// Close stops everything and closes every connection. Idempotent.
func (r *Replica) Close() error {
	r.cancel()
	if r.stopWatch != nil {
		r.stopWatch()
	}
	r.ln.Close()
	for _, pc := range r.conns() {
		pc.close()
	}
	r.wg.Wait()
	return nil
}

// local queues a change made on this node for every connected peer. It
// runs under the tree lock: it must not block.
func (r *Replica) local(it *tree.Item) {
	if it.Head.Node == nil || it.Head.Node.Name != r.cfg.Node {
		return // not ours: its origin pushes it
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.out) == 0 {
		return
	}
	msg := appendUpdate(nil, "push", 0, it)
	tick := it.Head.Tick
	for _, pc := range r.out {
		if pc.first == 0 {
			pc.first = tick
		}
		if pc.push(msg) {
			r.pushed.Add(1)
		} else {
			pc.dropped.AddTick(tick)
			r.dropped.Add(1)
		}
	}
}

// acked takes a peer's acknowledgement of the pushes on pc up to tick:
// those it was sent are confirmed (not those made before the connection
// was up, nor those dropped when it was behind).
func (r *Replica) acked(pc *peerConn, tick uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo := max(pc.first, pc.ackedTo+1)
	if pc.first == 0 || tick < lo {
		return
	}
	pc.ackedTo = tick
	got := pc.dropped.Complement(lo, tick+1)
	for _, x := range got.Ranges() {
		r.confirmed.Add(x.Lo, x.Hi)
	}
	r.wakeConfirmed()
}

// completeAt takes a peer's report that it has seen every change of this
// node up to tick.
func (r *Replica) completeAt(tick uint64) {
	if tick == 0 {
		return
	}
	var rs chain.RangeSet
	rs.Add(1, tick+1)
	r.seenThere(&rs)
}

// seenThere takes a peer's report of the changes of this node it has
// seen (its known ticks: applied, or superseded by a later change there).
func (r *Replica) seenThere(rs *chain.RangeSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	grew := false
	for _, x := range rs.Ranges() {
		if r.confirmed.Complement(x.Lo, x.Hi).Len() > 0 {
			r.confirmed.Add(x.Lo, x.Hi)
			grew = true
		}
	}
	if grew {
		r.wakeConfirmed()
	}
}

// wakeConfirmed wakes those waiting for confirmations; r.mu is held.
func (r *Replica) wakeConfirmed() {
	if r.confirmCh != nil {
		close(r.confirmCh)
		r.confirmCh = nil
	}
}

// PeersUp reports whether another server of the network is up, one that
// could confirm a change.
func (r *Replica) PeersUp() bool {
	r.mu.Lock()
	connected := len(r.out) > 0
	r.mu.Unlock()
	// Peers may ask an external agent (a network call): only when no
	// connection is up, as when a server starts.
	return connected || len(r.cfg.Gossip.Peers()) > 0
}

// Confirmed reports whether another server has applied this node's change
// of tick: it acknowledged the push, or reported that it has seen every
// change of this node up to it.
func (r *Replica) Confirmed(tick uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.confirmed.Contains(tick)
}

// WaitConfirmed waits until Confirmed(tick), or ctx ends.
func (r *Replica) WaitConfirmed(ctx context.Context, tick uint64) error {
	for {
		r.mu.Lock()
		if r.confirmed.Contains(tick) {
			r.mu.Unlock()
			return nil
		}
		if r.confirmCh == nil {
			r.confirmCh = make(chan struct{})
		}
		ch := r.confirmCh
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ctx.Done():
			return errors.New("replication stopped")
		}
	}
}

// apply merges an update from a peer; false: refused.
func (r *Replica) apply(u tree.Update, from string) bool {
	out, err := r.cfg.Tree.Apply(u)
	if err != nil {
		r.log.Warn("update refused", "from", from, "path", u.Path.String(), "err", err)
		return false
	}
	r.received.Add(1)
	switch out {
	case tree.Lost:
		r.conflicts.Add(1)
		r.log.Info("conflict: kept the change here, dropped a concurrent one", "path", u.Path.String(), "from", from, "dropped", fmt.Sprint(u.Chain))
	case tree.Overruled:
		r.conflicts.Add(1)
		r.log.Info("conflict: a concurrent change replaced the one here", "path", u.Path.String(), "from", from, "winner", fmt.Sprint(u.Chain))
	}
	return true
}
