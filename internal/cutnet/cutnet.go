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
	cut   map[[2]string]bool // from, to
	conns map[[2]string][]net.Conn
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
		if err == nil {
			n.mu.Lock()
			n.conns[[2]string{from, to}] = append(n.conns[[2]string{from, to}], c)
			n.mu.Unlock()
		}
		return c, err
	}
}

// Split cuts every link between the servers of a and those of b, and
// closes the connections across them.
func (n *Net) Split(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]string{x, y}] = true
			for _, k := range [][2]string{{x, y}, {y, x}} {
				for _, c := range n.conns[k] {
					c.Close()
				}
				delete(n.conns, k)
			}
		}
	}
}

// HealAll opens every link again.
func (n *Net) HealAll() {
	n.mu.Lock()
	n.cut = map[[2]string]bool{}
	n.mu.Unlock()
}
