package gossip

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Network is an in-memory gossip network for tests: the nodes it makes
// behave as embedded Serf nodes do, and the test cuts and heals the links
// between them (Partitioner). Deterministic (no goroutine of its own; a
// timer marks failures) and fast. Safe for concurrent use.
//
// The model: a node knows the nodes it joined and, transitively, those they
// know. It sees a known node alive while each can reach the other, directly
// or through other open nodes (Serf probes indirectly and gossips through
// third nodes); once it has not for FailAfter, it sees it failed, and alive
// again (a MemberJoin) as soon as they reach each other. A user event
// reaches the sender and every node the sender can reach. Join needs both
// directions of the direct link, like memberlist's TCP push-pull. A node
// that closes is seen as left by the nodes it can reach then, and by the
// others when they next reach one that knows; until then they see it fail.
type Network struct {
	failAfter  time.Duration
	eventLimit int
	buffer     int
	log        *slog.Logger

	mu     sync.Mutex // protects the fields below and the state of every Node
	nodes  map[string]*Node
	cuts   links
	ltime  uint64
	port   uint16
	timer  *time.Timer // the next failure deadline
	closed bool
}

var _ Partitioner = (*Network)(nil)

// NetworkOption configures a Network.
type NetworkOption func(*Network)

// FailAfter sets how long a member must be unreachable before it is seen as
// failed. Default 50 ms.
func FailAfter(d time.Duration) NetworkOption { return func(n *Network) { n.failAfter = d } }

// EventLimit sets the user event size limit, as Config.UserEventSizeLimit
// (with the network name DefaultRoot). Default 512.
func EventLimit(limit int) NetworkOption { return func(n *Network) { n.eventLimit = limit } }

// EventBuffer sets the capacity of each node's Events channel. Default 1024.
func EventBuffer(size int) NetworkOption { return func(n *Network) { n.buffer = size } }

// NetworkLogger sets the logger for dropped events. Default slog.Default().
func NetworkLogger(l *slog.Logger) NetworkOption { return func(n *Network) { n.log = l } }

// NewNetwork returns an empty network.
func NewNetwork(opts ...NetworkOption) *Network {
	n := &Network{
		failAfter:  50 * time.Millisecond,
		eventLimit: defaultEventLimit,
		buffer:     defaultEventBuffer,
		log:        slog.Default(),
		nodes:      map[string]*Node{},
		cuts:       links{},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Node is a member of a Network. Safe for concurrent use.
type Node struct {
	net    *Network
	name   string
	addr   netip.AddrPort
	events *sink

	// Protected by net.mu.
	tags   map[string]string
	closed bool
	group  map[*Node]bool    // the nodes this one knows, itself included; shared by them all
	view   map[string]*known // what this node sees of each member
	told   map[*Node]bool    // once closed: the nodes that heard it leave
}

// known is a node's view of one member.
type known struct {
	m     Member
	node  *Node     // the incarnation seen
	since time.Time // unreachable since; zero while reachable
}

var _ Gossip = (*Node)(nil)

// Node starts a node that knows only itself, as a new Serf node does: it
// gets a MemberJoin for itself. It panics if a node of that name is open,
// the tags are invalid, or the network is closed (programmer errors). A
// closed node's name can be used again: that is a restart.
func (n *Network) Node(name string, tags map[string]string) *Node {
	if err := checkTags(tags, DefaultRoot); err != nil {
		panic(fmt.Sprintf("gossip: fake node %s: %v", name, err))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		panic("gossip: fake network is closed")
	}
	if old := n.nodes[name]; old != nil {
		if !old.closed {
			panic(fmt.Sprintf("gossip: fake node %s exists", name))
		}
		delete(old.group, old) // a restarted node knows nobody
	}
	n.port++
	node := &Node{
		net:    n,
		name:   name,
		addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 10000+n.port),
		events: newSink(n.buffer, n.log.With("node", name)),
		tags:   withoutRoot(tags),
		view:   map[string]*known{},
	}
	node.group = map[*Node]bool{node: true}
	n.nodes[name] = node
	n.update()
	return node
}

// Close closes every open node (each leaves) and stops the network.
func (n *Network) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(n.nodes)) {
		if node := n.nodes[name]; !node.closed {
			node.closeLocked()
		}
	}
	n.closed = true
	if n.timer != nil {
		n.timer.Stop()
	}
}

// Cut cuts both directions between a and b.
func (n *Network) Cut(a, b string) { n.setLinks(true, link{a, b}, link{b, a}) }

// CutOneWay cuts what from sends to to.
func (n *Network) CutOneWay(from, to string) { n.setLinks(true, link{from, to}) }

