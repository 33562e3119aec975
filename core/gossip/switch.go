package gossip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Switch cuts and restores the gossip traffic between embedded Serf nodes
// of one test process (Partitioner): set Config.WrapTransport to
// Wrap(name) for each node. Safe for concurrent use.
//
// Traffic is stopped where it is sent: a packet over a cut link is dropped
// (its send succeeds, as UDP's does); a stream (memberlist's TCP push-pull
// or fallback probe) cannot be opened unless both directions work, and one
// already open fails at its next write or read over a cut link. Traffic
// from or to addresses of no wrapped node is never cut.
type Switch struct {
	mu    sync.Mutex // protects the fields below
	cuts  links
	names map[netip.AddrPort]string // gossip address of each wrapped node
}

var _ Partitioner = (*Switch)(nil)

// errCut is returned when a stream is dialled, written or read over a cut link.
var errCut = errors.New("link cut by the test switch")

// NewSwitch returns a switch with every link working.
func NewSwitch() *Switch {
	return &Switch{cuts: links{}, names: map[netip.AddrPort]string{}}
}

// Wrap returns a Config.WrapTransport hook for the node called name.
func (s *Switch) Wrap(name string) func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		return &switchedTransport{NodeAwareTransport: inner, sw: s, name: name}
	}
}

// Cut cuts both directions between a and b.
func (s *Switch) Cut(a, b string) { s.set(true, link{a, b}, link{b, a}) }

// CutOneWay cuts what from sends to to.
func (s *Switch) CutOneWay(from, to string) { s.set(true, link{from, to}) }

// Heal restores both directions between a and b.
func (s *Switch) Heal(a, b string) { s.set(false, link{a, b}, link{b, a}) }

// HealOneWay restores what from sends to to.
func (s *Switch) HealOneWay(from, to string) { s.set(false, link{from, to}) }

// Isolate cuts name from every other node wrapped so far.
func (s *Switch) Isolate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.names {
		if other != name {
			s.cuts.set(name, other, true)
			s.cuts.set(other, name, true)
		}
	}
}

// HealAll restores every link.
func (s *Switch) HealAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.cuts)
}

func (s *Switch) set(cut bool, ls ...link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		s.cuts.set(l.from, l.to, cut)
	}
}

// peer names the node at a, "" if none: the wrapped node at its address
// (two nodes may share a member name), else its member name.
func (s *Switch) peer(a memberlist.Address) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ap, err := netip.ParseAddrPort(a.Addr); err == nil {
		if name, ok := s.names[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]; ok {
			return name
		}
	}
	return a.Name
}

func (s *Switch) isCut(from, to string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cuts.cut(from, to)
}

// switchedTransport drops what its node sends over cut links.
type switchedTransport struct {
	memberlist.NodeAwareTransport
	sw   *Switch
	name string
}

func (t *switchedTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	addr, p, err := t.NodeAwareTransport.FinalAdvertiseAddr(ip, port)
	if err == nil {
		if a, ok := netip.AddrFromSlice(addr); ok {
			t.sw.mu.Lock()
			t.sw.names[netip.AddrPortFrom(a.Unmap(), uint16(p))] = t.name
			t.sw.mu.Unlock()
		}
	}
	return addr, p, err
}

func (t *switchedTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *switchedTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if to := t.sw.peer(a); to != "" && t.sw.isCut(t.name, to) {
		return time.Now(), nil // lost on the way
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

func (t *switchedTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *switchedTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	to := t.sw.peer(a)
	if to != "" && (t.sw.isCut(t.name, to) || t.sw.isCut(to, t.name)) {
		return nil, fmt.Errorf("dial %s: %w", a.Addr, errCut)
	}
	conn, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil || to == "" {
		return conn, err
	}
	return &switchedConn{Conn: conn, sw: t.sw, from: t.name, to: to}, nil
}

// switchedConn is the dialling side of a stream: it checks both directions.
type switchedConn struct {
	net.Conn
	sw       *Switch
	from, to string
}

func (c *switchedConn) Write(b []byte) (int, error) {
	if c.sw.isCut(c.from, c.to) {
		c.Conn.Close()
		return 0, errCut
	}
	return c.Conn.Write(b)
}

func (c *switchedConn) Read(b []byte) (int, error) {
	if c.sw.isCut(c.to, c.from) {
		c.Conn.Close()
		return 0, errCut
	}
	return c.Conn.Read(b)
}
