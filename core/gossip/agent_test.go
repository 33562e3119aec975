package gossip

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/serf/client"
)

// serfAgent is a `serf agent` process on loopback ports.
type serfAgent struct {
	name, bind, rpc string
	cmd             *exec.Cmd
	out             *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startSerfAgent runs Debian's serf agent (apt-get install -y serf). The
// test fails, not skips, without it: the project's test script installs it.
func startSerfAgent(t *testing.T, name string) *serfAgent {
	t.Helper()
	a := &serfAgent{
		name: name,
		bind: net.JoinHostPort("127.0.0.1", freePort(t)),
		rpc:  net.JoinHostPort("127.0.0.1", freePort(t)),
	}
	a.start(t)
	return a
}

func (a *serfAgent) start(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("serf")
	if err != nil {
		t.Fatalf("the serf binary is missing (%v): apt-get install -y serf", err)
	}
	a.out = &lockedBuffer{}
	a.cmd = exec.Command(bin, "agent", "-node", a.name, "-bind", a.bind, "-rpc-addr", a.rpc,
		"-profile", "local", "-log-level", "debug")
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start serf agent: %v", err)
	}
	cmd := a.cmd
	t.Cleanup(func() {
		a.stop(cmd)
		if t.Failed() {
			t.Logf("serf agent %s:\n%s", a.name, a.out)
		}
	})
}

// stop terminates the agent, or kills it after a while.
func (a *serfAgent) stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM) // quits without a leave: faster than an interrupt
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// connect opens an Agent on a once its RPC port answers.
func (a *serfAgent) connect(t *testing.T, log *logs, mods ...func(*AgentConfig)) *Agent {
	t.Helper()
	cfg := AgentConfig{Addr: a.rpc, Root: testRoot, Tags: map[string]string{"peer": "p-" + a.name}, Logger: slogFor(log), Reconnect: 50 * time.Millisecond}
	for _, m := range mods {
		m(&cfg)
	}
	var g *Agent
	waitFor(t, serfWait, "the agent "+a.name+" answers", func() bool {
		var err error
		g, err = NewAgent(cfg)
		if err != nil && !errors.Is(err, ErrAgent) {
			t.Fatal(err)
		}
		return err == nil
	})
	t.Cleanup(func() { g.Close() })
	return g
}

