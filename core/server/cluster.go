package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/replica"
)

// Cluster makes a server one of a network's servers (Config.Cluster).
type Cluster struct {
	// Gossip is the membership layer (embedded Serf, an external agent, or
	// a fake in tests); the server owns it from Start and closes it.
	Gossip gossip.Gossip
	Root   string // network name
	Key    []byte // network key for the peer protocol (the gossip key)

	// PeerListen is where the server-to-server listener binds, "host:port";
	// port 0 picks a free one. Default "127.0.0.1:0".
	PeerListen string
	// Dial connects to peers (tests cut links with it). Default net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Announce and Check are replication's intervals (default 1 s); Purge
	// how often tombstones every member has seen are dropped (default 1 m).
	Announce, Check, Purge time.Duration
}

// Member tags a server sets, besides gossip's own root tag.
const (
	TagPeer   = "peer"   // the peer listener, "host:port" (an empty host: the gossip address's)
	TagClient = "client" // the client listener, for tools
)

// The user events servers send: tick announcements, and the clients'
// pass-through messages (msg_send): {topic: path, data: value} or
// {topic: path, raw: bytes}.
const (
	tickEvent = "tick"
	msgEvent  = "msg"
)

// startCluster starts replication; the client listener is already open.
func (s *Server) startCluster() error {
	c := s.cfg.Cluster
	ad := &gossipAdapter{g: c.Gossip, ann: make(chan replica.Announcement, 256), msgs: s.deliverMsg, log: s.log}
	rep, err := replica.New(replica.Config{
		Tree: s.tree, Node: s.cfg.Node, Root: c.Root, Key: c.Key, Gossip: ad,
		Listen: c.PeerListen, Dial: c.Dial, Announce: c.Announce, Check: c.Check, Purge: c.Purge,
		Logger: s.log,
	})
	if err != nil {
		return err
	}
	tags := map[string]string{TagPeer: rep.Addr()}
	if a := s.Addr(); a != nil {
		tags[TagClient] = a.String()
	}
	if err := c.Gossip.SetTags(tags); err != nil {
		rep.Close()
		return fmt.Errorf("gossip tags: %w", err)
	}
	s.warnExposure(c, rep.Addr())
	s.mu.Lock()
	s.rep = rep
	s.mu.Unlock()
	s.goFunc(func() { ad.pump(s.ctx) })
	rep.Start()
	return nil
}

// Peers returns the other live servers the gossip layer knows.
func (s *Server) Peers() []replica.Peer {
	if s.cfg.Cluster == nil {
		return nil
	}
	ad := gossipAdapter{g: s.cfg.Cluster.Gossip}
	return ad.Peers()
}

// replica returns replication, nil without a cluster or before Start.
func (s *Server) replica() *replica.Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rep
}

// Sync downloads the network's state from a live peer (see replica.Sync).
// Without a cluster it fails.
func (s *Server) Sync(ctx context.Context) error {
	rep := s.replica()
	if rep == nil {
		return errors.New("server: not started with a cluster")
	}
	return rep.Sync(ctx)
}

// PeerAddr returns the server-to-server listener's address ("" without a
// cluster or before Start).
func (s *Server) PeerAddr() string {
	if rep := s.replica(); rep != nil {
		return rep.Addr()
	}
	return ""
}

// ReplicaStats returns replication's counters (zero without a cluster).
func (s *Server) ReplicaStats() replica.Stats {
	if rep := s.replica(); rep != nil {
		return rep.Stats()
	}
	return replica.Stats{}
}

// gossipAdapter gives replication what it needs of gossip.
type gossipAdapter struct {
	g    gossip.Gossip
	ann  chan replica.Announcement
	msgs func(payload []byte) // takes pass-through messages; must not block
	log  *slog.Logger
}

// Peers lists the alive members with a peer listener.
func (a *gossipAdapter) Peers() []replica.Peer {
	var ps []replica.Peer
	self := a.g.LocalName()
	for _, m := range a.g.Members() {
		addr := m.Tags[TagPeer]
		if m.Status != gossip.Alive || m.Name == self || addr == "" {
			continue
		}
		ps = append(ps, replica.Peer{Name: m.Name, Addr: peerAddr(addr, m.Addr)})
	}
	return ps
}

// peerAddr fills in the gossip address's host when the peer listener
// listens on every address.
func peerAddr(tag string, gossipAddr netip.AddrPort) string {
	host, port, err := net.SplitHostPort(tag)
	if err != nil {
		return tag
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		if gossipAddr.IsValid() {
			return net.JoinHostPort(gossipAddr.Addr().String(), port)
		}
	}
	return net.JoinHostPort(host, port)
}

// Members lists every member that has not left: alive, leaving or failed.
func (a *gossipAdapter) Members() []string {
	var ms []string
	for _, m := range a.g.Members() {
		if m.Status != gossip.Left {
			ms = append(ms, m.Name)
		}
	}
	return ms
}

func (a *gossipAdapter) Announce(payload []byte) error { return a.g.Broadcast(tickEvent, payload) }

func (a *gossipAdapter) Announcements() <-chan replica.Announcement { return a.ann }

// pump passes tick announcements on, dropping them when replication is
// behind (announcements are repeated).
func (a *gossipAdapter) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-a.g.Events():
			if !ok {
				return
			}
			switch {
			case ev.Kind != gossip.User:
				a.logMembers(ev)
			case ev.Name == msgEvent && a.msgs != nil:
				a.msgs(ev.Payload)
			case ev.Name == tickEvent:
				select {
				case a.ann <- replica.Announcement{Payload: ev.Payload}:
				default:
				}
			}
		}
	}
}

// logMembers logs joins, leaves and failures (splits show as failures of
// the other side, recoveries as joins).
func (a *gossipAdapter) logMembers(ev gossip.Event) {
	if a.log == nil {
		return
	}
	for _, m := range ev.Members {
		if m.Name == a.g.LocalName() {
			continue
		}
		switch ev.Kind {
		case gossip.MemberJoin:
			a.log.Info("a server joined (or came back)", "server", m.Name, "addr", m.Addr.String())
		case gossip.MemberLeave:
			a.log.Info("a server left", "server", m.Name)
		case gossip.MemberFailed:
			a.log.Warn("a server is unreachable (failed, or a network split)", "server", m.Name)
		case gossip.MemberReap:
			a.log.Info("a server was forgotten after a long absence", "server", m.Name)
		}
	}
}
