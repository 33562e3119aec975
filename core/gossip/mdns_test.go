package gossip

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// netnsEnv marks a test binary re-executed inside a network namespace.
const netnsEnv = "DISTKV_GOSSIP_NETNS"

// inNetns runs the test named name in a new network namespace whose only
// interface is lo (up, with multicast), so that its multicast never leaves
// the machine. It returns false in the parent, which must then return; the
// test is skipped only if namespaces cannot be made here.
func inNetns(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		return true
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("SKIPPED, discovery not tested: no unshare command to make a network namespace (%v)", err)
	}
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, discovery not tested: unshare -n is not permitted here (%v: %s)", err, out)
	}
	const script = `PATH=$PATH:/usr/sbin:/sbin
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
exec "$@"`
	cmd := exec.Command(unshare, "-n", "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s in a network namespace: %v\n%s", name, err, out)
	}
	t.Logf("ran in a network namespace of its own:\n%s", out)
	return false
}

// TestSerfDiscover: nodes with Discover set find each other by mDNS, only
// within their network.
func TestSerfDiscover(t *testing.T) {
	if !inNetns(t, "TestSerfDiscover") {
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
