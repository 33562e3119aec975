package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Serf is an embedded Serf node: membership and user events of one network,
// in this process. Safe for concurrent use.
type Serf struct {
	cfg    Config
	log    *slog.Logger
	serf   *serf.Serf
	serfCh chan serf.Event // Serf sends here; only pump reads
	events *sink
	filter *rootFilter // pump's
	disc   *discovery
	guard  *nameGuard

	ctx      context.Context // ends background tasks (join retries, discovery)
	cancel   context.CancelFunc
	stopPump chan struct{} // closed once Serf is shut down
	wg       sync.WaitGroup

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ Gossip = (*Serf)(nil)

// serfBuffer is the capacity of the channel Serf sends its events to. Serf
// sends while holding its member lock, so pump drains it at once; the
// buffer absorbs bursts, and the sends that may still come from Serf's
// goroutines after Shutdown, when pump has stopped.
const serfBuffer = 1024

// NewSerf starts an embedded Serf node as cfg says, joins cfg.Join and, if
// cfg.Discover is set, starts mDNS discovery. Close stops it.
func NewSerf(cfg Config) (*Serf, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kr, err := keyring(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.NodeName)
	std := stdLogger(log)

	transport, err := newTransport(cfg, std, log)
	if err != nil {
		return nil, err
	}
	ip, port, err := transport.FinalAdvertiseAddr("", 0)
	if err != nil {
		transport.Shutdown()
		return nil, fmt.Errorf("gossip: bind %s: %w", cfg.BindAddr, err)
	}
	var nt memberlist.NodeAwareTransport = transport
	if cfg.WrapTransport != nil {
		nt = cfg.WrapTransport(transport)
	}

	sc := serfConfig(cfg.Profile)
	sc.NodeName = cfg.NodeName
	sc.Tags = withRoot(cfg.Tags, cfg.Root)
	sc.Logger, sc.LogOutput = std, nil
	sc.UserEventSizeLimit = cfg.UserEventSizeLimit
	sc.KeyringFile = cfg.KeyringFile
	// Close's leave waits for two broadcasts and then for the leave to
	// spread: all three together take at most LeaveTimeout.
	sc.LeavePropagateDelay = min(sc.LeavePropagateDelay, cfg.LeaveTimeout/5)
	sc.BroadcastTimeout = (cfg.LeaveTimeout - sc.LeavePropagateDelay) / 2
	ml := sc.MemberlistConfig
	ml.Logger, ml.LogOutput = std, nil
	ml.Transport = nt
	ml.BindAddr, ml.BindPort = ip.String(), port
	ml.AdvertiseAddr, ml.AdvertisePort = ip.String(), port
	if cfg.Advertise != "" {
		host, aport, _ := splitAdvertise(cfg.Advertise)
		if aport == 0 {
			aport = port
		}
		ml.AdvertiseAddr, ml.AdvertisePort = host, aport
	}
	ml.Label = label(cfg.Root)
	if cfg.label != "" {
		ml.Label = cfg.label
	}
	ml.Keyring = kr
	self, err := netip.ParseAddr(ml.AdvertiseAddr)
	if err != nil {
		nt.Shutdown()
		return nil, fmt.Errorf("gossip: advertise address %q: %w", ml.AdvertiseAddr, err)
	}

	s := &Serf{
		cfg:      cfg,
		log:      log,
		serfCh:   make(chan serf.Event, serfBuffer),
		events:   newSink(cfg.EventBuffer, log),
		filter:   newRootFilter(cfg.Root, log),
		guard:    newNameGuard(cfg.NodeName, netip.AddrPortFrom(self.Unmap(), uint16(ml.AdvertisePort)), log),
		stopPump: make(chan struct{}),
	}
	sc.Merge = &rootMerge{root: cfg.Root, guard: s.guard}
	sc.EventCh = s.serfCh
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.goFunc(s.pump)

	if s.serf, err = serf.Create(sc); err != nil {
		nt.Shutdown()
		s.cancel()
		close(s.stopPump)
		s.wg.Wait()
		return nil, fmt.Errorf("gossip: start serf: %w", err)
	}
	log.Info("gossip: serf started", "addr", s.Addr(), "root", cfg.Root, "encrypted", kr != nil, "profile", cfg.Profile)
	s.goFunc(s.resolve)

	if len(cfg.Join) > 0 {
		if n, err := s.Join(cfg.Join); err != nil {
			log.Warn("gossip: initial join failed", "err", err)
			if cfg.JoinRetry > 0 {
				s.goFunc(func() { retryJoin(s.ctx, log, cfg.Join, cfg.JoinRetry, s.join, s.hasPeers) })
			}
		} else {
			log.Info("gossip: joined", "members", n)
		}
	}
	if cfg.Discover {
		if s.disc, err = startDiscovery(s); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// newTransport binds memberlist's UDP/TCP transport to cfg.BindAddr. A
// random port (0) is retried: UDP and TCP must get the same one. A port
// in use is retried for cfg.BindWait: a server restarted at once finds
// its predecessor still leaving.
func newTransport(cfg Config, std *stdlog.Logger, log *slog.Logger) (*memberlist.NetTransport, error) {
	host, port, _ := splitBind(cfg.BindAddr)
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: std}
	deadline := time.Now().Add(cfg.BindWait)
	for try := 1; ; try++ {
		t, err := memberlist.NewNetTransport(nc)
		switch {
		case err == nil:
			return t, nil
		case port == 0 && try < 10:
			continue
		case port != 0 && time.Now().Before(deadline) && portInUse(host, port):
			if try == 1 {
				log.Info("gossip: the port is in use; waiting for it", "addr", cfg.BindAddr, "for", cfg.BindWait)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return nil, fmt.Errorf("gossip: bind %s: %w", cfg.BindAddr, err)
	}
}

// portInUse reports whether another socket holds the TCP or UDP port
// (memberlist's errors do not wrap the cause).
func portInUse(host string, port int) bool {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	pc.Close()
	return false
}

// goFunc runs f in a goroutine that Close waits for.
func (s *Serf) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// pump turns Serf's events into ours. It never blocks for long: Serf
// waits for it.
func (s *Serf) pump() {
	for {
		select {
		case <-s.stopPump:
			return
		case e := <-s.serfCh:
			s.handle(e)
		}
	}
}

func (s *Serf) handle(e serf.Event) {
	switch e := e.(type) {
	case serf.MemberEvent:
		kind, ok := memberKind(e.Type)
		if !ok {
			return
		}
		raw := make([]rawMember, len(e.Members))
		for i, m := range e.Members {
			raw[i] = fromSerf(m)
		}
		for _, ev := range s.filter.apply(kind, raw) {
			s.events.deliver(ev)
		}
	case serf.UserEvent:
		if ev, ok := userEvent(s.log, s.cfg.Root, s.cfg.UserEventSizeLimit, e.Name, e.Payload, uint64(e.LTime)); ok {
			s.events.deliver(ev)
		}
	default:
		s.log.Debug("gossip: ignoring serf event", "event", e.String())
	}
}

// userEvent checks a received user event; it logs and refuses events of
// other networks and oversized ones.
func userEvent(log *slog.Logger, root string, limit int, wire string, payload []byte, ltime uint64) (Event, bool) {
	name, ok := parseWireName(root, wire)
	if !ok {
		log.Debug("gossip: dropping a user event of another network", "event", wire, "size", len(payload))
		return Event{}, false
	}
	if max := maxPayload(root, name, limit); len(payload) > max {
		log.Warn("gossip: dropping an oversized user event", "event", wire, "size", len(payload), "max", max)
		return Event{}, false
	}
	return Event{Kind: User, Name: name, Payload: bytes.Clone(payload), LTime: ltime}, true
}

func memberKind(t serf.EventType) (Kind, bool) {
	switch t {
	case serf.EventMemberJoin:
		return MemberJoin, true
	case serf.EventMemberLeave:
		return MemberLeave, true
	case serf.EventMemberFailed:
		return MemberFailed, true
	case serf.EventMemberUpdate:
		return MemberUpdate, true
	case serf.EventMemberReap:
		return MemberReap, true
	}
	return 0, false
}

func fromSerf(m serf.Member) rawMember {
	st, ok := statusFromSerf(m.Status)
	return rawMember{
		Member: Member{Name: m.Name, Addr: addrPort(m.Addr, m.Port), Tags: m.Tags, Status: st},
		ok:     ok,
	}
}

func statusFromSerf(s serf.MemberStatus) (Status, bool) {
	switch s {
	case serf.StatusAlive:
		return Alive, true
	case serf.StatusLeaving:
		return Leaving, true
	case serf.StatusLeft:
		return Left, true
	case serf.StatusFailed:
		return Failed, true
	}
	return 0, false
}

// rootMerge keeps members of other networks out of Serf's member list:
// memberlist asks it about every node before merging its state or
// accepting it as alive. It also shows the guard every claim of a live
// node: memberlist asks about one node at a time for each alive message,
// and about all nodes of a push-pull at once (then about each live one
// again), unless the other side knows only itself: it claims its name.
// It never blocks.
type rootMerge struct {
	root  string
	guard *nameGuard
}

func (r *rootMerge) NotifyMerge(ms []*serf.Member) error {
	for _, m := range ms {
		if got := m.Tags[RootTag]; got != r.root {
			return fmt.Errorf("member %s is of network %q, not %q", m.Name, got, r.root)
		}
	}
	if len(ms) == 1 {
		return r.guard.check(ms[0])
	}
	return nil
}

// hasPeers reports whether another member of our network is alive.
func (s *Serf) hasPeers() bool {
	for _, m := range s.Members() {
		if m.Name != s.cfg.NodeName && m.Status == Alive {
			return true
		}
	}
	return false
}

// LocalName returns this node's name.
func (s *Serf) LocalName() string { return s.cfg.NodeName }

// NameConflict returns the *ConflictError of the first claim of this
// node's name by another node, or of the vote it lost; nil if none.
func (s *Serf) NameConflict() error { return s.guard.conflict() }

// NameLost is closed once this node gave its name up to another node and
// left gossip (see Gossip).
func (s *Serf) NameLost() <-chan struct{} { return s.guard.lost }

// Addr returns the gossip address other members reach this node at.
func (s *Serf) Addr() netip.AddrPort {
	n := s.serf.Memberlist().LocalNode()
	addr, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(addr.Unmap(), n.Port)
}

// Members returns the members of our network (see Gossip).
func (s *Serf) Members() []Member {
	var out []Member
	for _, m := range s.serf.Members() {
		r := fromSerf(m)
		if r.ok && r.Tags[RootTag] == s.cfg.Root {
			out = append(out, r.withoutRoot())
		}
	}
	sortMembers(out)
	return out
}

// Events returns the event channel (see Gossip).
func (s *Serf) Events() <-chan Event { return s.events.ch }

// Dropped returns the number of events dropped for a slow consumer.
func (s *Serf) Dropped() uint64 { return s.events.dropped.Load() }

// MaxPayload returns the largest payload Broadcast accepts for name.
func (s *Serf) MaxPayload(name string) int {
	return maxPayload(s.cfg.Root, name, s.cfg.UserEventSizeLimit)
}

// Broadcast sends a user event named Root+":"+name on the wire.
func (s *Serf) Broadcast(name string, payload []byte) error {
	if s.closing.Load() {
		return ErrClosed
	}
	if max := s.MaxPayload(name); len(payload) > max {
		return fmt.Errorf("broadcast %q: %d bytes, at most %d: %w", name, len(payload), max, ErrTooLarge)
	}
	// Serf keeps the payload (to spot duplicates): it must not be the caller's.
	if err := s.serf.UserEvent(wireName(s.cfg.Root, name), bytes.Clone(payload), false); err != nil {
		return fmt.Errorf("broadcast %q: %w", name, err)
	}
	return nil
}

// Discovered returns once discovery has looked for the network's other
// servers once and joined those it found (about a second), at once if
// discovery is off. So a server can tell whether it is the first of its
// network on the LAN before it acts as such.
func (s *Serf) Discovered(ctx context.Context) error {
	if s.disc == nil {
		return nil
	}
	select {
	case <-s.disc.first:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Join joins the members at addrs, ignoring user events sent before.
func (s *Serf) Join(addrs []string) (int, error) {
	if s.closing.Load() {
		return 0, ErrClosed
	}
	return join(addrs, s.join)
}

func (s *Serf) join(addrs []string) (int, error) {
	return s.serf.Join(addrs, true)
}

// SetTags replaces this node's tags. It waits, up to Serf's broadcast
// timeout (about two fifths of Config.LeaveTimeout), until the change has
// gone out; if it has not by then, it returns anyway: the change is made
// and queued, and spreads with the gossip.
func (s *Serf) SetTags(tags map[string]string) error {
	if s.closing.Load() {
		return ErrClosed
	}
	if err := checkTags(tags, s.cfg.Root); err != nil {
		return err
	}
	// checkTags leaves Serf one way to fail: the broadcast's time-out.
	if err := s.serf.SetTags(withRoot(tags, s.cfg.Root)); err != nil {
		s.log.Debug("gossip: tags changed but not yet sent out", "err", err)
	}
	return nil
}

// Close leaves the network (waiting up to Config.LeaveTimeout for the
// others to hear it), shuts Serf down and closes Events. A node whose name
// another claims, and no vote has settled that yet, does not leave: its
// leave could speak for the other one too; the others see it fail.
// Idempotent.
func (s *Serf) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.cancel() // stops discovery, join retries and votes
		if s.disc != nil {
			s.disc.stop()
		}
		var errs []error
		if s.guard.inDispute() {
			s.log.Info("gossip: stopping without a leave, which could speak for the other server of this name too", "err", s.guard.conflict())
		} else if err := s.serf.Leave(); err != nil {
			errs = append(errs, fmt.Errorf("leave: %w", err))
		}
		if err := s.serf.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		close(s.stopPump)
		s.wg.Wait()
		close(s.events.ch)
		s.closeErr = errors.Join(errs...)
		s.log.Info("gossip: serf stopped")
	})
	return s.closeErr
}

// advertiseIP is the IP other members reach this node at.
func (s *Serf) advertiseIP() net.IP {
	return net.IP(s.serf.Memberlist().LocalNode().Addr)
}
