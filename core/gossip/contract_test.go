package gossip

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// contract checks what every Gossip promises, on three nodes "a", "b", "c"
// that see each other, with tags {"peer": "p-<name>"}.
func contract(t *testing.T, gs []Gossip, rs []*recorder, wait time.Duration) {
	t.Helper()
	for i, g := range gs {
		ms := g.Members()
		if got := names(ms); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("%s: members %v", g.LocalName(), got)
		}
		for _, m := range ms {
			if m.Status != Alive || m.Tags["peer"] != "p-"+m.Name || len(m.Tags) != 1 || !m.Addr.IsValid() {
				t.Errorf("%s sees %+v", g.LocalName(), m)
			}
		}
		ms[0].Tags["peer"] = "changed by the caller"
		if g.Members()[0].Tags["peer"] == "changed by the caller" {
			t.Errorf("%s: Members shares its tag maps", g.LocalName())
		}
		waitFor(t, wait, g.LocalName()+" hears its own join", func() bool { return rs[i].has(isMember(MemberJoin, g.LocalName())) })
	}

	payload := []byte("payload")
	if err := gs[0].Broadcast("ev", payload); err != nil {
		t.Fatal(err)
	}
	payload[0] = 'X' // the caller's buffer is its own again
	for i, g := range gs {
		waitFor(t, wait, g.LocalName()+" hears the event", func() bool { return rs[i].has(isUser("ev", "payload")) })
	}
	max := gs[0].MaxPayload("ev")
	if err := gs[0].Broadcast("ev", make([]byte, max+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v, want ErrTooLarge", err)
	}

	if err := gs[1].SetTags(map[string]string{"peer": "q"}); err != nil {
		t.Fatal(err)
	}
	for i, g := range gs {
		waitFor(t, wait, g.LocalName()+" hears b's tags", func() bool {
			return rs[i].has(func(e Event) bool { return isMember(MemberUpdate, "b")(e) && e.Members[0].Tags["peer"] == "q" })
		})
	}

	if err := gs[2].Close(); err != nil {
		t.Fatal(err)
	}
	if err := gs[2].Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	<-rs[2].done
	if err := gs[2].Broadcast("ev", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("broadcast after close: %v", err)
	}
	for i, g := range gs[:2] {
		waitFor(t, wait, g.LocalName()+" hears c leave", func() bool { return rs[i].has(isMember(MemberLeave, "c")) })
		waitFor(t, wait, g.LocalName()+" sees c left", sees(g, "c", Left))
	}
}

func TestContractFake(t *testing.T) {
	gs, rs := fakeNodes(t, NewNetwork(), "a", "b", "c")
	contract(t, gs, rs, fakeWait)
}

func TestContractSerf(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b", "c"})
	contract(t, []Gossip{ss[0], ss[1], ss[2]}, rs, serfWait)
}
