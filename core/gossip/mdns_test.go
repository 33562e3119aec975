package gossip

import (
	"slices"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/internal/netnstest"
)

// TestSerfDiscover: nodes with Discover set find each other by mDNS, only
// within their network.
func TestSerfDiscover(t *testing.T) {
	if !netnstest.Enter(t, "TestSerfDiscover") {
		return
	}
	_, log := testLogger(t)
	discover := func(c *Config) { c.Discover = true }
	a := startSerf(t, log, "a", discover)
	b := startSerf(t, log, "b", discover)
	x := startSerf(t, log, "x", discover, func(c *Config) { c.Root = ":other" })
	y := startSerf(t, log, "y", discover, func(c *Config) { c.Root = ":other" })
	waitFor(t, serfWait, "a and b find each other", seesAll([]Gossip{a, b}, "a", "b"))
	waitFor(t, serfWait, "x and y find each other", seesAll([]Gossip{x, y}, "x", "y"))
	for _, g := range []Gossip{a, b} {
		if got := names(g.Members()); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("%s sees %v", g.LocalName(), got)
		}
	}
	for _, g := range []Gossip{x, y} {
		if got := names(g.Members()); !slices.Equal(got, []string{"x", "y"}) {
			t.Errorf("%s sees %v", g.LocalName(), got)
		}
	}
}

func TestServiceName(t *testing.T) {
	for root, want := range map[string]string{
		":distkv":               "_distkv-distkv._tcp",
		"Test.Net":              "_distkv-test-net._tcp",
		":::":                   "_distkv-root._tcp",
		strings.Repeat("a", 99): "_distkv-" + strings.Repeat("a", 55) + "._tcp",
	} {
		if got := serviceName(root); got != want {
			t.Errorf("serviceName(%q) = %q, want %q", root, got, want)
		}
	}
}