// Heal restores both directions between a and b.
func (n *Network) Heal(a, b string) { n.setLinks(false, link{a, b}, link{b, a}) }

// HealOneWay restores what from sends to to.
func (n *Network) HealOneWay(from, to string) { n.setLinks(false, link{from, to}) }

// Isolate cuts name from every other node of the network.
func (n *Network) Isolate(name string) {
	n.mu.Lock()
	var ls []link
	for other := range n.nodes {
		if other != name {
			ls = append(ls, link{name, other}, link{other, name})
		}
	}
	n.mu.Unlock()
	n.setLinks(true, ls...)
}

// HealAll restores every link.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
	n.update()
}

func (n *Network) setLinks(cut bool, ls ...link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range ls {
		n.cuts.set(l.from, l.to, cut)
	}
	n.update()
}

// reach returns the open nodes of from's group that from reaches over
// open links, from included.
func (n *Network) reach(from *Node) map[*Node]bool {
	seen := map[*Node]bool{from: true}
	todo := []*Node{from}
	for len(todo) > 0 {
		a := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for b := range from.group {
			if !b.closed && !seen[b] && !n.cuts.cut(a.name, b.name) {
				seen[b] = true
				todo = append(todo, b)
			}
		}
	}
	return seen
}

// update brings every open node's view up to date with the links, tags and
// closed nodes, sends the resulting events and sets the timer for the next
// failure. Called with mu held after every change.
func (n *Network) update() {
	now := time.Now()
	var open []*Node
	for _, name := range slices.Sorted(maps.Keys(n.nodes)) {
		if node := n.nodes[name]; !node.closed {
			open = append(open, node)
		}
	}
	reach := map[*Node]map[*Node]bool{}
	for _, o := range open {
		reach[o] = n.reach(o)
	}
	mutual := func(a, b *Node) bool { return reach[a][b] && reach[b][a] }

	// Leaves spread among the nodes that reach each other.
	for changed := true; changed; {
		changed = false
		for _, o := range open {
			for p := range o.group {
				// A node that joined after p closed never knew p: there is
				// nothing for it to see leave.
				if k := o.view[p.name]; !p.closed || k == nil || k.node != p || o.sees(p, Left) {
					continue
				}
				heard := p.told[o]
				for _, q := range open {
					heard = heard || (mutual(o, q) && q.sees(p, Left))
				}
				if heard {
					o.setView(p, Left)
					changed = true
				}
			}
		}
	}

	var next time.Time
	for _, o := range open {
		for _, p := range sortedGroup(o.group) {
			if p.closed && o.sees(p, Left) {
				continue
			}
			if !p.closed && mutual(o, p) {
				o.reachable(p)
				continue
			}
			if deadline, ok := o.unreachable(p, now, n.failAfter); ok && (next.IsZero() || deadline.Before(next)) {
				next = deadline
			}
		}
	}
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	if !next.IsZero() {
		n.timer = time.AfterFunc(time.Until(next), func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if !n.closed {
				n.update()
			}
		})
	}
}

func sortedGroup(g map[*Node]bool) []*Node {
	out := slices.Collect(maps.Keys(g))
	slices.SortFunc(out, func(a, b *Node) int {
		if a.name != b.name {
			if a.name < b.name {
				return -1
			}
			return 1
		}
		if !a.closed { // the open incarnation last: it wins
			return 1
		}
		return -1
	})
	return out
}

// sees reports whether o sees incarnation p with status st.
func (o *Node) sees(p *Node, st Status) bool {
	k := o.view[p.name]
	return k != nil && k.node == p && k.m.Status == st
}

func (o *Node) setView(p *Node, st Status) {
	k := o.view[p.name]
	k.m.Status = st
	kind := map[Status]Kind{Left: MemberLeave, Failed: MemberFailed}[st]
	o.emit(kind, k.m)
}

// reachable: o and p reach each other.
func (o *Node) reachable(p *Node) {
	k := o.view[p.name]
	switch {
	case k == nil:
		k = &known{m: Member{Name: p.name, Addr: p.addr, Tags: maps.Clone(p.tags), Status: Alive}, node: p}
		o.view[p.name] = k
		o.emit(MemberJoin, k.m)
	case k.m.Status != Alive:
		k.m = Member{Name: p.name, Addr: p.addr, Tags: maps.Clone(p.tags), Status: Alive}
		k.node = p
		o.emit(MemberJoin, k.m)
	case !maps.Equal(k.m.Tags, p.tags) || k.node != p:
		k.m.Tags, k.m.Addr, k.node = maps.Clone(p.tags), p.addr, p
		o.emit(MemberUpdate, k.m)
	}
	k.since = time.Time{}
}

