package main

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTwoServers runs the tutorial's second-server steps with real
// processes: a second server syncs and answers "Testing"; the first,
// killed and restarted without -i, comes back with all data; -i on a
// server that joins a running network is refused.
func TestTwoServers(t *testing.T) {
	bin := buildBinary(t)
	p1, p2 := freePort(t), freePort(t)
	g1, g2 := freePort(t), freePort(t)
	gossipAt := func(p int) string { return "server.serf.bind=127.0.0.1:" + strconv.Itoa(p) }
	dkd := func(port int, args ...string) (string, error) {
		c := exec.Command(bin, append([]string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port=" + strconv.Itoa(port), "client", "data"}, args...)...)
		out, err := c.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitFor := func(port int, want string, args ...string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, _ := dkd(port, args...)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("data %v on port %d: %q, want %q", args, port, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	one := startServerProc(t, bin, p1, "-C", gossipAt(g1), "server", "-i", "Testing", "one")
	two := startServerProc(t, bin, p2, "-C", gossipAt(g2), "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")
	if got, err := dkd(p2, "get"); err != nil || got != `"Testing"` {
		t.Fatalf("two: data get = %q, %v", got, err)
	}
	// Changes flow both ways.
	if _, err := dkd(p1, "set", "-ev", "123", "one.two.three"); err != nil {
		t.Fatal(err)
	}
	if _, err := dkd(p2, "set", "-v", "Duh", "from.two"); err != nil {
		t.Fatal(err)
	}
	waitFor(p2, "123", "get", "one.two.three")
	waitFor(p1, `"Duh"`, "get", "from.two")

	// A message sent through one server reaches a monitor on the other.
	mon := exec.Command(bin, "-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port="+strconv.Itoa(p2), "client", "msg", "monitor", "test.topic")
	monOut, _ := mon.StdoutPipe()
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(monOut)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	sent := false
	for deadline := time.Now().Add(20 * time.Second); !sent; {
		c := exec.Command(bin, "-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port="+strconv.Itoa(p1), "client", "msg", "send", "-ev", "42", "test.topic")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("msg send: %v\n%s", err, out)
		}
		select {
		case line := <-got:
			for !strings.HasPrefix(line, "data:") {
				line = <-got
			}
			if line != "data: 42" {
				t.Fatalf("monitor printed %q", line)
			}
			sent = true
		case <-time.After(300 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the message never arrived")
			}
		}
	}
	mon.Process.Signal(syscall.SIGTERM)
	mon.Wait()

	// Kill the first server and restart it without -i: it copies the data.
	one.cmd.Process.Signal(syscall.SIGTERM)
	one.cmd.Wait()
	if _, err := dkd(p2, "set", "-v", "while.away", "later"); err != nil {
		t.Fatal(err)
	}
	startServerProc(t, bin, p1, "-C", gossipAt(g1), "server", "--join", "127.0.0.1:"+strconv.Itoa(g2), "one")
	for _, c := range []struct{ path, want string }{{"", `"Testing"`}, {"one.two.three", "123"}, {"later", `"while.away"`}} {
		args := []string{"get"}
		if c.path != "" {
			args = append(args, c.path)
		}
		if got, err := dkd(p1, args...); err != nil || got != c.want {
			t.Errorf("restarted one: data get %s = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	// The restarted server continues its own ticks: its changes win.
	if _, err := dkd(p1, "set", "-v", "after", "one.two.three"); err != nil {
		t.Fatal(err)
	}
	waitFor(p2, `"after"`, "get", "one.two.three")

	// -i on a server that joins a running network is refused.
	p3, g3 := freePort(t), freePort(t)
	c := exec.Command(bin, "-c", "/dev/null", "-C", "server.bind_default.port="+strconv.Itoa(p3), "-C", gossipAt(g3),
		"-C", "server.serf.profile=local", "-C", "server.peer.bind=127.0.0.1:0",
		"server", "-i", "Other", "--join", "127.0.0.1:"+strconv.Itoa(g2), "three")
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing -i") {
		t.Fatalf("-i while joining: %v\n%s", err, out)
	}
	_ = two
}
