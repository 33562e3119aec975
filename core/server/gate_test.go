package server_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// prefixAccess grants by the longest matching path prefix; no match: no
// access. It records what it was asked.
type prefixAccess struct {
	rules map[string]server.Modes // path text (":" is the root, "\x00" the system root) → modes

	mu    sync.Mutex
	asked []string // "action path"
}

func (a *prefixAccess) Grant(s *server.Session, action string, p path.Path) server.Grant {
	a.mu.Lock()
	a.asked = append(a.asked, action+" "+p.String())
	a.mu.Unlock()
	best, modes := -1, server.Modes(0)
	for k, m := range a.rules {
		var rp path.Path
		if k == "\x00" {
			rp = path.Must(nil)
		} else {
			rp = path.P(k)
		}
		if p.HasPrefix(rp) && rp.Len() > best {
			best, modes = rp.Len(), m
		}
	}
	return server.Grant{Allow: modes, By: "the test's rules"}
}

func (a *prefixAccess) wasAsked(s string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.asked {
		if x == s {
			return true
		}
	}
	return false
}

func mustModes(t *testing.T, s string) server.Modes {
	t.Helper()
	m, err := server.ParseModes(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEveryActionIsServed checks that the server answers every action of
// the protocol's one list, and nothing else.
func TestEveryActionIsServed(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	for i, a := range wire.Actions {
		rc.send(req(t, "seq", int64(i+1), "action", a))
		rep := rc.next()
		for get(rep, "seq") != int64(i+1) || get(rep, "state") != nil && get(rep, "state") != "end" && get(rep, "error") == nil {
			if get(rep, "seq") == int64(i+1) && get(rep, "state") == "start" {
				rc.send(req(t, "seq", int64(1000+i), "action", "stop", "task", int64(i+1)))
			}
			rep = rc.next()
		}
		if get(rep, "etype") == "action" {
			t.Errorf("%s: %v", a, rep)
		}
	}
	rc.send(req(t, "seq", int64(999), "action", "no_such_action"))
	for rep := rc.next(); ; rep = rc.next() {
		if get(rep, "seq") == int64(999) {
			if get(rep, "etype") != "action" {
				t.Errorf("an unknown action: %v", rep)
			}
			break
		}
	}
}

func TestModes(t *testing.T) {
	for _, s := range []string{"", "r", "rwcdxena", "xc"} {
		m := mustModes(t, s)
		back := mustModes(t, m.String())
		if back != m || len(m.String()) != len(s) {
			t.Errorf("%q: %v", s, m)
		}
	}
	if _, err := server.ParseModes("rq"); err == nil {
		t.Error("q is not a mode")
	}
}

// TestGateAccess refuses each kind of request through the Access hook and
// checks that nothing the session may not read goes out.
func TestGateAccess(t *testing.T) {
	acc := &prefixAccess{rules: map[string]server.Modes{
		"open":        server.AllModes,
		"wom":         mustModes(t, "xc"), // the tutorial's write-only store
		"ro":          mustModes(t, "re"),
		"mixed":       mustModes(t, "rwcde"),
		"mixed.hid":   mustModes(t, "wc"),
		"mixed.hid.x": mustModes(t, "r"),
	}}
	// Fill the tree first through a server without hooks, then serve the
	// same data with the gate: start the gated server and fill it through
	// the system as root would (all rules granted during the fill).
	fill := map[string]server.Modes{":": server.AllModes, "\x00": server.AllModes}
	s := startServer(t, server.Config{Hooks: server.Hooks{Access: acc}})
	saved := acc.rules
	acc.rules = fill
	c := connect(t, s)
	ctx := ctxT(t)
	for _, p := range []string{"open.a", "ro.a", "ro.b", "mixed.a", "mixed.hid.y", "mixed.hid.x", "wom.old"} {
		if _, err := c.Set(ctx, path.P(p), p); err != nil {
			t.Fatal(err)
		}
	}
	rc := dialRaw(t, s)
	call := rc.call
	if rep := call("seq", int64(1), "action", "set_internal", "path", path.P("secret"), "value", "s"); get(rep, "changed") != true {
		t.Fatalf("set_internal: %v", rep)
	}
	acc.rules = saved

	denied := func(what string, err error, mode string) {
		t.Helper()
		var se *wire.ServerError
		if !errors.As(err, &se) || !errors.Is(err, wire.ErrAccess) {
			t.Errorf("%s: want access denied, got %v", what, err)
			return
		}
		if !strings.Contains(se.Error(), "needs "+mode+" (") || !strings.Contains(se.Error(), "the test's rules") {
			t.Errorf("%s: the error does not say what was missing and who decided: %v", what, se)
		}
	}
	// Reads.
	if e, err := c.Get(ctx, path.P("open.a")); err != nil || decode(t, e) != "open.a" {
		t.Errorf("get open.a: %v %v", e, err)
	}
	_, err := c.Get(ctx, path.P("wom.old"))
	denied("get wom.old", err, "r")
	_, err = c.Get(ctx, path.P("elsewhere"))
	denied("get elsewhere", err, "r")
	// Write but not create, create but not write.
	if _, err := c.Set(ctx, path.P("wom.new"), 1); err != nil {
		t.Errorf("create in wom: %v", err)
	}
	_, err = c.Set(ctx, path.P("wom.new"), 2)
	denied("overwrite in wom", err, "w")
	_, err = c.Set(ctx, path.P("ro.a"), 2)
	denied("set ro.a", err, "w")
	_, err = c.Delete(ctx, path.P("ro.a"))
	denied("delete ro.a", err, "d")
	// A set without read rights does not return the old value.
	if rep := call("seq", int64(2), "action", "set_value", "path", path.P("mixed.hid.y"), "value", "new"); get(rep, "changed") != true || get(rep, "prev") != nil {
		t.Errorf("set where the session may not read sends prev: %v", rep)
	}
	// The side doors: the system tree, root, save, log, messages, get by event.
	if rep := call("seq", int64(3), "action", "get_internal", "path", path.P("secret")); get(rep, "etype") != "access" || !strings.Contains(fmt.Sprint(get(rep, "error")), "needs r (read)") {
		t.Errorf("get_internal: %v", rep)
	}
	if !acc.wasAsked("get_internal " + path.Must(nil).Join(path.P("secret")).String()) {
		t.Errorf("get_internal did not ask for the system path: %v", acc.asked)
	}
	for i, a := range []pack.Map{
		{{Key: "action", Value: "save"}, {Key: "path", Value: t.TempDir() + "/x"}},
		{{Key: "action", Value: "log"}, {Key: "path", Value: t.TempDir() + "/y"}},
		{{Key: "action", Value: "get_state"}, {Key: "nodes", Value: true}},
		{{Key: "action", Value: "enum"}, {Key: "path", Value: path.P("wom")}},
		{{Key: "action", Value: "delete_tree"}, {Key: "path", Value: path.P("ro")}},
		{{Key: "action", Value: "root"}, {Key: "path", Value: path.P("ro")}},
		{{Key: "action", Value: "root"}, {Key: "path", Value: path.Must(nil)}},
	} {
		kv := []any{"seq", int64(100 + i)}
		for _, p := range a {
			kv = append(kv, p.Key, p.Value)
		}
		rep := call(kv...)
		for get(rep, "state") == "start" || get(rep, "depth") != nil {
			rep = rc.next() // a stream that started: read to its end or error
		}
		if get(rep, "etype") != "access" {
			t.Errorf("%v: %v", a, rep)
		}
	}
	// get_value by event finds nothing the session may not read.
	if rep := call("seq", int64(200), "action", "get_value", "node", s.Node(), "tick", int64(7)); get(rep, "etype") != "no_data" {
		t.Errorf("get by event of wom.old: %v", rep)
	}
	// Walks and watches skip what the session may not read.
	var got []string
	for e, err := range c.GetTree(ctx, path.Root, client.TreeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Path.String())
	}
	if fmt.Sprint(got) != "[mixed.a mixed.hid.x open.a ro.a ro.b]" {
		t.Errorf("get_tree shows %v", got)
	}
	if rep := call("seq", int64(201), "action", "get_tree_internal", "path", path.Root); get(rep, "state") != "start" {
		t.Errorf("get_tree_internal: %v", rep)
	} else if rep := rc.next(); get(rep, "state") != "end" {
		t.Errorf("get_tree_internal shows what the session may not read: %v", rep)
	}
	// Watches too: a change the session may not read does not go out.
	events := c.Watch(ctx, path.P("mixed"), client.WatchOptions{Fetch: true})
	next, stop := iter.Pull2(events)
	defer stop()
	for {
		ev, err, ok := next()
		if !ok || err != nil {
			t.Fatalf("watch ended: %v", err)
		}
		if ev.UpToDate {
			break
		}
		if ev.Path.String() == "hid.y" {
			t.Errorf("the watch's fetch sent what the session may not read")
		}
	}
	if _, err := c.Set(ctx, path.P("mixed.hid.y"), "unseen"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, path.P("mixed.a"), "seen"); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err, ok := next()
		if !ok || err != nil {
			t.Fatalf("watch ended: %v", err)
		}
		if ev.Path.String() == "hid.y" {
			t.Errorf("the watch sent a change the session may not read")
		}
		if ev.Path.String() == "a" && decode(t, ev.Entry) == "seen" {
			break
		}
	}
	if len(acc.asked) == 0 {
		t.Fatal("the access hook was never asked")
	}
}

