package gossip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/mdns"
)

// discovery advertises a node by mDNS and joins the nodes of its network
// that it finds, as Serf's agent does with -discover (its agent/mdns.go):
// the service is "_distkv-<root>._tcp" in the "local" domain, the instance
// name is the node name; every poll interval a query collects the nodes
// seen, and those not tried before are joined.
type discovery struct {
	server *mdns.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	first  chan struct{} // closed when the first look and its joins are done
}

// Discovery timings: how often to look for new nodes and how long one look
// waits for answers.
const (
	discoverPollLAN   = 60 * time.Second
	discoverPollLocal = time.Second
	discoverWait      = time.Second
)

// serviceName is the mDNS service of a network. A root is reduced to the
// letters, digits and dashes DNS allows, so two roots may share a service:
// nodes then try to join each other and fail (the memberlist labels
// differ), which is harmless.
func serviceName(root string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(root) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "root"
	}
	const max = 63 - len("_distkv-")
	if len(name) > max {
		name = name[:max]
	}
	return "_distkv-" + name + "._tcp"
}

func startDiscovery(s *Serf) (*discovery, error) {
	self := s.Addr()
	ip := s.advertiseIP()
	std := stdLogger(s.log.With("component", "mdns"))
	service, err := mdns.NewMDNSService(s.cfg.NodeName, serviceName(s.cfg.Root), "", "", int(self.Port()),
		[]net.IP{ip}, []string{fmt.Sprintf("DistKV network %q", s.cfg.Root)})
	if err != nil {
		return nil, fmt.Errorf("gossip: discovery: %w", err)
	}
	server, err := mdns.NewServer(&mdns.Config{Zone: service, Logger: std})
	if err != nil {
		return nil, fmt.Errorf("gossip: discovery: %w", err)
	}
	d := &discovery{server: server, first: make(chan struct{})}
	ctx, cancel := context.WithCancel(s.ctx)
	d.cancel = cancel
	poll := discoverPollLAN
	if s.cfg.Profile == ProfileLocal {
		poll = discoverPollLocal
	}
	v4 := ip.To4() != nil
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		seen := map[string]bool{self.String(): true}
		looked := false
		for {
			entries := make(chan *mdns.ServiceEntry, 64)
			params := &mdns.QueryParam{
				Service:     serviceName(s.cfg.Root),
				Domain:      "local",
				Timeout:     discoverWait,
				Entries:     entries,
				DisableIPv4: !v4,
				DisableIPv6: v4,
				Logger:      std,
			}
			if err := mdns.QueryContext(ctx, params); err != nil && ctx.Err() == nil {
				s.log.Warn("gossip: discovery query failed", "err", err)
			}
			close(entries) // QueryContext has returned: nobody sends any more
			var found []string
			for e := range entries {
				addr := e.AddrV4
				if addr == nil {
					addr = e.AddrV6
				}
				if addr == nil || e.Port == 0 {
					continue
				}
				a := net.JoinHostPort(addr.String(), fmt.Sprint(e.Port))
				if !seen[a] {
					seen[a] = true
					found = append(found, a)
				}
			}
			if len(found) > 0 && ctx.Err() == nil {
				n, err := s.Join(found)
				s.log.Info("gossip: discovered members", "addrs", found, "joined", n, "err", err)
				if n == 0 {
					for _, a := range found {
						delete(seen, a) // try again at the next poll
					}
				}
			}
			if !looked {
				looked = true
				close(d.first)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(poll):
			}
		}
	}()
	return d, nil
}

// stop ends discovery and waits for it.
func (d *discovery) stop() {
	d.cancel()
	d.server.Shutdown()
	d.wg.Wait()
}
