package replica

import (
	"context"
	"testing"
	"time"
)

// TestStats: the counters monitoring reads move with what replication
// does: peers, bytes both ways, a download, a catch-up after a split.
func TestStats(t *testing.T) {
	net := newFakeNet()
	a, b := net.add(t, "a", "k"), net.add(t, "b", "k")
	a.rep.Start()
	b.rep.Start()
	waitStats(t, a, "a connected to b", func(st Stats) bool { return st.Peers == 1 })
	set(t, a, "one", 1)
	waitSame(t, a, b)
	waitStats(t, a, "a push, and bytes both ways", func(st Stats) bool {
		return st.BytesSent > 0 && st.BytesReceived > 0 && st.Pushed > 0
	})

	// While b is cut off, a's changes pass it by; after the heal b fetches
	// them, and says how long it missed them.
	net.Split([]string{"a"}, []string{"b"})
	waitStats(t, a, "a lost b", func(st Stats) bool { return st.Peers == 0 })
	set(t, a, "two", 2)
	net.HealAll()
	waitSame(t, a, b)
	waitStats(t, b, "b's catch-up timed", func(st Stats) bool { return st.LastCatchUp > 0 })

	c := net.add(t, "c", "k")
	c.rep.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.rep.Stats(); st.LastSync <= 0 || st.BytesReceived == 0 {
		t.Errorf("after Sync: %+v", st)
	}
}

func waitStats(t *testing.T, n *testNode, what string, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok(n.rep.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out waiting for %s: %+v", n.name, what, n.rep.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
