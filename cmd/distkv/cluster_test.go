package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/internal/netnstest"
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
		"-C", "server.serf.profile=local", "-C", "server.peer.bind=127.0.0.1:0", "-C", "server.serf.discover=false",
		"-C", "server.http.bind=127.0.0.1:0", "server", "-i", "Other", "--join", "127.0.0.1:"+strconv.Itoa(g2), "three")
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing -i") {
		t.Fatalf("-i while joining: %v\n%s", err, out)
	}
	_ = two
}

// node is a server process of a cluster test.
type node struct {
	name      string
	port, gsp int // client and gossip ports
	proc      *serverProc
	cl        *client.Client
}

func (n *node) args(extra ...string) []string {
	return append([]string{"-C", "server.serf.bind=127.0.0.1:" + strconv.Itoa(n.gsp)}, extra...)
}

func (n *node) connect(t *testing.T) {
	t.Helper()
	cl, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: n.port})
	if err != nil {
		t.Fatal(err)
	}
	n.cl = cl
	t.Cleanup(func() { cl.Close() })
}

// treeDump is everything below p on a node: paths, values and chains.
func treeDump(t *testing.T, cl *client.Client, p path.Path) string {
	t.Helper()
	entries, err := treeEntries(context.Background(), cl, p)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sb, "%v %x %v\n", e.Path, e.Raw, e.Chain)
	}
	return sb.String()
}

