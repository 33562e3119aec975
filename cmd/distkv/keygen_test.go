package main

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/internal/netnstest"
)

// keygen runs `distkv keygen` and returns the key it printed.
func keygen(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "-c", "/dev/null", "keygen").Output()
	if err != nil {
		t.Fatalf("distkv keygen: %v", err)
	}
	key, ok := strings.CutSuffix(string(out), "\n")
	if !ok || strings.Contains(key, "\n") {
		t.Fatalf("distkv keygen printed %q, want one line", out)
	}
	return key
}

// TestKeygen: keygen prints a new key, in the form server.serf.key takes,
// every time. (TestGossipKey runs servers with one.)
func TestKeygen(t *testing.T) {
	bin := buildBinary(t)
	k1, k2 := keygen(t, bin), keygen(t, bin)
	for _, k := range []string{k1, k2} {
		raw, err := gossip.ParseKey(k)
		if err != nil || len(raw) != 32 {
			t.Fatalf("key %q: %d bytes, %v; want 32", k, len(raw), err)
		}
	}
	if k1 == k2 {
		t.Fatalf("keygen printed %s twice", k1)
	}
}

// TestExposureWarning: a server whose peer listener binds every address
// and that has no key warns at start, naming the port and the fix; with a
// key it does not. It runs in a network namespace of its own, whose only
// interface is lo, so that nothing is reachable from elsewhere.
func TestExposureWarning(t *testing.T) {
	if !netnstest.Enter(t, "TestExposureWarning") {
		return
	}
	bin := buildBinary(t)
	open := []string{"-C", "server.peer.bind=0.0.0.0:0"}
	const warning = "can read and change all data"
	bare := startServerProc(t, bin, freePort(t), append(open, "server", "-i", "Open", "one")...)
	keyed := startServerProc(t, bin, freePort(t), append(open, "-C", "server.serf.key="+keygen(t, bin), "server", "-i", "Closed", "two")...)
	var log string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if log = bare.log(); strings.Contains(log, warning) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning:\n%s", log)
		}
	}
	var port string
	for _, f := range strings.Fields(log) {
		if a, ok := strings.CutPrefix(f, "peer="); ok {
			_, port, _ = net.SplitHostPort(a) // 0.0.0.0 listens on [::] too
		}
	}
	if _, err := strconv.Atoi(port); err != nil || !strings.Contains(log, "reaches port "+port+" ") || !strings.Contains(log, "distkv keygen") {
		t.Fatalf("the warning does not name the peer port (%q) and the fix:\n%s", port, log)
	}
	if strings.Contains(keyed.log(), warning) {
		t.Fatalf("a server with a key warned:\n%s", keyed.log())
	}
}
