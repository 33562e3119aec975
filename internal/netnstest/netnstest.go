// Package netnstest runs a test in a network namespace of its own, for
// tests that multicast (mDNS discovery) and must not reach the machine's
// real network.
package netnstest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// env marks a test binary re-executed inside a network namespace.
const env = "DISTKV_NETNS"

// Enter runs the test named name again, in a new network namespace whose
// only interface is lo (up, with a multicast route), and reports its
// result. It returns true inside the namespace, where the test goes on,
// and false in the parent, which must then return. The test is skipped,
// saying so, only if namespaces cannot be made here.
func Enter(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("SKIPPED, not tested: no unshare command to make a network namespace (%v)", err)
	}
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, not tested: unshare -n is not permitted here (%v: %s)", err, out)
	}
	const script = `PATH=$PATH:/usr/sbin:/sbin
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
exec "$@"`
	cmd := exec.Command(unshare, "-n", "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s in a network namespace: %v\n%s", name, err, out)
	}
	t.Logf("ran in a network namespace of its own:\n%s", out)
	return false
}
