package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/replica"
	"github.com/distkv-go/distkv/core/tlsconf"
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
	// Login is how this server logs in to its peers (connect.auth, see
	// auth.ParseLogin); "" for none. Once logins are on, a server accepts
	// only peers that log in as a user without an ACL.
	Login string
	// Insecure lets logins be on although the gossip or peer port is
	// reachable beyond loopback without a Key (server.peer.insecure).
	Insecure bool
	// TLS, if set, makes the peer listener speak TLS, and DialTLS is
	// then how this server connects to its peers (see replica.Config);
	// TLSFiles names the files they were made of, for log lines.
	TLS, DialTLS *tls.Config
	TLSFiles     tlsconf.Files
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

// startCluster starts replication, once (Sync or Start): the peer
// listener, its address in the gossip tags, and a watch on the gossip
// layer's name. Without a cluster it does nothing.
func (s *Server) startCluster() error {
	c := s.cfg.Cluster
	if c == nil {
		return nil
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.clusterUp {
		return nil
	}
	addr := c.PeerListen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := s.listen(addr, "peer")
	if err != nil {
		return err
	}
	var login *auth.Login
	if c.Login != "" {
		l, err := auth.ParseLogin(c.Login, nil)
		if err != nil {
			ln.Close()
			return fmt.Errorf("the login for peers (connect.auth): %w", err)
		}
		if l.Method != auth.Root {
			login = &l
		}
	}
	ad := &gossipAdapter{g: c.Gossip, ann: make(chan replica.Announcement, 256), msgs: s.deliverMsg, log: s.log}
	rep, err := replica.New(replica.Config{
		Tree: s.tree, Node: s.cfg.Node, Root: c.Root, Key: c.Key, Gossip: ad,
		Listener: ln, Dial: c.Dial, TLS: c.TLS, DialTLS: c.DialTLS, TLSFiles: c.TLSFiles, Announce: c.Announce, Check: c.Check, Purge: c.Purge,
		Logger: s.log, Budget: s.input, Login: login, CheckLogin: s.checkPeerLogin,
	})
	if err != nil {
		ln.Close()
		return err
	}
	if err := c.Gossip.SetTags(map[string]string{TagPeer: rep.Addr()}); err != nil {
		rep.Close()
		return fmt.Errorf("gossip tags: %w", err)
	}
	s.warnExposure(c, rep.Addr())
	s.mu.Lock()
	if err := s.stopped(); err != nil {
		s.mu.Unlock()
		rep.Close()
		return err
	}
	s.rep = rep
	s.mu.Unlock()
	s.clusterUp = true
	s.goFunc(func() { ad.pump(s.ctx) })
	if lost := c.Gossip.NameLost(); lost != nil {
		s.goFunc(func() {
			select {
			case <-s.ctx.Done():
			case <-lost:
				s.fail(fmt.Errorf("stopped serving: %w", c.Gossip.NameConflict()))
			}
		})
	}
	rep.Start()
	return nil
}

// advertiseClient adds the client listener's address to the gossip tags.
func (s *Server) advertiseClient(addr string) error {
	c := s.cfg.Cluster
	rep := s.replica()
	if c == nil || rep == nil {
		return nil
	}
	if err := c.Gossip.SetTags(map[string]string{TagPeer: rep.Addr(), TagClient: addr}); err != nil {
		return fmt.Errorf("gossip tags: %w", err)
	}
	return nil
}

// checkName refuses to serve under a name that another live server of the
// network has.
func (s *Server) checkName() error {
	if c := s.cfg.Cluster; c != nil {
		if err := c.Gossip.NameConflict(); err != nil {
			return fmt.Errorf("refusing to start: %w; give this server a name of its own", err)
		}
	}
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

// Link is another live server as this one sees it: its peer listener,
// and whether this server is connected to it (replication pushes this
// server's changes through the connection).
type Link struct {
	Name      string
	Addr      string
	Connected bool
}

// Links lists the other live servers the gossip layer knows, sorted by
// name, with whether replication is connected to each.
func (s *Server) Links() []Link {
	var connected []string
	if rep := s.replica(); rep != nil {
		connected = rep.Connected()
	}
	var links []Link
	for _, p := range s.Peers() {
		_, ok := slices.BinarySearch(connected, p.Name)
		links = append(links, Link{Name: p.Name, Addr: p.Addr, Connected: ok})
	}
	slices.SortFunc(links, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return links
}

// replica returns replication, nil without a cluster or before Start.
func (s *Server) replica() *replica.Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rep
}

// Sync starts replication if Start has not, and downloads the network's
// state from a live peer (see replica.Sync); it waits for one until ctx
// ends. It fails at once when another live server of the network has
// this server's name (a *gossip.ConflictError). Without a cluster it
// fails.
func (s *Server) Sync(ctx context.Context) error {
	if s.cfg.Cluster == nil {
		return errors.New("server: no network to sync from")
	}
	if err := s.startCluster(); err != nil {
		return err
	}
	s.mu.Lock()
	rep, err := s.rep, s.stopped()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.checkName(); err != nil {
		return err
	}
	// A claim of this server's name may come with any join: stop waiting.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := s.checkName(); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	err = rep.Sync(ctx)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, gossip.ErrNameConflict) {
		return cause
	}
	return err
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
