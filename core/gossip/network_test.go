package gossip

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const fakeWait = 2 * time.Second

// fakeNodes starts nodes named names on n, all joined to the first.
func fakeNodes(t *testing.T, n *Network, names ...string) ([]Gossip, []*recorder) {
	t.Helper()
	var gs []Gossip
	var rs []*recorder
	for i, name := range names {
		node := n.Node(name, map[string]string{"peer": "p-" + name})
		rs = append(rs, record(node))
		gs = append(gs, node)
		if i > 0 {
			if _, err := node.Join([]string{names[0]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(n.Close)
	return gs, rs
}

func TestNetworkJoin(t *testing.T) {
	n := NewNetwork()
	gs, rs := fakeNodes(t, n, "a", "b", "c")
	waitFor(t, fakeWait, "all alive", seesAll(gs, "a", "b", "c"))
	for i, g := range gs {
		ms := g.Members()
		if got := names(ms); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("%s: members %v", g.LocalName(), got)
		}
		for _, m := range ms {
			if m.Tags["peer"] != "p-"+m.Name || m.Addr.Port() == 0 {
				t.Errorf("%s sees %+v", g.LocalName(), m)
			}
		}
		for _, name := range []string{"a", "b", "c"} {
			waitEvent(t, rs[i], g.LocalName()+" hears "+name+" join", isMember(MemberJoin, name))
		}
	}
	// Join by address too, and failures.
	d := n.Node("d", nil)
	if k, err := d.Join([]string{gs[1].(*Node).Addr().String()}); k != 1 || err != nil {
		t.Errorf("join by address: %d, %v", k, err)
	}
	if _, err := d.Join([]string{"nobody"}); !errors.Is(err, ErrNoJoin) {
		t.Errorf("join nobody: %v, want ErrNoJoin", err)
	}
}

func TestNetworkFailAndHeal(t *testing.T) {
	n := NewNetwork(FailAfter(20 * time.Millisecond))
	gs, rs := fakeNodes(t, n, "a", "b", "c")
	a, b, c := gs[0], gs[1], gs[2]

	// One cut link is bridged by the third node.
	n.Cut("a", "c")
	if s, _ := status(a, "c"); s != Alive {
		t.Errorf("a sees c %v through b, want alive", s)
	}
	n.HealAll()

	n.Isolate("c")
	waitFor(t, fakeWait, "c failed for a and b", func() bool { return sees(a, "c", Failed)() && sees(b, "c", Failed)() })
	waitFor(t, fakeWait, "a and b failed for c", func() bool { return sees(c, "a", Failed)() && sees(c, "b", Failed)() })
	waitEvent(t, rs[0], "a hears c fail", isMember(MemberFailed, "c"))
	waitEvent(t, rs[2], "c hears a fail", isMember(MemberFailed, "a"))
	// Tag changes wait for the heal.
	if err := c.SetTags(map[string]string{"peer": "new"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range a.Members() {
		if m.Name == "c" && m.Tags["peer"] != "p-c" {
			t.Errorf("a sees c's new tags through a partition")
		}
	}
	n.HealAll()
	waitFor(t, fakeWait, "all alive again", seesAll(gs, "a", "b", "c"))
	for _, m := range a.Members() {
		if m.Name == "c" && m.Tags["peer"] != "new" {
			t.Errorf("a sees c with tags %v after the heal", m.Tags)
		}
	}
	// A join when c first came, another when it came back.
	waitFor(t, fakeWait, "a hears c come back", func() bool { return rs[0].count(isMember(MemberJoin, "c")) == 2 })
}

func TestNetworkCutOneWay(t *testing.T) {
	n := NewNetwork(FailAfter(20 * time.Millisecond))
	gs, rs := fakeNodes(t, n, "a", "b")
	a, b := gs[0], gs[1]
	n.CutOneWay("a", "b")
	if err := a.Broadcast("from-a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Broadcast("from-b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rs[0], "a hears b", isUser("from-b", "2"))
	waitFor(t, fakeWait, "a hears itself", func() bool { return rs[0].has(isUser("from-a", "1")) })
	waitFor(t, fakeWait, "b hears itself", func() bool { return rs[1].has(isUser("from-b", "2")) })
	// Probes need both directions: each sees the other fail.
	waitFor(t, fakeWait, "both failed", func() bool { return sees(a, "b", Failed)() && sees(b, "a", Failed)() })
	if rs[1].has(isUser("from-a", "1")) {
		t.Error("b heard a over a cut link")
	}
	if _, err := a.Join([]string{"b"}); !errors.Is(err, ErrNoJoin) {
		t.Errorf("join over a one-way cut: %v, want ErrNoJoin", err)
	}
	n.HealOneWay("a", "b")
	waitFor(t, fakeWait, "healed", seesAll(gs, "a", "b"))
}

func TestNetworkLeave(t *testing.T) {
	n := NewNetwork(FailAfter(20 * time.Millisecond))
	gs, rs := fakeNodes(t, n, "a", "b", "c")
	a, b, c := gs[0], gs[1], gs[2]
	n.Isolate("c")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	waitFor(t, fakeWait, "a sees b left", sees(a, "b", Left))
	waitFor(t, fakeWait, "c sees b failed", sees(c, "b", Failed))
	n.HealAll()
	waitFor(t, fakeWait, "c hears b left", sees(c, "b", Left))
	waitEvent(t, rs[0], "a hears b leave", isMember(MemberLeave, "b"))
	waitEvent(t, rs[2], "c hears b leave", isMember(MemberLeave, "b"))
	waitFor(t, fakeWait, "b's events closed", func() bool {
		select {
		case <-rs[1].done:
			return true
		default:
			return false
		}
	})
	if err := b.Broadcast("x", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("broadcast after close: %v", err)
	}
	if _, err := b.Join([]string{"a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("join after close: %v", err)
	}
	if err := b.SetTags(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("set tags after close: %v", err)
	}

	// A restart under the same name joins again.
	b2 := n.Node("b", map[string]string{"peer": "again"})
	if _, err := b2.Join([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fakeWait, "b is back", seesAll([]Gossip{a, c, b2}, "a", "b", "c"))
}

// TestNetworkJoinAfterLeave: a node that joins after another left never
// knew it; the leave does not concern it (this used to panic).
func TestNetworkJoinAfterLeave(t *testing.T) {
	n := NewNetwork()
	gs, _ := fakeNodes(t, n, "a", "b")
	if err := gs[1].Close(); err != nil {
		t.Fatal(err)
	}
	c := n.Node("c", nil)
	if _, err := c.Join([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fakeWait, "a and c see each other", seesAll([]Gossip{gs[0], c}, "a", "c"))
}

func TestNetworkBroadcast(t *testing.T) {
	n := NewNetwork(FailAfter(time.Hour))
	gs, rs := fakeNodes(t, n, "a", "b", "c")
	a := gs[0]
	n.Cut("b", "c")
	n.CutOneWay("a", "c")
	// a reaches b directly, c through nobody: c only hears from... nobody.
	if err := a.Broadcast("hello", []byte("w")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fakeWait, "a and b hear it", func() bool { return rs[0].has(isUser("hello", "w")) && rs[1].has(isUser("hello", "w")) })
	if rs[2].has(isUser("hello", "w")) {
		t.Error("c heard a over cut links")
	}
	n.Heal("b", "c")
	if err := a.Broadcast("relay", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fakeWait, "c hears a through b", func() bool { return rs[2].has(isUser("relay", "")) })
	evs := rs[2].all()
	i := slices.IndexFunc(evs, isUser("relay", ""))
	if evs[i].LTime == 0 {
		t.Error("no Lamport time")
	}

	max := a.MaxPayload("x")
	if err := a.Broadcast("x", make([]byte, max)); err != nil {
		t.Errorf("payload of MaxPayload: %v", err)
	}
	if err := a.Broadcast("x", make([]byte, max+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("payload of MaxPayload+1: %v, want ErrTooLarge", err)
	}
	if err := a.SetTags(map[string]string{RootTag: "x"}); !errors.Is(err, ErrTags) {
		t.Errorf("root tag: %v, want ErrTags", err)
	}
	if err := a.SetTags(map[string]string{"big": strings.Repeat("x", 600)}); !errors.Is(err, ErrTags) {
		t.Errorf("large tags: %v, want ErrTags", err)
	}
}

func TestNetworkSlowConsumer(t *testing.T) {
	log, _ := testLogger(t)
	n := NewNetwork(EventBuffer(2), NetworkLogger(log))
	defer n.Close()
	a := n.Node("a", nil)
	for i := range 10 {
		if err := a.Broadcast("e", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := a.Dropped(); d != 11-2 { // its own join, then 10 events, into 2 places
		t.Errorf("dropped %d, want 9", d)
	}
}

// TestNetworkConcurrent hammers a network from several goroutines (for -race).
func TestNetworkConcurrent(t *testing.T) {
	n := NewNetwork(FailAfter(time.Millisecond))
	gs, _ := fakeNodes(t, n, "a", "b", "c", "d")
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Go(func() {
			for j := range 50 {
				g.Broadcast("x", []byte(fmt.Sprint(j)))
				g.Members()
				g.SetTags(map[string]string{"j": fmt.Sprint(j)})
				switch j % 4 {
				case 0:
					n.Isolate(g.LocalName())
				case 1:
					n.CutOneWay(g.LocalName(), gs[(i+1)%len(gs)].LocalName())
				case 2:
					n.HealAll()
				}
			}
		})
	}
	wg.Wait()
	n.HealAll()
	waitFor(t, fakeWait, "all alive", seesAll(gs, "a", "b", "c", "d"))
}