// upperCodec stores strings in upper case and hands them out in lower
// case; it refuses "bad".
type upperCodec struct{}

func (upperCodec) Decode(_ *server.Session, p path.Path, v []byte) ([]byte, error) {
	s, ok := decodeString(v)
	if !ok {
		return v, nil
	}
	if s == "bad" {
		return nil, errors.New("bad is not allowed")
	}
	return value.Encode(strings.ToUpper(s))
}

func (upperCodec) Encode(_ *server.Session, p path.Path, v []byte) ([]byte, error) {
	s, ok := decodeString(v)
	if !ok {
		return v, nil
	}
	return value.Encode(strings.ToLower(s) + "!")
}

func decodeString(v []byte) (string, bool) {
	x, err := value.Decode(v)
	s, ok := x.(string)
	return s, err == nil && ok
}

type noNegatives struct{}

func (noNegatives) Check(_ *server.Session, p path.Path, v []byte) error {
	if x, err := value.Decode(v); err == nil && x == int64(-1) {
		return fmt.Errorf("%v: negative numbers are not allowed", p)
	}
	return nil
}

// TestGateConvertsAndChecks runs values through a codec both ways and a
// checker before they are stored.
func TestGateConvertsAndChecks(t *testing.T) {
	s := startServer(t, server.Config{Hooks: server.Hooks{Codec: upperCodec{}, Checker: noNegatives{}}})
	c := connect(t, s)
	ctx := ctxT(t)
	if _, err := c.Set(ctx, path.P("a"), "Hello"); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Tree().Get(path.P("a"))
	if stored, ok := decodeString([]byte(it.Value)); !ok || stored != "HELLO" {
		t.Errorf("stored %q", stored)
	}
	if e, err := c.Get(ctx, path.P("a")); err != nil || decode(t, e) != "hello!" {
		t.Errorf("get: %v %v", e, err)
	}
	for e, err := range c.GetTree(ctx, path.Root, client.TreeOptions{}) {
		if err != nil || decode(t, e) != "hello!" {
			t.Errorf("get_tree: %v %v", e, err)
		}
	}
	if _, err := c.Set(ctx, path.P("a"), "bad"); !errors.Is(err, wire.ErrBadValue) || !strings.Contains(err.Error(), "bad is not allowed") {
		t.Errorf("a value the codec refuses: %v", err)
	}
	if _, err := c.Set(ctx, path.P("n"), -1); !errors.Is(err, wire.ErrBadValue) || !strings.Contains(err.Error(), "negative") {
		t.Errorf("a value the checker refuses: %v", err)
	}
	if _, ok := s.Tree().Get(path.P("n")); ok {
		t.Error("a refused value was stored")
	}
	// A precondition on the value compares the stored form.
	if _, err := c.Set(ctx, path.P("a"), "next", client.IfValue("hello")); err != nil {
		t.Errorf("set with prev through the codec: %v", err)
	}
	// delete_tree's items carry the old value as the client sees it.
	rc := dialRaw(t, s)
	rep := rc.call("seq", int64(1), "action", "delete_tree", "path", path.P("a"), "nchain", int64(1))
	for get(rep, "path") == nil && get(rep, "state") != "end" {
		rep = rc.next()
	}
	if get(rep, "old_value") != "next!" {
		t.Errorf("delete_tree item: %v", rep)
	}
}