func TestAgent(t *testing.T) {
	_, log := testLogger(t)
	s1, s2, s3 := startSerfAgent(t, "n1"), startSerfAgent(t, "n2"), startSerfAgent(t, "n3")
	g1 := s1.connect(t, log)
	g2 := s2.connect(t, log)
	r1, r2 := record(g1), record(g2)
	if g1.LocalName() != "n1" || g2.LocalName() != "n2" {
		t.Errorf("names %s, %s", g1.LocalName(), g2.LocalName())
	}
	if n, err := g1.Join([]string{s2.bind}); n != 1 || err != nil {
		t.Fatalf("join: %d, %v", n, err)
	}
	both := []Gossip{g1, g2}
	waitFor(t, serfWait, "n1 and n2 see each other", seesAll(both, "n1", "n2"))
	for _, g := range both {
		ms := g.Members()
		if !slices.Equal(names(ms), []string{"n1", "n2"}) {
			t.Errorf("%s sees %v", g.LocalName(), names(ms))
		}
		for _, m := range ms {
			if m.Tags["peer"] != "p-"+m.Name || len(m.Tags) != 1 || !m.Addr.Addr().IsLoopback() {
				t.Errorf("%s sees %+v", g.LocalName(), m)
			}
		}
	}
	waitEvent(t, r1, "n1 hears n2 join", isMember(MemberJoin, "n2"))

	// User events reach both, sender included.
	if err := g1.Broadcast("hello", []byte("from n1")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r1, "n1 hears itself", isUser("hello", "from n1"))
	waitEvent(t, r2, "n2 hears n1", isUser("hello", "from n1"))
	max := g1.MaxPayload("big")
	if err := g1.Broadcast("big", bytes.Repeat([]byte("b"), max)); err != nil {
		t.Errorf("payload of MaxPayload: %v", err)
	}
	if err := g1.Broadcast("big", make([]byte, max+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("payload of MaxPayload+1: %v, want ErrTooLarge", err)
	}

	// Tags replace the old ones.
	if err := g2.SetTags(map[string]string{"peer": "new", "x": "y"}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r1, "n1 hears n2's tags", func(e Event) bool {
		return isMember(MemberUpdate, "n2")(e) && e.Members[0].Tags["x"] == "y"
	})
	if err := g2.SetTags(map[string]string{"peer": "newer"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, serfWait, "n1 sees n2's last tags", func() bool {
		for _, m := range g1.Members() {
			if m.Name == "n2" {
				return m.Tags["peer"] == "newer" && len(m.Tags) == 1
			}
		}
		return false
	})
	if err := g2.SetTags(map[string]string{RootTag: "x"}); !errors.Is(err, ErrTags) {
		t.Errorf("root tag: %v, want ErrTags", err)
	}

	// Another network shares the Serf cluster: n1 never lists n3 nor
	// delivers its events.
	g3 := s3.connect(t, log, func(c *AgentConfig) { c.Root = ":other" })
	r3 := record(g3)
	if _, err := g3.Join([]string{s1.bind}); err != nil {
		t.Fatal(err)
	}
	raw, err := client.NewRPCClient(s1.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	waitFor(t, serfWait, "the agent n1 knows n3", func() bool {
		ms, _ := raw.Members()
		return slices.ContainsFunc(ms, func(m client.Member) bool { return m.Name == "n3" && m.Status == "alive" })
	})
	if err := g3.Broadcast("hello", []byte("from n3")); err != nil {
		t.Fatal(err)
	}
	if err := raw.UserEvent("plain", []byte("no prefix"), false); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r3, "n3 hears itself", isUser("hello", "from n3"))
	waitFor(t, serfWait, "n1 drops the events of others", func() bool {
		return log.contains("another network", "event=:other:hello") && log.contains("another network", "event=plain")
	})
	if names := names(g1.Members()); !slices.Equal(names, []string{"n1", "n2"}) {
		t.Errorf("n1 sees %v", names)
	}
	if r1.has(isUser("hello", "from n3")) || r1.has(isMember(MemberJoin, "n3")) || r3.has(isUser("hello", "from n1")) {
		t.Error("events crossed networks")
	}

	// Closing g2 removes its tags: n1 sees n2 leave the network while the
	// agent n2 stays.
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g2.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	<-r2.done
	waitEvent(t, r1, "n1 hears n2 leave", isMember(MemberLeave, "n2"))
	waitFor(t, serfWait, "n1 no longer lists n2", func() bool { return !slices.Contains(names(g1.Members()), "n2") })
	if err := g2.Broadcast("x", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("broadcast after close: %v", err)
	}

	// The agent n1 restarts: g1 reconnects and sets its tags again.
	s1.cmd.Process.Signal(syscall.SIGKILL)
	s1.cmd.Wait()
	waitFor(t, serfWait, "g1 notices", func() bool { return log.contains("lost the serf agent") })
	s1.start(t)
	waitFor(t, serfWait, "g1 reconnects", func() bool { return log.contains("reconnected to the serf agent") })
	waitFor(t, serfWait, "n1 is back with its tags", sees(g1, "n1", Alive))
	if err := g1.Broadcast("again", nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r1, "n1 hears itself after the restart", isUser("again", ""))
}

func TestAgentUnreachable(t *testing.T) {
	_, err := NewAgent(AgentConfig{Addr: net.JoinHostPort("127.0.0.1", freePort(t)), Logger: slogFor(&logs{})})
	if !errors.Is(err, ErrAgent) {
		t.Errorf("no agent: %v, want ErrAgent", err)
	}
	if _, err := NewAgent(AgentConfig{Addr: "nowhere:", Logger: slogFor(&logs{})}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad address: %v, want ErrConfig", err)
	}
}