// unreachable: o does not reach p (or p is closed). It returns when p is to
// be seen as failed, if it is not yet.
func (o *Node) unreachable(p *Node, now time.Time, failAfter time.Duration) (time.Time, bool) {
	k := o.view[p.name]
	if k == nil { // heard of through others
		k = &known{m: Member{Name: p.name, Addr: p.addr, Tags: maps.Clone(p.tags), Status: Alive}, node: p}
		o.view[p.name] = k
		o.emit(MemberJoin, k.m)
	}
	if k.m.Status != Alive {
		return time.Time{}, false
	}
	if k.since.IsZero() {
		k.since = now
	}
	if deadline := k.since.Add(failAfter); now.Before(deadline) {
		return deadline, true
	}
	k.m.Status = Failed
	o.emit(MemberFailed, k.m)
	return time.Time{}, false
}

func (o *Node) emit(kind Kind, m Member) {
	o.events.deliver(Event{Kind: kind, Members: []Member{m.Clone()}})
}

// LocalName returns the node's name.
func (o *Node) LocalName() string { return o.name }

// NameConflict is always nil: the fake has one open node per name.
func (o *Node) NameConflict() error { return nil }

// NameLost is nil: a fake node never loses its name.
func (o *Node) NameLost() <-chan struct{} { return nil }

// Addr returns the node's made-up gossip address; Join accepts it.
func (o *Node) Addr() netip.AddrPort { return o.addr }

// Members returns what this node sees (see Gossip).
func (o *Node) Members() []Member {
	o.net.mu.Lock()
	defer o.net.mu.Unlock()
	out := make([]Member, 0, len(o.view))
	for _, k := range o.view {
		out = append(out, k.m.Clone())
	}
	sortMembers(out)
	return out
}

// Events returns the event channel (see Gossip).
func (o *Node) Events() <-chan Event { return o.events.ch }

// Dropped returns the number of events dropped for a slow consumer.
func (o *Node) Dropped() uint64 { return o.events.dropped.Load() }

// MaxPayload returns the largest payload Broadcast accepts for name.
func (o *Node) MaxPayload(name string) int {
	return maxPayload(DefaultRoot, name, o.net.eventLimit)
}

// Broadcast delivers a user event to this node and every node it reaches.
func (o *Node) Broadcast(name string, payload []byte) error {
	if max := o.MaxPayload(name); len(payload) > max {
		return fmt.Errorf("broadcast %q: %d bytes, at most %d: %w", name, len(payload), max, ErrTooLarge)
	}
	n := o.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	n.ltime++
	for _, p := range sortedGroup(n.reach(o)) {
		p.events.deliver(Event{Kind: User, Name: name, Payload: bytes.Clone(payload), LTime: n.ltime})
	}
	return nil
}

// Join merges the networks of the nodes named (or at the Addr) given; it
// needs both directions of the direct link to each.
func (o *Node) Join(addrs []string) (int, error) {
	n := o.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.closed {
		return 0, ErrClosed
	}
	joined := 0
	var failed []string
	for _, a := range addrs {
		t := n.lookup(a)
		if t == nil || t.closed || !n.cuts.open(o.name, t.name) {
			failed = append(failed, a)
			continue
		}
		joined++
		if o.group[t] {
			continue
		}
		merged := maps.Clone(o.group)
		maps.Copy(merged, t.group)
		for p := range merged {
			p.group = merged
		}
	}
	n.update()
	if joined == 0 {
		return 0, fmt.Errorf("join %v: %w: cannot reach %v", addrs, ErrNoJoin, failed)
	}
	return joined, nil
}

func (n *Network) lookup(addr string) *Node {
	if node := n.nodes[addr]; node != nil {
		return node
	}
	for _, node := range n.nodes {
		if node.addr.String() == addr {
			return node
		}
	}
	return nil
}

// SetTags replaces the node's tags; the nodes that reach it see the change.
func (o *Node) SetTags(tags map[string]string) error {
	if err := checkTags(tags, DefaultRoot); err != nil {
		return err
	}
	n := o.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	o.tags = withoutRoot(tags)
	n.update()
	return nil
}

// Close leaves the network: the nodes it reaches see it leave, the others
// see it fail until they hear of it. Idempotent.
func (o *Node) Close() error {
	n := o.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if !o.closed {
		o.closeLocked()
		n.update()
	}
	return nil
}

func (o *Node) closeLocked() {
	o.told = o.net.reach(o)
	o.closed = true
	if k := o.view[o.name]; k != nil {
		k.m.Status = Left
	}
	close(o.events.ch)
}