// treeEntries is every entry below p on a node, with its whole chain.
func treeEntries(ctx context.Context, cl *client.Client, p path.Path) ([]client.Entry, error) {
	var entries []client.Entry
	for e, err := range cl.GetTree(ctx, p, client.TreeOptions{Chains: -1}) {
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// waitConverged waits until the nodes hold the same entries below p,
// at least min of them.
func waitConverged(t *testing.T, p path.Path, min int, nodes ...*node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		first := treeDump(t, nodes[0].cl, p)
		same := strings.Count(first, "\n") >= min
		for _, n := range nodes[1:] {
			same = same && treeDump(t, n.cl, p) == first
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range nodes {
				t.Logf("%s has %d entries", n.name, strings.Count(treeDump(t, n.cl, p), "\n"))
			}
			t.Fatal("the nodes did not converge")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeBurst sets n keys below prefix through cl, 16 at a time, and
// returns the values acknowledged.
func writeBurst(ctx context.Context, cl *client.Client, prefix string, n int) map[string]int64 {
	var mu sync.Mutex
	acked := map[string]int64{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				key := fmt.Sprintf("%s.k%05d", prefix, i)
				if _, err := cl.Set(ctx, path.P(key), int64(i)); err != nil {
					continue
				}
				mu.Lock()
				acked[key] = int64(i)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return acked
}

// TestClusterBurstAndKill: a 256 KiB value and 10,000 writes reach every
// node intact; a node killed with SIGKILL during writes comes back with
// -l holding every write it acknowledged, and without -l converges with
// the others and goes on without reusing its ticks.
func TestClusterBurstAndKill(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	nodes := []*node{{name: "one"}, {name: "two"}, {name: "three"}}
	for _, n := range nodes {
		n.port, n.gsp = freePort(t), freePort(t)
	}
	join := "127.0.0.1:" + strconv.Itoa(nodes[0].gsp)
	nodes[0].proc = startServerProc(t, bin, nodes[0].port, nodes[0].args("server", "-i", "burst", "one")...)
	// two logs with sync always: what it acknowledges is on disk.
	nodes[1].proc = startServerProc(t, bin, nodes[1].port, nodes[1].args("-C", "server.log.sync=always", "server", "--join", join, "two")...)
	nodes[2].proc = startServerProc(t, bin, nodes[2].port, nodes[2].args("server", "--join", join, "three")...)
	for _, n := range nodes {
		n.connect(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	big := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	if _, err := nodes[0].cl.Set(ctx, path.P("big"), big); err != nil {
		t.Fatal(err)
	}
	acked := writeBurst(ctx, nodes[0].cl, "burst", 10000)
	if len(acked) != 10000 {
		t.Fatalf("only %d of 10000 writes acknowledged", len(acked))
	}
	waitConverged(t, path.P("burst"), 10000, nodes...)
	waitConverged(t, path.P("big"), 1, nodes...)
	for _, n := range nodes {
		e, err := n.cl.Get(ctx, path.P("big"))
		if v, _ := e.Value(); err != nil || v != big {
			t.Fatalf("%s: the 256 KiB value did not arrive intact", n.name)
		}
	}

	// Kill two during writes; it logs with sync always, so -l brings back
	// every write it acknowledged.
	two := nodes[1]
	logFile := filepath.Join(dir, "two.state")
	if _, err := two.cl.Request(ctx, "log", client.Args{{Key: "path", Value: logFile}, {Key: "fetch", Value: true}}); err != nil {
		t.Fatal(err)
	}
	killDuring := func(n *node, prefix string) map[string]int64 {
		wctx, wcancel := context.WithCancel(ctx)
		done := make(chan map[string]int64)
		go func() { done <- writeBurst(wctx, n.cl, prefix, 1000000) }()
		time.Sleep(700 * time.Millisecond) // some writes in flight; not a timing assertion
		n.proc.cmd.Process.Signal(syscall.SIGKILL)
		n.proc.cmd.Wait()
		wcancel()
		return <-done
	}
	restart := func(n *node, extra ...string) {
		n.cl.Close()
		n.proc = startServerProc(t, bin, n.port, n.args(append(append([]string{"server", "--join", join}, extra...), n.name)...)...)
		n.connect(t)
	}
	acked2 := killDuring(two, "kill1")
	restart(two, "-l", logFile)
	for key, want := range acked2 {
		e, err := two.cl.Get(ctx, path.P(key))
		if v, _ := e.Value(); err != nil || v != want {
			t.Fatalf("two restarted with -l: %s = %v, but %d was acknowledged", key, v, want)
		}
	}
	waitConverged(t, path.P("kill1"), len(acked2), nodes...)
	t.Logf("with -l: %d acknowledged writes, all back", len(acked2))

	// Kill three without a log: it comes back from the others, and its
	// new changes do not collide with ticks they have seen.
	three := nodes[2]
	acked3 := killDuring(three, "kill2")
	restart(three)
	if _, err := three.cl.Set(ctx, path.P("after.restart"), "fresh"); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, path.P("kill2"), 0, nodes...)
	waitConverged(t, path.P("after"), 1, nodes...)
	waitConverged(t, path.Root, 10000, nodes...)
	t.Logf("without -l: %d writes were acknowledged before the kill", len(acked3))
}

// TestExternalAgent runs two servers on two external Serf agents
// (Debian's serf, which scripts/test installs): the second copies the
// first's data through the agents' membership, and changes replicate.
func TestExternalAgent(t *testing.T) {
	serfBin, err := exec.LookPath("serf")
	if err != nil {
		t.Fatalf("the serf binary is missing (%v): apt-get install -y serf", err)
	}
	bin := buildBinary(t)
	type agent struct{ bind, rpc int }
	agents := []agent{{freePort(t), freePort(t)}, {freePort(t), freePort(t)}}
	for i, a := range agents {
		args := []string{"agent", "-node", []string{"one", "two"}[i], "-bind", "127.0.0.1:" + strconv.Itoa(a.bind),
			"-rpc-addr", "127.0.0.1:" + strconv.Itoa(a.rpc), "-profile", "local"}
		if i > 0 {
			args = append(args, "-join", "127.0.0.1:"+strconv.Itoa(agents[0].bind))
		}
		c := exec.Command(serfBin, args...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		// Wait for its RPC port.
		for deadline := time.Now().Add(20 * time.Second); ; {
			if nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(a.rpc)); err == nil {
				nc.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the serf agent did not start")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ports := []int{freePort(t), freePort(t)}
	useAgent := func(i int) []string {
		return []string{"-C", "server.serf.host=127.0.0.1", "-C", "server.serf.port=" + strconv.Itoa(agents[i].rpc)}
	}
	startServerProc(t, bin, ports[0], append(useAgent(0), "server", "-i", "Agent", "one")...)
	startServerProc(t, bin, ports[1], append(useAgent(1), "server", "two")...)
	cl, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: ports[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e, err := cl.Get(context.Background(), path.Root)
	if v, _ := e.Value(); err != nil || v != "Agent" {
		t.Fatalf("two: the root is %v (%v), want Agent", v, err)
	}
	c1, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: ports[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if _, err := c1.Set(context.Background(), path.P("via.agent"), int64(7)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if e, err := cl.Get(context.Background(), path.P("via.agent")); err == nil && e.HasValue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the change did not reach two")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGossipKey: servers that share a server.serf.key from distkv keygen
// form a network; a server with another key, or none, cannot join it: it
// says that its join failed and waits for a peer, serving nothing.
func TestGossipKey(t *testing.T) {
	bin := buildBinary(t)
	key := keygen(t, bin)
	keyArg := []string{"-C", "server.serf.key=" + key}
	g1 := freePort(t)
	p1, p2 := freePort(t), freePort(t)
	one := append(append([]string{"-C", "server.serf.bind=127.0.0.1:" + strconv.Itoa(g1)}, keyArg...), "server", "-i", "Secret", "one")
	startServerProc(t, bin, p1, one...)
	join := []string{"server", "--join", "127.0.0.1:" + strconv.Itoa(g1)}
	startServerProc(t, bin, p2, append(append(keyArg, join...), "two")...)
	cl, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: p2})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e, err := cl.Get(context.Background(), path.Root)
	if v, _ := e.Value(); err != nil || v != "Secret" {
		t.Fatalf("two, with the key: the root is %v (%v), want Secret", v, err)
	}
	// A keyring file whose primary key is the key also guards the peers.
	ring := filepath.Join(t.TempDir(), "keyring")
	if err := os.WriteFile(ring, []byte(`["`+key+`"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	p4 := freePort(t)
	startServerProc(t, bin, p4, append([]string{"-C", "server.serf.keyring=" + ring}, append(join, "four")...)...)
	c4, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: p4})
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	e, err = c4.Get(context.Background(), path.Root)
	if v, _ := e.Value(); err != nil || v != "Secret" {
		t.Fatalf("four, with the keyring: the root is %v (%v), want Secret", v, err)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"wrong", []string{"-C", "server.serf.key=" + "mLdvVlkN4aVbOfBaTCqVkHyaBVNBaOqCcBj12vWtzVg="}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-c", "/dev/null", "-C", "server.bind_default.host=127.0.0.1",
				"-C", "server.bind_default.port=" + strconv.Itoa(freePort(t))}, loopbackPorts()...)
			args = append(append(append(args, tc.args...), join...), "three")
			c := exec.Command(bin, args...)
			var mu sync.Mutex
			var out, stderr strings.Builder
			c.Stdout, c.Stderr = syncWriter{&out, &mu}, syncWriter{&stderr, &mu}
			read := func(b *strings.Builder) string {
				mu.Lock()
				defer mu.Unlock()
				return b.String()
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { c.Process.Kill(); c.Wait() }()
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				log := read(&stderr)
				if strings.Contains(log, "join failed") && strings.Contains(log, "waiting for a server") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no word of the failed join:\n%s", log)
				}
			}
			time.Sleep(time.Second) // it would have synced by now
			if got := read(&out); got != "" {
				t.Fatalf("a server with the %s key ran: %q", tc.name, got)
			}
		})
	}
}

// TestDiscover: a server started without --join finds a running one of
// its network on the LAN by mDNS (server.serf.discover, on by default) and
// copies its data; one started with -i there is refused. It runs in a
// network namespace of its own, whose multicast never leaves the machine.
func TestDiscover(t *testing.T) {
	if !netnstest.Enter(t, "TestDiscover") {
		return
	}
	bin := buildBinary(t)
	p1, p2 := freePort(t), freePort(t)
	root := []string{"-C", "server.root=:discover.test", "-C", "server.serf.discover=true"}
	startServerProc(t, bin, p1, append(root, "server", "-i", "Found", "one")...)
	startServerProc(t, bin, p2, append(root, "server", "two")...)
	cl, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: p2})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e, err := cl.Get(context.Background(), path.Root)
	if v, _ := e.Value(); err != nil || v != "Found" {
		t.Fatalf("two: the root is %v (%v), want Found", v, err)
	}
	// -i where discovery finds the network running is refused.
	args := append([]string{"-c", "/dev/null", "-C", "server.bind_default.host=127.0.0.1",
		"-C", "server.bind_default.port=" + strconv.Itoa(freePort(t))}, loopbackPorts()...)
	args = append(append(args, root...), "server", "-i", "Fork", "three")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // if it ran, it would not end
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing -i") {
		t.Fatalf("-i beside a discovered network: %v\n%s", err, out)
	}
}
