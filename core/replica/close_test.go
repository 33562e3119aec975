package replica

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
)

// slowMembers is gossip whose Members blocks until released, as an
// external agent's RPC can for its 10 s timeout.
type slowMembers struct {
	Gossip
	called  chan struct{}
	once    sync.Once
	release chan struct{}
}

func (g *slowMembers) Members() []string {
	g.once.Do(func() { close(g.called) })
	<-g.release
	return g.Gossip.Members()
}

// TestSlowMembers: a gossip call that hangs does not hold up local
// writes (they take the replica's lock).
func TestSlowMembers(t *testing.T) {
	net := newFakeNet()
	g := &slowMembers{called: make(chan struct{}), release: make(chan struct{})}
	a := net.add(t, "a", "", func(c *Config) { g.Gossip = c.Gossip; c.Gossip = g })
	t.Cleanup(func() { close(g.release) }) // runs before the replica's Close
	a.rep.Start()
	select {
	case <-g.called: // purging asks for the members
	case <-time.After(10 * time.Second):
		t.Fatal("the replica never asked for the members")
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.tree.Set(path.P("k"), "\x01", tree.Cond{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a local write waited for a gossip call")
	}
}

// TestCloseStopsEverything: once Close returns, no goroutine of the
// replica runs any more: every one it started was counted and waited for.
func TestCloseStopsEverything(t *testing.T) {
	nw := newFakeNet()
	var hang atomic.Bool
	slow := func(c *Config) {
		dial := c.Dial
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			nc, err := dial(ctx, addr)
			if err != nil {
				return nil, err
			}
			return &hangConn{Conn: nc, hang: &hang, closed: make(chan struct{})}, nil
		}
	}
	nodes := []*testNode{nw.add(t, "a", "k", slow), nw.add(t, "b", "k", slow), nw.add(t, "c", "k", slow)}
	for _, n := range nodes {
		n.rep.Start()
	}
	set(t, nodes[0], "x", 1)
	waitSame(t, nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[2].rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	for i := range 100 {
		set(t, nodes[i%3], "y", int64(i)) // pushes that hang
	}
	for _, n := range nodes {
		n.rep.Close()
	}
	if gs := replicaGoroutines(); len(gs) > 0 {
		t.Fatalf("%d goroutines still run after Close:\n%s", len(gs), strings.Join(gs, "\n\n"))
	}
	// Close again, and Start after Close, start nothing.
	nodes[0].rep.Close()
	nodes[0].rep.Start()
	if gs := replicaGoroutines(); len(gs) > 0 {
		t.Fatalf("Start after Close started goroutines:\n%s", strings.Join(gs, "\n\n"))
	}
	if _, ok := nodes[0].tree.Get(path.P("y")); !ok {
		t.Fatal("y was not written")
	}
}

// hangConn is a connection whose writes, once hang is set, block until
// it is closed and then take a moment to return: a goroutine writing to
// it runs on for a while after the connection's Close.
type hangConn struct {
	net.Conn
	hang   *atomic.Bool
	once   sync.Once
	closed chan struct{}
}

func (c *hangConn) Write(b []byte) (int, error) {
	if !c.hang.Load() {
		return c.Conn.Write(b)
	}
	<-c.closed
	time.Sleep(50 * time.Millisecond)
	return 0, net.ErrClosed
}

func (c *hangConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// replicaGoroutines returns the stacks of goroutines in a method of
// Replica or peerConn, other than goFunc's wrapper (which has returned
// from its function and counted it done).
func replicaGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.HasPrefix(line, "created by ") {
				continue // where it started, not what it runs
			}
			if (strings.Contains(line, "replica.(*Replica).") || strings.Contains(line, "replica.(*peerConn).")) &&
				!strings.Contains(line, "replica.(*Replica).goFunc.func1") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
