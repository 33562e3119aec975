package cutnet

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestSplitClosesEarlyDials: a connection dialed before the test named
// the listener it goes to is still closed by a Split across it (servers
// start dialing as soon as they know each other, which can be before
// the test calls Name).
func TestSplitClosesEarlyDials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	n := New()
	c, err := n.Dialer("a")(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n.Name(ln.Addr().String(), "b")
	n.Split([]string{"a"}, []string{"b"})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the early connection is still open after the split: %v", err)
	}
	if _, err := n.Dialer("a")(context.Background(), ln.Addr().String()); err == nil {
		t.Fatal("a dial across the split succeeded")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
