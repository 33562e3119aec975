package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// warnExposure warns at start when the network's ports are open beyond
// loopback without a key: anyone who reaches them is a peer, so can read
// and change every entry (DESIGN.md, decision 8). peerAddr is the peer
// listener's address.
func (s *Server) warnExposure(c *Cluster, peerAddr string) {
	gossipAddr := ""
	for _, m := range c.Gossip.Members() {
		if m.Name == c.Gossip.LocalName() && m.Addr.IsValid() {
			gossipAddr = m.Addr.String() // where the others reach it
		}
	}
	if w := exposureWarning(len(c.Key) > 0, gossipAddr, peerAddr); w != "" {
		s.log.Warn(w, "gossip", gossipAddr, "peer", peerAddr)
		if !c.Insecure {
			why := fmt.Sprintf("the gossip port (%s) or the peer port (%s) is reachable beyond loopback without server.serf.key", gossipAddr, peerAddr)
			s.exposed.Store(&why)
		}
	}
}

// exposureWarning returns the warning for a server whose gossip and peer
// listener are at these addresses ("host:port"; "" is unknown), or "" when
// there is a key or both are reachable from this host only.
func exposureWarning(keyed bool, gossipAddr, peerAddr string) string {
	if keyed {
		return ""
	}
	var ports []string
	for _, a := range []string{gossipAddr, peerAddr} {
		if a == "" || loopbackOnly(a) {
			continue
		}
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			port = a
		}
		ports = append(ports, port)
	}
	if len(ports) == 0 {
		return ""
	}
	return fmt.Sprintf("no server.serf.key: anyone who reaches port %s of this host can read and change all data, "+
		"system data included. Run `distkv keygen` and set server.serf.key to what it prints on every server "+
		"(or bind server.serf.bind and server.peer.bind to 127.0.0.1 when all servers run on this host)",
		strings.Join(ports, " or "))
}

// loopbackOnly says whether a listener at addr ("host:port") can be
// reached from this host only. An unspecified address (0.0.0.0, ::), any
// other IP and any host name but localhost are reachable from elsewhere.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
