package gossip

import (
	"errors"
	"net"
	"testing"
	"time"
)

// conflictOf returns g's *ConflictError, nil if none.
func conflictOf(g Gossip) *ConflictError {
	var ce *ConflictError
	if errors.As(g.NameConflict(), &ce) {
		return ce
	}
	return nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestSerfNameConflictTwo: a second node of a name that joins the first
// sees the conflict, naming the first's address; the first sees it too,
// keeps its name (nobody else can vote) and never lets the second in.
func TestSerfNameConflictTwo(t *testing.T) {
	_, log := testLogger(t)
	a := startSerf(t, log, "one")
	b := startSerf(t, log, "one", joinTo(a))
	ce := conflictOf(b)
	if ce == nil || ce.Addr != a.Addr() || ce.Name != "one" || ce.Lost || !errors.Is(b.NameConflict(), ErrNameConflict) {
		t.Fatalf("b's conflict after its join: %v, want one at %v", b.NameConflict(), a.Addr())
	}
	waitFor(t, serfWait, "a sees the claim", func() bool { return conflictOf(a) != nil })
	if ce := conflictOf(a); ce.Addr != b.Addr() {
		t.Errorf("a's conflict names %v, want b at %v", ce.Addr, b.Addr())
	}
	waitFor(t, serfWait, "a's vote", func() bool { return log.contains("keeping it", "node=one") })
	if isClosed(a.NameLost()) {
		t.Fatal("a lost its name to a newcomer")
	}
	if ms := a.Members(); len(ms) != 1 || ms[0].Addr != a.Addr() {
		t.Errorf("a's members: %+v", ms)
	}
	// Whether b leaves or not, a does not hear its own name leave.
	b.Close()
	if st, _ := status(a, "one"); st != Alive || isClosed(a.NameLost()) {
		t.Errorf("a sees itself %v after b closed", st)
	}
}

// TestSerfNameConflictVote: a newcomer that takes the name of a member a
// third node knows loses the vote and gives the name up; the member
// keeps it.
func TestSerfNameConflictVote(t *testing.T) {
	_, log := testLogger(t)
	ss, _ := serfCluster(t, log, []string{"one", "two"})
	a, c := ss[0], ss[1]
	b := startSerf(t, log, "one", joinTo(c))
	if ce := conflictOf(b); ce == nil || ce.Addr != a.Addr() {
		t.Fatalf("b's conflict: %v, want one at %v", b.NameConflict(), a.Addr())
	}
	select {
	case <-b.NameLost():
	case <-time.After(serfWait):
		t.Fatal("b kept the name")
	}
	if ce := conflictOf(b); !ce.Lost || ce.Addr != a.Addr() || ce.Votes < 1 || ce.Mine != 0 {
		t.Errorf("b's lost conflict: %+v", ce)
	}
	if isClosed(a.NameLost()) {
		t.Error("a lost its name")
	}
	if err := b.Close(); err != nil {
		t.Errorf("close after the lost vote: %v", err)
	}
	if !sees(c, "one", Alive)() || !sees(a, "two", Alive)() {
		t.Error("a and c no longer see each other alive")
	}
}

// TestSerfNameConflictAfterSplit: while "one" is cut off, another node
// starts under its name and the others take it in; when the split heals,
// the first "one" finds that the others name the newcomer, and gives the
// name up.
func TestSerfNameConflictAfterSplit(t *testing.T) {
	_, log := testLogger(t)
	sw := NewSwitch()
	wrap := func(name string) func(*Config) { return func(c *Config) { c.WrapTransport = sw.Wrap(name) } }
	a := startSerf(t, log, "one", wrap("a"))
	c := startSerf(t, log, "two", wrap("c"), joinTo(a))
	d := startSerf(t, log, "three", wrap("d"), joinTo(a))
	waitFor(t, serfWait, "all alive", seesAll([]Gossip{a, c, d}, "one", "two", "three"))
	sw.Isolate("a")
	waitFor(t, serfWait, "c and d see one fail", func() bool { return sees(c, "one", Failed)() && sees(d, "one", Failed)() })
	b := startSerf(t, log, "one", wrap("b"), joinTo(c))
	waitFor(t, serfWait, "c and d take the new one in", func() bool {
		for _, g := range []Gossip{c, d} {
			if st, _ := status(g, "one"); st != Alive || memberAddr(g, "one") != b.Addr() {
				return false
			}
		}
		return true
	})
	sw.HealAll()
	select {
	case <-a.NameLost():
	case <-time.After(3 * serfWait):
		t.Fatal("the first one kept its name")
	}
	if ce := conflictOf(a); !ce.Lost || ce.Addr != b.Addr() {
		t.Errorf("a's lost conflict: %+v", ce)
	}
	if isClosed(b.NameLost()) {
		t.Error("both lost the name")
	}
	waitFor(t, serfWait, "c sees the new one", func() bool { return memberAddr(c, "one") == b.Addr() && sees(c, "one", Alive)() })
}

func memberAddr(g Gossip, name string) any {
	for _, m := range g.Members() {
		if m.Name == name {
			return m.Addr
		}
	}
	return nil
}

// TestSerfRestart: a node closed and started again at once, under its
// name and at its address, binds the port as soon as its predecessor has
// let it go and is not taken for a conflict.
func TestSerfRestart(t *testing.T) {
	_, log := testLogger(t)
	ss, _ := serfCluster(t, log, []string{"one", "two"})
	a, c := ss[0], ss[1]
	addr := a.Addr().String()
	a.Close()
	// Hold the port for a moment, as a predecessor still leaving does.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(300*time.Millisecond, func() { ln.Close() })
	defer release.Stop()
	a2 := startSerf(t, log, "one", func(cfg *Config) { cfg.BindAddr = addr; cfg.Join = []string{c.Addr().String()} })
	if err := a2.NameConflict(); err != nil {
		t.Fatalf("the restarted node: %v", err)
	}
	waitFor(t, serfWait, "two sees one back", func() bool { return sees(c, "one", Alive)() && memberAddr(c, "one") == a2.Addr() })
	if !log.contains("port is in use") {
		t.Error("no word of the busy port")
	}
	// The same with a port held for longer than BindWait: an error.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	_, err = NewSerf(Config{NodeName: "x", BindAddr: ln2.Addr().String(), BindWait: 200 * time.Millisecond, Logger: slogFor(log)})
	if err == nil {
		t.Fatal("bound a port held by another socket")
	}
}
