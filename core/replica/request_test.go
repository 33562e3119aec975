package replica

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestRequestOnClosedConn: a pull or dump asked of a connection that has
// just closed fails at once, instead of waiting for an answer that cannot
// come (the replication loop that asked would wait with it, and neither
// pull again nor dial, for ever).
func TestRequestOnClosedConn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := net.Pipe()
	defer b.Close()
	r := &Replica{ctx: ctx}
	pc := newPeerConn(r, a)
	pc.close()
	// A few times: the request may find the connection closed before it
	// sends, or send into the queue and wait for the answer.
	for range 20 {
		done := make(chan error, 1)
		go func() { done <- pc.request(context.Background(), func(uint64) []byte { return []byte{0x80} }) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a request on a closed connection succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request on a closed connection is still waiting")
		}
	}
}