// TestGreetingVersion checks that the greeting encodes a version of any
// length and size.
func TestGreetingVersion(t *testing.T) {
	old := server.Version
	server.Version = []int{1, 2, 300, 4}
	t.Cleanup(func() { server.Version = old })
	s := startServer(t, server.Config{})
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc := &rawConn{t: t, nc: nc, fr: wire.NewFramer(nc, 1<<20)}
	if g := rc.next(); fmt.Sprint(get(g, "version")) != "[1 2 300 4]" {
		t.Errorf("greeting: %v", g)
	}
}

// TestSaveAndLogFiles tries to make the server write files a client must
// not: files that are not DistKV's, and, with LogDir, anything outside it.
func TestSaveAndLogFiles(t *testing.T) {
	top := t.TempDir()
	logs := filepath.Join(top, "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(top, "victim")
	if err := os.WriteFile(victim, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(logs, "link")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", logs} {
		s := startServer(t, server.Config{LogDir: dir})
		rc := dialRaw(t, s)
		seq := int64(0)
		call := func(action, name string) pack.Map {
			t.Helper()
			seq++
			return rc.call("seq", seq, "action", action, "path", name)
		}
		for _, a := range []string{"save", "log"} {
			for _, name := range []string{victim, filepath.Join(logs, "link")} {
				if rep := call(a, name); get(rep, "error") == nil {
					t.Errorf("dir %q: %s to %s: %v", dir, a, name, rep)
				}
			}
			if dir != "" {
				for _, name := range []string{filepath.Join(top, "new"), "../new", "link/../../new"} {
					if rep := call(a, name); get(rep, "error") == nil {
						t.Errorf("dir %q: %s to %s: %v", dir, a, name, rep)
					}
				}
				if rep := call(a, a+".state"); get(rep, "result") != true {
					t.Errorf("dir %q: %s to a relative name: %v", dir, a, rep)
				}
				if rep := call(a, filepath.Join(logs, "abs-"+a+".state")); get(rep, "result") != true {
					t.Errorf("dir %q: %s to an absolute name inside: %v", dir, a, rep)
				}
			} else if rep := call(a, filepath.Join(top, a+".state")); get(rep, "result") != true {
				t.Errorf("%s anywhere: %v", a, rep)
			}
		}
		if rep := call("log", ""); get(rep, "error") == nil && get(rep, "result") != true {
			t.Errorf("log stop: %v", rep)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
		t.Errorf("the victim file was changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(top, "new")); err == nil {
		t.Error("a file appeared outside server.log.dir")
	}
	for _, name := range []string{"save.state", "log.state", "abs-save.state", "abs-log.state"} {
		if st, err := os.Stat(filepath.Join(logs, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, st, err)
		}
	}
}

// hidingAccess hides a subtree from walks by pruning; it fails the test
// if a walk still asks for an item inside it.
type hidingAccess struct {
	t      *testing.T
	hidden path.Path
}

func (a hidingAccess) Grant(s *server.Session, action string, p path.Path) server.Grant {
	if p.HasPrefix(a.hidden) && action == "get_tree" {
		a.t.Errorf("the walk read %v inside a pruned subtree", p)
	}
	if p.HasPrefix(a.hidden) {
		return server.Grant{}
	}
	return server.Grant{Allow: server.AllModes}
}

func (a hidingAccess) Hidden(s *server.Session, action string, p path.Path) bool {
	return p.HasPrefix(a.hidden)
}

// TestGatePrunesWalks checks that an Access that is a Pruner makes walks
// skip whole subtrees.
func TestGatePrunesWalks(t *testing.T) {
	s := startServer(t, server.Config{Hooks: server.Hooks{Access: hidingAccess{t: t, hidden: path.P("a.secret")}}})
	c := connect(t, s)
	ctx := ctxT(t)
	for i := range 50 {
		if _, err := s.Tree().Set(path.P(fmt.Sprintf("a.secret.k%d", i)), "\x01", tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Set(ctx, path.P("a.open"), 1); err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range c.GetTree(ctx, path.P("a"), client.TreeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Path.String())
	}
	if fmt.Sprint(got) != "[open]" {
		t.Errorf("get_tree shows %v", got)
	}
}

// TestFlowControl checks that a stream never has more than the client's
// qlen messages unacknowledged, and goes on as acknowledgements come.
func TestFlowControl(t *testing.T) {
	s := startServer(t, server.Config{})
	for i := range 50 {
		if _, err := s.Tree().Set(path.P(fmt.Sprintf("f.k%02d", i)), "\x01", tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	const qlen = 4
	rc := dialRaw(t, s)
	rc.send(req(t, "seq", int64(0), "qlen", int64(qlen)))
	rc.send(req(t, "seq", int64(1), "action", "get_tree", "path", path.P("f")))
	acked, items := int64(0), 0
	for {
		rep := rc.next()
		if get(rep, "seq") != int64(1) {
			t.Fatalf("unexpected %v", rep)
		}
		w, _ := get(rep, "wseq").(int64)
		if w == 0 || w > acked+qlen {
			t.Fatalf("message %v: wseq %d with %d acknowledged, qlen %d", rep, w, acked, qlen)
		}
		if get(rep, "state") == "end" {
			break
		}
		if get(rep, "path") != nil {
			items++
		}
		if w == acked+qlen {
			acked = w
			rc.send(req(t, "seq", int64(1), "state", "ack", "ack", acked))
		}
	}
	if items != 50 {
		t.Errorf("%d items", items)
	}
}

// TestFlowControlWatchOverflow lets a watch's client acknowledge nothing:
// the watch pauses at qlen, and once more changes wait than the server's
// queue holds, it ends with an overflow error instead of waiting forever.
func TestFlowControlWatchOverflow(t *testing.T) {
	s := startServer(t, server.Config{Queue: 10})
	rc := dialRaw(t, s)
	rc.send(req(t, "seq", int64(0), "qlen", int64(4)))
	rc.send(req(t, "seq", int64(1), "action", "watch", "path", path.P("w")))
	if rep := rc.next(); get(rep, "state") != "start" {
		t.Fatalf("%v", rep)
	}
	for i := range 100 {
		if _, err := s.Tree().Set(path.P(fmt.Sprintf("w.k%02d", i)), "\x01", tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; ; n++ {
		rep := rc.next()
		if get(rep, "etype") == "overflow" {
			break
		}
		if n > 4 {
			t.Fatalf("message %d without acknowledgement: %v", n, rep)
		}
	}
}

// failingCodec fails to encode the string "poison".
type failingCodec struct{}

func (failingCodec) Decode(_ *server.Session, _ path.Path, v []byte) ([]byte, error) { return v, nil }

func (failingCodec) Encode(_ *server.Session, _ path.Path, v []byte) ([]byte, error) {
	if s, ok := decodeString(v); ok && s == "poison" {
		return nil, errors.New("cannot encode poison")
	}
	return v, nil
}

// TestCodecFailureInStreams: an item a codec cannot encode is left out of
// get_tree, watch and enum, and the stream goes on; a get of it fails
// naming the path.
func TestCodecFailureInStreams(t *testing.T) {
	s := startServer(t, server.Config{Hooks: server.Hooks{Codec: failingCodec{}}})
	c := connect(t, s)
	ctx := ctxT(t)
	for _, kv := range []struct{ p, v string }{{"d.a", "one"}, {"d.b", "poison"}, {"d.c", "three"}} {
		if _, err := c.Set(ctx, path.P(kv.p), kv.v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get(ctx, path.P("d.b")); err == nil || !strings.Contains(err.Error(), "cannot encode poison") || !strings.Contains(err.Error(), "d.b") {
		t.Errorf("get of the poison: %v", err)
	}
	var got []string
	for e, err := range c.GetTree(ctx, path.P("d"), client.TreeOptions{}) {
		if err != nil {
			t.Fatalf("get_tree: %v", err)
		}
		got = append(got, e.Path.String())
	}
	if fmt.Sprint(got) != "[a c]" {
		t.Errorf("get_tree: %v", got)
	}
	got = nil
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for e, err := range c.Watch(wctx, path.P("d"), client.WatchOptions{Fetch: true}) {
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		switch {
		case e.UpToDate:
			if _, err := c.Set(ctx, path.P("d.b"), "poison"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Set(ctx, path.P("d.d"), "four"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got = append(got, e.Path.String())
		if e.Path.String() == "d" {
			break
		}
	}
	if fmt.Sprint(got) != "[a c d]" {
		t.Errorf("watch: %v", got)
	}
	rc := dialRaw(t, s)
	rep := rc.call("seq", int64(1), "action", "enum", "path", path.P("d"), "with_data", true)
	if m, ok := get(rep, "result").(pack.Map); !ok || len(m) != 3 {
		t.Errorf("enum with data: %v", rep)
	}
}

// TestCodecFailureLoggedOnce: a walk over many values a codec cannot
// encode logs one warning, not one per value.
func TestCodecFailureLoggedOnce(t *testing.T) {
	var logs logBuffer
	s := startServer(t, server.Config{Hooks: server.Hooks{Codec: failingCodec{}},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	c := connect(t, s)
	ctx := ctxT(t)
	for i := range 200 {
		if _, err := c.Set(ctx, path.Must("p", int64(i)), "poison"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for _, err := range c.GetTree(ctx, path.P("p"), client.TreeOptions{}) {
			if err != nil {
				t.Fatalf("get_tree: %v", err)
			}
		}
	}
	if n := strings.Count(logs.String(), "left out of a stream"); n != 1 {
		t.Fatalf("%d warnings for 400 values left out:\n%s", n, logs.String())
	}
}
