package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServersLogIn runs the tutorial's "ACLs and distributed servers"
// with real processes: once logins are on, a server joins only with a
// login of its own (connect.auth), and a user added on one server logs
// in on the other.
func TestServersLogIn(t *testing.T) {
	bin := buildBinary(t)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	g1 := freePort(t)
	cli := func(port int, args ...string) (string, error) {
		c := exec.Command(bin, append([]string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port=" + strconv.Itoa(port), "client"}, args...)...)
		out, err := c.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(port int, args ...string) string {
		t.Helper()
		out, err := cli(port, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	// Every server of a network with logins needs a login for its peers,
	// the first one too: it may be given before the user exists.
	startServerProc(t, bin, p1, "-C", "server.serf.bind=127.0.0.1:"+strconv.Itoa(g1), "-C", "connect.auth=_test name=joe", "server", "-i", "Testing", "one")
	must(p1, "auth", "-m", "_test", "user", "add", "name=joe")
	must(p1, "auth", "-m", "_test", "user", "add", "name=root")
	if got := must(p1, "auth", "-m", "_test", "init"); got != "Authorization switched to _test" {
		t.Fatalf("init: %q", got)
	}

	// Without a login of its own a server finds no peer to copy from.
	_, err := launchServerProc(t, bin, p3, 20*time.Second, "-C", "server.sync_timeout=3s",
		"server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "three")
	if err == nil || !strings.Contains(err.Error(), "sent no login, and logins are on (method _test): give that server connect.auth") {
		t.Fatalf("a server without a login started: %v", err)
	}

	startServerProc(t, bin, p2, "-C", "connect.auth=_test name=joe", "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")
	if got := must(p2, "-a", "_test name=joe", "data", "get"); got != `"Testing"` {
		t.Fatalf("two: %q", got)
	}
	if out, err := cli(p2, "data", "get"); err == nil || out != "ClientAuthRequiredError: You need to log in using: _test" {
		t.Fatalf("two without a login: %q, %v", out, err)
	}
	must(p1, "-a", "_test name=root", "auth", "user", "add", "name=ann")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := cli(p2, "-a", "_test name=ann", "data", "get")
		if err == nil && out == `"Testing"` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ann, added on one, does not log in on two: %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
