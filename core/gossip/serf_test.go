package gossip

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// serfWait bounds every wait on embedded nodes: the local profile notices a
// join, a failure or a heal in about a second; -race on 2 cores is slower.
const serfWait = 15 * time.Second

const testRoot = ":test"

// startSerf starts an embedded node on a free loopback port with the local
// profile; mods adjust its Config. t.Cleanup closes it.
func startSerf(t *testing.T, log *logs, name string, mods ...func(*Config)) *Serf {
	t.Helper()
	cfg := Config{
		NodeName: name,
		BindAddr: "127.0.0.1:0",
		Root:     testRoot,
		Profile:  ProfileLocal,
		Tags:     map[string]string{"peer": "p-" + name},
	}
	if log != nil {
		cfg.Logger = slogFor(log)
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := NewSerf(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func joinTo(s *Serf) func(*Config) {
	return func(c *Config) { c.Join = []string{s.Addr().String()} }
}

// serfCluster starts nodes joined to the first one and waits until all see
// all.
func serfCluster(t *testing.T, log *logs, names []string, mods ...func(*Config)) ([]*Serf, []*recorder) {
	t.Helper()
	var ss []*Serf
	var rs []*recorder
	var gs []Gossip
	for i, name := range names {
		ms := mods
		if i > 0 {
			ms = append(slices.Clone(mods), joinTo(ss[0]))
		}
		s := startSerf(t, log, name, ms...)
		ss, gs = append(ss, s), append(gs, s)
		rs = append(rs, record(s))
	}
	waitFor(t, serfWait, "all nodes see each other", seesAll(gs, names...))
	return ss, rs
}

func TestSerfMembers(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b", "c"})
	for i, s := range ss {
		if s.LocalName() != []string{"a", "b", "c"}[i] || s.Addr().Port() == 0 || !s.Addr().Addr().IsLoopback() {
			t.Errorf("node %d: name %s, addr %s", i, s.LocalName(), s.Addr())
		}
		ms := s.Members()
		if got := names(ms); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("%s sees %v", s.LocalName(), got)
		}
		for j, m := range ms {
			if m.Tags["peer"] != "p-"+m.Name || len(m.Tags) != 1 || m.Addr != ss[j].Addr() || m.Status != Alive {
				t.Errorf("%s sees %+v", s.LocalName(), m)
			}
		}
		for _, n := range []string{"a", "b", "c"} {
			waitEvent(t, rs[i], s.LocalName()+" hears "+n+" join", isMember(MemberJoin, n))
		}
	}
}

// TestSerfAdvertise: an explicit advertise IP keeps the bound port.
func TestSerfAdvertise(t *testing.T) {
	_, log := testLogger(t)
	a := startSerf(t, log, "a", func(c *Config) { c.Advertise = "127.0.0.1" })
	b := startSerf(t, log, "b", joinTo(a))
	if a.Addr().Port() == 0 || a.Addr().Addr().String() != "127.0.0.1" {
		t.Errorf("a advertises %s", a.Addr())
	}
	waitFor(t, serfWait, "b joins a", seesAll([]Gossip{a, b}, "a", "b"))
}

func TestSerfTags(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b", "c"})
	if err := ss[1].SetTags(map[string]string{"peer": "new", "client": "127.0.0.1:27586"}); err != nil {
		t.Fatal(err)
	}
	for i, s := range ss {
		waitFor(t, serfWait, s.LocalName()+" sees b's new tags", func() bool {
			for _, m := range s.Members() {
				if m.Name == "b" {
					return m.Tags["peer"] == "new" && m.Tags["client"] == "127.0.0.1:27586" && len(m.Tags) == 2
				}
			}
			return false
		})
		if i != 1 {
			waitEvent(t, rs[i], s.LocalName()+" hears b's update", func(e Event) bool {
				return isMember(MemberUpdate, "b")(e) && e.Members[0].Tags["peer"] == "new"
			})
		}
	}
	if err := ss[0].SetTags(map[string]string{RootTag: "x"}); !errors.Is(err, ErrTags) {
		t.Errorf("root tag: %v, want ErrTags", err)
	}
	if err := ss[0].SetTags(map[string]string{"big": strings.Repeat("x", 500)}); !errors.Is(err, ErrTags) {
		t.Errorf("large tags: %v, want ErrTags", err)
	}
}

func TestSerfUserEvents(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b", "c"})
	// Another network on the same host, which hears its own events only.
	other, ors := serfCluster(t, log, []string{"x", "y"}, func(c *Config) { c.Root = ":other" })

	if err := other[0].Broadcast("hello", []byte("from x")); err != nil {
		t.Fatal(err)
	}
	if err := ss[0].Broadcast("hello", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	for i, s := range ss {
		waitEvent(t, rs[i], s.LocalName()+" hears a", isUser("hello", "from a"))
	}
	for i, s := range other {
		waitEvent(t, ors[i], s.LocalName()+" hears x", isUser("hello", "from x"))
	}
	// By now a's gossip reached b and c; x's never does.
	for i := range ss {
		if rs[i].has(isUser("hello", "from x")) {
			t.Errorf("%s heard an event of another network", ss[i].LocalName())
		}
	}
	for i := range other {
		if ors[i].has(isUser("hello", "from a")) {
			t.Errorf("%s heard an event of another network", other[i].LocalName())
		}
	}

	// The largest payload goes through Serf's own checks; one more byte is refused.
	max := ss[1].MaxPayload("big")
	if max != defaultEventLimit-eventOverhead-len(testRoot+":big") {
		t.Errorf("MaxPayload = %d", max)
	}
	big := bytes.Repeat([]byte{0xff}, max)
	if err := ss[1].Broadcast("big", big); err != nil {
		t.Fatalf("payload of MaxPayload: %v", err)
	}
	if err := ss[1].Broadcast("big", append(big, 0)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("payload of MaxPayload+1: %v, want ErrTooLarge", err)
	}
	for i, s := range ss {
		waitEvent(t, rs[i], s.LocalName()+" hears the big one", isUser("big", string(big)))
	}

	// Up to 9 KiB with a larger limit.
	n := startSerf(t, log, "n", func(c *Config) { c.UserEventSizeLimit = 9216 })
	if err := n.Broadcast("big", make([]byte, 9216-eventOverhead-len(testRoot+":big"))); err != nil {
		t.Errorf("9 KiB event: %v", err)
	}
}

// TestSerfSeparation: nodes of another root, without the key or with
// another key never become members.
func TestSerfSeparation(t *testing.T) {
	_, log := testLogger(t)
	key := newKey(t)
	ss, _ := serfCluster(t, log, []string{"a", "b"}, withKey(key))
	a := ss[0]

	keyring := filepath.Join(t.TempDir(), "keyring.json")
	writeKeyring(t, keyring, key, newKey(t))

	// Each stranger is refused by the mechanism named in the log line.
	strangers := []struct {
		name string
		mod  func(*Config)
		log  string
	}{
		{"other-root", func(c *Config) { c.Root = ":other"; c.Key = key }, `unacceptable label "distkv:other"`},
		{"no-key", func(c *Config) {}, "remote state is encrypted and encryption is not configured"},
		{"other-key", withKey(newKey(t)), "no installed keys could decrypt the message"},
		// Same label, other root tag: refused by the merge delegate.
		{"other-tag", func(c *Config) { c.Root = ":other"; c.label = label(testRoot); c.Key = key }, `member other-tag is of network ":other", not ":test"`},
	}
	for _, s := range strangers {
		defer waitFor(t, serfWait, s.name+" refused with "+s.log, func() bool { return log.contains(s.log) })
		x := startSerf(t, log, s.name, s.mod)
		if n, err := x.Join([]string{a.Addr().String()}); !errors.Is(err, ErrNoJoin) {
			t.Errorf("%s joined %d: %v, want ErrNoJoin", s.name, n, err)
		}
		if n, err := a.Join([]string{x.Addr().String()}); !errors.Is(err, ErrNoJoin) {
			t.Errorf("a joined %s (%d): %v, want ErrNoJoin", s.name, n, err)
		}
	}
	// Unencrypted nodes cannot join an encrypted one either.
	plain := startSerf(t, log, "plain")
	if _, err := plain.Join([]string{a.Addr().String()}); !errors.Is(err, ErrNoJoin) {
		t.Errorf("plain node joined an encrypted network: %v", err)
	}

	// A node with the keyring file (same primary key) joins; once everyone
	// sees it, the gossip has had its chance to carry the strangers.
	k := startSerf(t, log, "keyring", func(c *Config) { c.KeyringFile = keyring }, joinTo(a))
	waitFor(t, serfWait, "the keyring node joins", seesAll([]Gossip{a, ss[1], k}, "a", "b", "keyring"))
	for _, g := range []Gossip{a, ss[1], k} {
		if got := names(g.Members()); !slices.Equal(got, []string{"a", "b", "keyring"}) {
			t.Errorf("%s sees %v", g.LocalName(), got)
		}
	}
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func withKey(k []byte) func(*Config) { return func(c *Config) { c.Key = k } }

func writeKeyring(t *testing.T, path string, keys ...[]byte) {
	t.Helper()
	var enc []string
	for _, k := range keys {
		enc = append(enc, base64.StdEncoding.EncodeToString(k))
	}
	data, _ := json.Marshal(enc)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSerfClose(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b"})
	a, b := ss[0], ss[1]
	if err := b.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	<-rs[1].done // Events is closed
	waitFor(t, serfWait, "a sees b leave", sees(a, "b", Left))
	waitEvent(t, rs[0], "a hears b leave", isMember(MemberLeave, "b"))
	if err := b.Broadcast("x", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("broadcast after close: %v", err)
	}
	if _, err := b.Join([]string{a.Addr().String()}); !errors.Is(err, ErrClosed) {
		t.Errorf("join after close: %v", err)
	}
	if err := b.SetTags(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("set tags after close: %v", err)
	}
}

// TestSerfPartition cuts a node off with the Switch: the others see it
// fail, it sees them fail, and all see each other again after the heal.
func TestSerfPartition(t *testing.T) {
	_, log := testLogger(t)
	sw := NewSwitch()
	var ss []*Serf
	var rs []*recorder
	for i, name := range []string{"a", "b", "c"} {
		mods := []func(*Config){func(c *Config) { c.WrapTransport = sw.Wrap(name) }}
		if i > 0 {
			mods = append(mods, joinTo(ss[0]))
		}
		s := startSerf(t, log, name, mods...)
		ss, rs = append(ss, s), append(rs, record(s))
	}
	a, b, c := ss[0], ss[1], ss[2]
	all := []Gossip{a, b, c}
	waitFor(t, serfWait, "all alive", seesAll(all, "a", "b", "c"))

	start := time.Now()
	sw.Isolate("c")
	waitFor(t, serfWait, "a and b see c fail", func() bool { return sees(a, "c", Failed)() && sees(b, "c", Failed)() })
	t.Logf("a and b saw c fail after %v", time.Since(start).Round(time.Millisecond))
	waitFor(t, serfWait, "c sees a and b fail", func() bool { return sees(c, "a", Failed)() && sees(c, "b", Failed)() })
	t.Logf("c saw a and b fail after %v", time.Since(start).Round(time.Millisecond))
	if s, _ := status(a, "b"); s != Alive {
		t.Errorf("a sees b %v during c's isolation", s)
	}
	waitEvent(t, rs[0], "a hears c fail", isMember(MemberFailed, "c"))

	start = time.Now()
	sw.HealAll()
	waitFor(t, serfWait, "all alive again", seesAll(all, "a", "b", "c"))
	t.Logf("all alive again after %v", time.Since(start).Round(time.Millisecond))
	waitFor(t, serfWait, "a hears c come back", func() bool { return rs[0].count(isMember(MemberJoin, "c")) >= 2 })
	if err := c.Broadcast("back", nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rs[0], "a hears c after the heal", isUser("back", ""))
}

// TestSerfBadInput sends garbage, truncated messages, oversized events and
// events of other networks: they are dropped and logged, nothing crashes.
func TestSerfBadInput(t *testing.T) {
	_, log := testLogger(t)
	ss, rs := serfCluster(t, log, []string{"a", "b"})
	a, b := ss[0], ss[1]
	// A node of our network with a larger event limit.
	big := startSerf(t, log, "big", func(c *Config) { c.UserEventSizeLimit = 2048 }, joinTo(a))
	waitFor(t, serfWait, "big joins", sees(a, "big", Alive))

	// Raw packets and streams.
	addr := a.Addr().String()
	lbl := label(testRoot)
	garbage := [][]byte{
		{},
		{0},
		[]byte("not a memberlist packet at all"),
		{244, 200},                            // a label header that is cut short
		{244, 3, 'x', 'y'},                    // a label header that is cut short
		mustLabel(t, []byte{8}, lbl),          // a user message with nothing in it
		mustLabel(t, []byte{8, 3}, lbl),       // a Serf user event, no body
		mustLabel(t, []byte{8, 3, 0x84}, lbl), // a Serf user event, map cut short
		mustLabel(t, []byte{8, 3, 0x84, 0xa5, 'L', 'T', 'i', 'm', 'e', 0xcf, 1}, lbl),
		mustLabel(t, []byte{7, 0, 0, 0, 0}, lbl), // a compound message cut short
		mustLabel(t, []byte{9, 1, 2, 3}, lbl),    // a compressed message of garbage
		mustLabel(t, bytes.Repeat([]byte{0xff}, 1400), lbl),
	}
	udp, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, g := range garbage {
		udp.Write(g)
		if tcp, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			tcp.SetDeadline(time.Now().Add(time.Second))
			tcp.Write(g)
			tcp.Close()
		}
	}

	// User events that are not ours, or too large for a.
	if err := b.serf.UserEvent(":other:hello", []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	if err := b.serf.UserEvent("hello", []byte("no prefix"), false); err != nil {
		t.Fatal(err)
	}
	oversized := bytes.Repeat([]byte("o"), 1000)
	if err := big.Broadcast("huge", oversized); err != nil {
		t.Fatal(err)
	}
	waitFor(t, serfWait, "a logs the oversized event", func() bool { return log.contains("oversized", "node=a") })
	waitFor(t, serfWait, "a logs the foreign events", func() bool {
		return log.contains("another network", "node=a", ":other:hello") && log.contains("another network", "node=a", "event=hello")
	})

	// a still works.
	if err := b.Broadcast("still", []byte("alive")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rs[0], "a hears b", isUser("still", "alive"))
	for _, e := range rs[0].all() {
		if e.Kind == User && e.Name != "still" {
			t.Errorf("a delivered %s %q", e.Name, e.Payload)
		}
	}
	if !seesAll([]Gossip{a}, "a", "b", "big")() {
		t.Errorf("a sees %v", a.Members())
	}
}

func mustLabel(t *testing.T, b []byte, label string) []byte {
	t.Helper()
	out, err := memberlist.AddLabelHeaderToPacket(b, label)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSerfSlowConsumer: nobody reads a's events; Serf is not held up.
func TestSerfSlowConsumer(t *testing.T) {
	_, log := testLogger(t)
	a := startSerf(t, log, "a", func(c *Config) { c.EventBuffer = 1 })
	b := startSerf(t, log, "b", joinTo(a))
	rb := record(b)
	for i := range 20 {
		if err := a.Broadcast("e", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, serfWait, "a drops events", func() bool { return a.Dropped() > 0 })
	waitEvent(t, rb, "b hears the last one", isUser("e", "\x13"))
	if !sees(a, "b", Alive)() {
		t.Error("a does not see b")
	}
}

// TestSerfJoinRetry: a node whose first join fails joins when its peer
// comes up.
func TestSerfJoinRetry(t *testing.T) {
	_, log := testLogger(t)
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	b := startSerf(t, log, "b", func(c *Config) { c.Join = []string{addr}; c.JoinRetry = 100 * time.Millisecond })
	a := startSerf(t, log, "a", func(c *Config) { c.BindAddr = addr })
	waitFor(t, serfWait, "b joins a after a retry", seesAll([]Gossip{a, b}, "a", "b"))
}

// freePort returns a port that is free for both UDP and TCP on 127.0.0.1
// (racy, as every such helper).
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		u, err := net.ListenPacket("udp", "127.0.0.1:"+port)
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return ""
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte(`{"not": "a list"}`), 0o600)
	badKey := filepath.Join(dir, "badkey.json")
	os.WriteFile(badKey, []byte(`["c2hvcnQ="]`), 0o600)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"bind without port", Config{BindAddr: "127.0.0.1"}},
		{"bind host name", Config{BindAddr: "localhost:0"}},
		{"bind port", Config{BindAddr: "127.0.0.1:99999"}},
		{"advertise unspecified", Config{Advertise: "0.0.0.0:1"}},
		{"short key", Config{Key: []byte("short")}},
		{"key and keyring", Config{Key: make([]byte, 16), KeyringFile: "x"}},
		{"missing keyring", Config{KeyringFile: filepath.Join(dir, "none")}},
		{"keyring not a list", Config{KeyringFile: badJSON}},
		{"keyring short key", Config{KeyringFile: badKey}},
		{"profile", Config{Profile: "fast"}},
		{"event limit", Config{UserEventSizeLimit: 10000}},
		{"event limit small", Config{UserEventSizeLimit: 10}},
		{"root tag", Config{Tags: map[string]string{RootTag: "x"}}},
		{"large tags", Config{Tags: map[string]string{"x": strings.Repeat("y", 600)}}},
		{"long root", Config{Root: strings.Repeat("r", 300)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slogFor(&logs{})
			s, err := NewSerf(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	if c := DefaultConfig(); c.BindAddr != "0.0.0.0:7946" || c.Root != DefaultRoot || c.Profile != ProfileLAN || c.UserEventSizeLimit != 512 || c.Discover {
		t.Errorf("defaults: %+v", c)
	}
}
