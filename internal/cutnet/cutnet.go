// Package cutnet is TCP between named servers that a test can cut and
// heal: a cut link refuses dials and closes the connections across it.
// Tests of replication and of partitions make network splits with it.
package cutnet

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// Net tracks the links between named servers. Safe for concurrent use.
type Net struct {
	mu    sync.Mutex
	cut   map[[2]string]bool       // from, to
	conns map[[2]string][]net.Conn // from, the address dialed: names may come later

	names map[string]string // listener address -> server
}

// New returns a network with every link open.
func New() *Net {
	return &Net{cut: map[[2]string]bool{}, conns: map[[2]string][]net.Conn{}, names: map[string]string{}}
}

// Name says that the listener at addr belongs to the server name.
func (n *Net) Name(addr, name string) {
	n.mu.Lock()
	n.names[addr] = name
	n.mu.Unlock()
}

// Reachable reports whether neither direction between a and b is cut.
func (n *Net) Reachable(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachable(a, b)
}

func (n *Net) reachable(a, b string) bool {
	return !n.cut[[2]string{a, b}] && !n.cut[[2]string{b, a}]
}

// Dialer returns the dial function of the server from.
func (n *Net) Dialer(from string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		n.mu.Lock()
		to := n.names[addr]
		ok := n.reachable(from, to)
		n.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("cut: %s cannot reach %s", from, to)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		// A Split while the dial went on has not seen this connection: it
		// must not outlive the cut (errlog's TestSplit saw records cross).
		if to := n.names[addr]; !n.reachable(from, to) {
			c.Close()
			return nil, fmt.Errorf("cut: %s cannot reach %s", from, to)
		}
		// By address: a server may dial another before the test has named
		// the other's listener (Name), and Split must still find the
		// connection.
		n.conns[[2]string{from, addr}] = append(n.conns[[2]string{from, addr}], c)
		return c, nil
	}
}

// Split cuts every link between the servers of a and those of b, and
// closes the connections across them.
func (n *Net) Split(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	across := map[[2]string]bool{}
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]string{x, y}] = true
			across[[2]string{x, y}], across[[2]string{y, x}] = true, true
		}
	}
	for k, cs := range n.conns {
		if across[[2]string{k[0], n.names[k[1]]}] {
			for _, c := range cs {
				c.Close()
			}
			delete(n.conns, k)
		}
	}
}

// HealAll opens every link again.
func (n *Net) HealAll() {
	n.mu.Lock()
	n.cut = map[[2]string]bool{}
	n.mu.Unlock()
}
