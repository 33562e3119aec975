package gossip

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

func TestNormalizeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"host":             "host:7946",
		"10.0.0.1":         "10.0.0.1:7946",
		"10.0.0.1:1234":    "10.0.0.1:1234",
		" host:1 ":         "host:1",
		"::1":              "[::1]:7946",
		"[::1]":            "[::1]:7946",
		"[::1]:99":         "[::1]:99",
		"fe80::1%eth0":     "[fe80::1%eth0]:7946",
		"host:0":           "",
		"host:65536":       "",
		"host:x":           "",
		":1234":            "",
		"":                 "",
		"a b":              "",
		"1:2:3":            "",
		"[host]":           "",
		"[":                "",
		"[::1":             "",
		"[\n0":             "",
		"host.example.org": "host.example.org:7946",
	} {
		got, err := normalizeAddr(in)
		if want == "" {
			if err == nil {
				t.Errorf("normalizeAddr(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("normalizeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	n, err := join([]string{"bad:port", ""}, func([]string) (int, error) { t.Fatal("called without valid addresses"); return 0, nil })
	if n != 0 || !errors.Is(err, ErrNoJoin) {
		t.Errorf("join of invalid addresses: %d, %v", n, err)
	}
}

func FuzzNormalizeAddr(f *testing.F) {
	for _, s := range []string{"host", "1.2.3.4:5", "[::1]:7", "::1", "[", "]:", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := normalizeAddr(s)
		if err != nil {
			return
		}
		again, err := normalizeAddr(out)
		if err != nil || again != out {
			t.Errorf("normalizeAddr(%q) = %q, which normalizes to %q, %v", s, out, again, err)
		}
	})
}

func TestParseKey(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	if k, err := ParseKey(k32 + "\n"); err != nil || len(k) != 32 {
		t.Errorf("ParseKey: %v, %v", k, err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseKey(%q): %v, want ErrConfig", bad, err)
		}
	}
	keys, err := parseKeyring([]byte(`["` + k32 + `", "` + base64.StdEncoding.EncodeToString(make([]byte, 16)) + `"]`))
	if err != nil || len(keys) != 2 || len(keys[0]) != 32 || len(keys[1]) != 16 {
		t.Errorf("parseKeyring: %v, %v", keys, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `["x"]`, `[1]`, `null`} {
		if _, err := parseKeyring([]byte(bad)); !errors.Is(err, ErrConfig) {
			t.Errorf("parseKeyring(%s): %v, want ErrConfig", bad, err)
		}
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte(`["AAAAAAAAAAAAAAAAAAAAAA=="]`))
	f.Add([]byte(`[""]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseKeyring(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		for _, k := range keys {
			if checkKey(k) != nil {
				t.Errorf("accepted a key of %d bytes", len(k))
			}
		}
	})
}

func TestWireName(t *testing.T) {
	if w := wireName(":distkv", "tick"); w != ":distkv:tick" {
		t.Errorf("wireName = %q", w)
	}
	for wire, want := range map[string]string{":distkv:tick": "tick", ":distkv:": "", ":distkv:a:b": "a:b"} {
		if got, ok := parseWireName(":distkv", wire); !ok || got != want {
			t.Errorf("parseWireName(%q) = %q, %v", wire, got, ok)
		}
	}
	for _, wire := range []string{":distkv", ":distkvx:a", "tick", ":other:tick", ""} {
		if _, ok := parseWireName(":distkv", wire); ok {
			t.Errorf("parseWireName(%q) accepted", wire)
		}
	}
}

func TestRootFilter(t *testing.T) {
	f := newRootFilter("r", slogFor(&logs{}))
	m := func(name, root string, st Status) rawMember {
		return rawMember{Member: Member{Name: name, Tags: map[string]string{RootTag: root, "k": "v"}, Status: st}, ok: true}
	}
	type step struct {
		kind Kind
		in   rawMember
		want []Kind
	}
	for i, s := range []step{
		{MemberJoin, m("a", "other", Alive), nil},              // not ours
		{MemberUpdate, m("a", "r", Alive), []Kind{MemberJoin}}, // takes our root
		{MemberUpdate, m("a", "r", Alive), []Kind{MemberUpdate}},
		{MemberFailed, m("a", "r", Failed), []Kind{MemberFailed}},
		{MemberUpdate, m("a", "other", Alive), []Kind{MemberLeave}}, // leaves our network
		{MemberLeave, m("a", "other", Left), nil},
		{MemberJoin, m("b", "r", Alive), []Kind{MemberJoin}},
		{MemberReap, m("b", "r", Left), []Kind{MemberReap}},
		{MemberUpdate, m("b", "r", Alive), []Kind{MemberJoin}},
		{MemberJoin, rawMember{Member: Member{Name: "c"}}, nil}, // a status we do not report
	} {
		evs := f.apply(s.kind, []rawMember{s.in})
		var kinds []Kind
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
			if _, ok := e.Members[0].Tags[RootTag]; ok || e.Members[0].Tags["k"] != "v" {
				t.Errorf("step %d: tags %v", i, e.Members[0].Tags)
			}
		}
		if !slices.Equal(kinds, s.want) {
			t.Errorf("step %d: %v %s gives %v, want %v", i, s.kind, s.in.Name, kinds, s.want)
		}
	}
}

func TestLogWriter(t *testing.T) {
	l := &logs{}
	std := stdLogger(slogFor(l))
	std.Printf("[WARN] memberlist: one")
	std.Printf("[ERR] serf: two\n[DEBUG] three")
	std.Printf("plain")
	for _, want := range []string{"WARN memberlist: one", "ERROR serf: two", "DEBUG three", "INFO plain"} {
		if !l.contains(want) {
			t.Errorf("no line %q in %q", want, l.lines)
		}
	}
}

// testAgent is an Agent without a connection, to feed records to handle.
func testAgent(l *logs) *Agent {
	log := slogFor(l)
	return &Agent{cfg: AgentConfig{Root: "r", UserEventSizeLimit: 512}.withDefaults(), log: log,
		events: newSink(16, log), filter: newRootFilter("r", log)}
}

// agentRecord encodes a record as the agent does and decodes it as the
// client does.
func agentRecord(t testing.TB, rec any) map[string]any {
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{WriteExt: true}).Encode(rec); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := codec.NewDecoder(&buf, &codec.MsgpackHandle{WriteExt: true}).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

type testMember struct {
	Name   string
	Addr   []byte
	Port   uint16
	Tags   map[string]string
	Status string
}

func TestAgentRecords(t *testing.T) {
	l := &logs{}
	a := testAgent(l)
	ip := netip.MustParseAddr("10.1.2.3").AsSlice()
	good := testMember{"n", ip, 7946, map[string]string{RootTag: "r", "peer": "x"}, "alive"}
	recs := []any{
		map[string]any{"Event": "member-join", "Members": []testMember{good}},
		map[string]any{"Event": "user", "Name": "r:hi", "Payload": []byte("p"), "LTime": 7},
		map[string]any{"Event": "user", "Name": "other:hi", "Payload": []byte("p"), "LTime": 7},
		map[string]any{"Event": "user", "Name": "r:big", "Payload": make([]byte, 600), "LTime": 8},
		map[string]any{"Event": "member-join", "Members": "nonsense"},
		map[string]any{"Event": "member-join", "Members": []any{1, "x", nil}},
		map[string]any{"Event": "member-join", "Members": []testMember{{Name: "bad", Addr: []byte{1}}}},
		map[string]any{"Event": "member-failed", "Members": []testMember{{Name: "n", Addr: ip, Port: 1, Status: "failed", Tags: map[string]string{RootTag: "r"}}}},
		map[string]any{"Event": "query", "Name": "r:q"},
		map[string]any{},
	}
	for _, r := range recs {
		a.handle(agentRecord(t, r))
	}
	close(a.events.ch)
	var got []string
	for e := range a.events.ch {
		s := e.Kind.String()
		if e.Kind == User {
			s += " " + e.Name + " " + string(e.Payload)
		} else {
			s += " " + e.Members[0].Name + " " + e.Members[0].Addr.String()
		}
		got = append(got, s)
	}
	want := []string{"member-join n 10.1.2.3:7946", "user hi p", "member-failed n 10.1.2.3:1"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	for _, line := range []string{"another network", "oversized", "malformed event", "malformed member"} {
		if !l.contains(line) {
			t.Errorf("no log line %q", line)
		}
	}
}

func FuzzAgentRecord(f *testing.F) {
	ip := netip.MustParseAddr("10.1.2.3").AsSlice()
	for _, r := range []any{
		map[string]any{"Event": "member-join", "Members": []testMember{{"n", ip, 7946, map[string]string{RootTag: "r"}, "alive"}}},
		map[string]any{"Event": "user", "Name": "r:hi", "Payload": []byte("p"), "LTime": 7},
	} {
		var buf bytes.Buffer
		codec.NewEncoder(&buf, &codec.MsgpackHandle{WriteExt: true}).Encode(r)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec map[string]any
		if err := codec.NewDecoderBytes(data, &codec.MsgpackHandle{WriteExt: true}).Decode(&rec); err != nil {
			return
		}
		a := testAgent(&logs{})
		a.handle(rec) // must not panic
	})
}

func TestSinkDrops(t *testing.T) {
	l := &logs{}
	s := newSink(1, slogFor(l))
	for range 5 {
		s.deliver(Event{Kind: User})
	}
	if s.dropped.Load() != 4 {
		t.Errorf("dropped %d, want 4", s.dropped.Load())
	}
	if n := strings.Count(strings.Join(l.lines, "\n"), "dropping events"); n != 3 { // 1st, 2nd, 4th
		t.Errorf("%d log lines for 4 drops, want 3", n)
	}
}

func TestStatusAndKindNames(t *testing.T) {
	for st, want := range map[Status]string{Alive: "alive", Leaving: "leaving", Failed: "failed", Left: "left", 9: "unknown"} {
		if st.String() != want {
			t.Errorf("%d: %s", st, st)
		}
		if st != 9 {
			if got, ok := statusFromString(want); !ok || got != st {
				t.Errorf("statusFromString(%s) = %v", want, got)
			}
		}
	}
	for k, want := range map[Kind]string{MemberJoin: "member-join", MemberLeave: "member-leave", MemberFailed: "member-failed", MemberUpdate: "member-update", MemberReap: "member-reap", User: "user", 9: "unknown"} {
		if k.String() != want {
			t.Errorf("%d: %s", k, k)
		}
	}
	_ = slog.LevelInfo
}

// FuzzEventStream decodes arbitrary bytes as the agent's event stream:
// every record goes through handle; nothing panics.
func FuzzEventStream(f *testing.F) {
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, rpcHandle())
	enc.Encode(rpcResponse{Seq: streamSeq})
	enc.Encode(map[string]any{"Event": "user", "Name": "r:hi", "Payload": []byte("p"), "LTime": 7})
	enc.Encode(rpcResponse{Seq: streamSeq})
	enc.Encode(map[string]any{"Event": "member-join", "Members": []testMember{{"n", []byte{1, 2, 3, 4}, 1, map[string]string{RootTag: "r"}, "alive"}}})
	f.Add(buf.Bytes())
	f.Add([]byte{0x82, 0xa3, 'S', 'e', 'q', 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &eventStream{dec: codec.NewDecoderBytes(data, rpcHandle())}
		a := testAgent(&logs{})
		for range 100 {
			rec, err := s.next()
			if err != nil {
				return
			}
			a.handle(rec)
			select {
			case <-a.events.ch:
			default:
			}
		}
	})
}
