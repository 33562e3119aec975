package server_test

import (
	"fmt"
	"iter"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// sys is a path below the system root.
func sys(text string) path.Path { return path.Must(nil).Join(path.P(text)) }

// policyServer is a server with the built-in policy and a root client.
type policyServer struct {
	t    *testing.T
	s    *server.Server
	root *client.Client
}

func newPolicyServer(t *testing.T) *policyServer {
	s := startServer(t, server.Config{})
	return &policyServer{t: t, s: s, root: connect(t, s)}
}

// setSys sets a system entry as root, through set_internal.
func (ps *policyServer) setSys(p string, v any) {
	ps.t.Helper()
	if _, err := ps.root.Request(ctxT(ps.t), wire.SetInternal, client.Args{{Key: "path", Value: path.P(p)}, {Key: "value", Value: v}}); err != nil {
		ps.t.Fatalf("set_internal %s: %v", p, err)
	}
}

func (ps *policyServer) delSys(p string) {
	ps.t.Helper()
	if _, err := ps.root.Request(ctxT(ps.t), wire.DeleteInternal, client.Args{{Key: "path", Value: path.P(p)}}); err != nil {
		ps.t.Fatalf("delete_internal %s: %v", p, err)
	}
}

func (ps *policyServer) set(p string, v any) {
	ps.t.Helper()
	if _, err := ps.root.Set(ctxT(ps.t), path.P(p), v); err != nil {
		ps.t.Fatal(err)
	}
}

// user adds a _test user record bound to acl ("" none).
func (ps *policyServer) user(name, acl string) {
	ps.t.Helper()
	var aux any
	if acl != "" {
		aux = pack.Map{{Key: "acl", Value: acl}}
	}
	ps.setSys("auth._test.user."+name, pack.Map{{Key: "_aux", Value: aux}})
}

// as opens a raw connection whose session is the _test user name.
func (ps *policyServer) as(name string) *rawConn {
	server.SetTestSession(ps.s, &server.Session{Method: "_test", User: name})
	defer server.SetTestSession(ps.s, nil)
	return dialRaw(ps.t, ps.s)
}

// modesAt asks test_acl, one mode letter at a time, what the connection
// may do at p: the decision through the server.
func modesAt(rc *rawConn, seq *int64, p path.Path) string {
	rc.t.Helper()
	var got []byte
	for _, m := range "rwcdxena" {
		*seq++
		rep := rc.call("seq", *seq, "action", "test_acl", "path", p, "mode", string(m))
		switch a := get(rep, "access"); a {
		case false:
		case nil:
			rc.t.Fatalf("test_acl %v %c: %v", p, m, rep)
		default:
			got = append(got, byte(m))
		}
	}
	return string(got)
}

// TestPolicyDecisions is the table of decisions: paths × ACLs, including
// wildcards, specificity, the None root, ACL changes and user deletion.
func TestPolicyDecisions(t *testing.T) {
	ps := newPolicyServer(t)
	for p, m := range map[string]string{
		"wom.#":    "cx", // the tutorial's write-only store
		"a.b.c":    "r",
		"a.+.c":    "w",
		"a.#":      "e",
		"+.b.c":    "d",
		"a.b.+":    "rw",
		"#":        "x",
		":n.acl.#": "ra", // the system tree, named literally
		"none":     "",   // a rule with no modes decides: nothing
		"none.#":   "r",
	} {
		ps.setSys("acl.one."+p, m)
	}
	ps.setSys("acl.other.#", "rwcdxena")
	ps.user("joe", "one")
	ps.user("free", "")
	ps.user("star", "*")
	ps.user("ghost", "nosuchacl")
	// The param form wins over _aux.
	ps.user("param", "one")
	ps.setSys("auth._test.user.param.acl", pack.Map{{Key: "key", Value: "other"}})

	seq := int64(0)
	type row struct {
		user, path, want string
	}
	check := func(rows []row) {
		t.Helper()
		conns := map[string]*rawConn{}
		for _, r := range rows {
			rc := conns[r.user]
			if rc == nil {
				rc = ps.as(r.user)
				conns[r.user] = rc
			}
			p := path.P(r.path)
			if got := modesAt(rc, &seq, p); got != r.want {
				t.Errorf("%s at %s: %q, want %q", r.user, r.path, got, r.want)
			}
		}
	}
	all := "rwcdxena"
	check([]row{
		{"joe", "wom.foo.bar", "cx"},
		{"joe", "wom", "x"},       // "#" takes one element or more; wom.# none
		{"joe", "a.b.c", "r"},     // literal beats a.b.+
		{"joe", "a.b.q", "rw"},    // a.b.+ beats a.+.c? no: a.b.+ is the only match left of a.#
		{"joe", "a.x.c", "w"},     // a.+.c beats a.# and +.b.c
		{"joe", "a.x.y", "e"},     // a.#
		{"joe", "a.x.y.z.c", "e"}, // a.# again
		{"joe", "q.b.c", "d"},     // +.b.c beats #
		{"joe", "zzz", "x"},
		{"joe", ":", ""},              // the root: no rule
		{"joe", "none", ""},           // a rule without modes decides
		{"joe", "none.x", "r"},        //
		{"joe", ":n.acl.one.q", "ra"}, // None named literally
		{"joe", ":n", ""},             // no wildcard matches None
		{"joe", ":n.auth", ""},
		{"free", "a.b.c", all},
		{"free", ":n.auth", all},
		{"star", "wom.x", all},
		{"ghost", "wom.x", ""}, // an ACL without rules
		{"param", "a.b.c", all},
		{"nobody", "a.b.c", ""}, // no user record
	})

	// Changes take effect at the next request, on open connections too.
	ps.setSys("acl.one.a.b.c", "rwd")
	ps.delSys("acl.one.wom.#")
	ps.user("ghost", "one")
	ps.setSys("acl.nosuchacl.#", "r")
	check([]row{
		{"joe", "a.b.c", "rwd"},
		{"joe", "wom.foo.bar", "x"},
		{"ghost", "a.b.c", "rwd"},
	})
	ps.delSys("acl.one.a.b.c")
	ps.delSys("auth._test.user.joe")
	ps.delSys("auth._test.user.param.acl")
	check([]row{
		{"joe", "zzz", ""}, // deleted after its login
		{"ghost", "a.b.c", "rw"},
		{"param", "a.b.c", "rw"}, // back to _aux: one
	})

	// A malformed rule from elsewhere (a peer, a file) grants nothing;
	// the rest of its ACL stays.
	bad, _ := value.Encode(int64(42))
	if _, err := ps.s.Tree().Set(sys("acl.one.zzz"), string(bad), tree.Cond{}); err != nil {
		t.Fatal(err)
	}
	check([]row{
		{"ghost", "zzz", ""},
		{"ghost", "a.x.c", "w"},
	})
}

// TestPolicyRefusal checks the error of a refusal: what, where, which
// ACL and rule, what it allows and what was missing, in the tutorial's
// case.
func TestPolicyRefusal(t *testing.T) {
	ps := newPolicyServer(t)
	ps.setSys("acl.writeonly.wom.#", "cx")
	ps.user("joe", "writeonly")
	rc := ps.as("joe")
	if rep := rc.call("seq", int64(1), "action", "set_value", "path", path.P("wom.foo.bar"), "value", int64(42)); get(rep, "changed") != true {
		t.Fatalf("create: %v", rep)
	}
	for i, tc := range []struct {
		kv   []any
		want string
	}{
		{[]any{"action", "set_value", "path", path.P("wom.foo.bar"), "value", int64(43)},
			"access denied: set_value at wom.foo.bar needs w (write): ACL writeonly, rule wom.#, allows only cx"},
		{[]any{"action", "get_value", "path", path.P("wom.foo")},
			"access denied: get_value at wom.foo needs r (read): ACL writeonly, rule wom.#, allows only cx"},
		{[]any{"action", "get_value", "path", path.P("elsewhere")},
			"access denied: get_value at elsewhere needs r (read): ACL writeonly, no rule matches, allows nothing"},
	} {
		rep := rc.call(append([]any{"seq", int64(10 + i)}, tc.kv...)...)
		if get(rep, "etype") != "access" || get(rep, "error") != tc.want {
			t.Errorf("%v:\n got %v\nwant %s", tc.kv, rep, tc.want)
		}
	}
}

// TestPolicyEveryAction runs every action of the protocol as a user
// bound to an ACL: each is refused, or filtered, as it should be, and the
// connection goes on afterwards.
func TestPolicyEveryAction(t *testing.T) {
	ps := newPolicyServer(t)
	for p, m := range map[string]string{
		"pub":       "rxe",
		"pub.#":     "rwcdxe",
		"pub.hid":   "xe", // readable neither as a value nor below
		"pub.hid.#": "wc",
		"ro.#":      "re",
	} {
		ps.setSys("acl.lim."+p, m)
	}
	ps.user("joe", "lim")
	for _, p := range []string{"pub", "pub.a", "pub.b", "pub.hid", "pub.hid.x", "ro.a", "secret.a", "secret.b.c"} {
		ps.set(p, p)
	}
	rc := ps.as("joe")
	seq := int64(100)
	// call sends a request and collects its replies up to the last.
	call := func(kv ...any) []pack.Map {
		t.Helper()
		seq++
		rc.send(req(t, append([]any{"seq", seq}, kv...)...))
		var reps []pack.Map
		for {
			rep := rc.next()
			if get(rep, "seq") != seq {
				continue
			}
			reps = append(reps, rep)
			if st := get(rep, "state"); st == "start" || st == "uptodate" || get(rep, "depth") != nil && st == nil {
				if kv[1] == "watch" && st == "uptodate" {
					return reps
				}
				continue
			}
			return reps
		}
	}
	refused := func(reps []pack.Map) bool {
		last := reps[len(reps)-1]
		return get(last, "etype") == "access"
	}
	paths := func(reps []pack.Map) string {
		var ps []string
		var last path.Path
		for _, r := range reps {
			if d, ok := get(r, "depth").(int64); ok {
				p, _ := get(r, "path").([]any)
				rest, err := path.New(p...)
				if err != nil {
					t.Fatal(err)
				}
				last = last.Prefix(int(d)).Join(rest)
				ps = append(ps, last.String())
			}
		}
		return strings.Join(ps, " ")
	}
	usable := func(what string) {
		t.Helper()
		reps := call("action", "get_value", "path", path.P("pub.a"))
		if get(reps[0], "value") != "pub.a" {
			t.Errorf("after %s the connection is not usable: %v", what, reps)
		}
	}
	dir := t.TempDir()
	tests := []struct {
		kv    []any
		check func([]pack.Map) error
	}{
		{[]any{"action", "get_value", "path", path.P("secret.a")}, nil},
		{[]any{"action", "get_value", "path", path.P("pub.hid")}, nil},
		{[]any{"action", "set_value", "path", path.P("ro.a"), "value", "x"}, nil},
		{[]any{"action", "set_value", "path", path.P("secret.new"), "value", "x"}, nil},
		{[]any{"action", "delete_value", "path", path.P("ro.a")}, nil},
		{[]any{"action", "delete_tree", "path", path.P("ro")}, nil},
		{[]any{"action", "root", "path", path.P("secret")}, nil},
		{[]any{"action", "get_state", "nodes", true}, nil},
		{[]any{"action", "save", "path", dir + "/s"}, nil},
		{[]any{"action", "log", "path", dir + "/l"}, nil},
		{[]any{"action", "enum", "path", path.P("secret")}, nil},
		{[]any{"action", "msg_send", "topic", path.P("secret"), "data", "x"}, nil},
		{[]any{"action", "msg_monitor", "topic", path.P("secret")}, nil},
		{[]any{"action", "get_internal", "path", path.P("acl.lim.pub")}, nil},
		{[]any{"action", "set_internal", "path", path.P("acl.lim.secret.#"), "value", "r"}, nil},
		{[]any{"action", "delete_internal", "path", path.P("acl.lim.pub")}, nil},
		{[]any{"action", "enum_internal", "path", path.P("acl")}, nil},
		{[]any{"action", "test_acl", "path", path.P("pub.a"), "acl", "lim"}, nil}, // needs a
		// Users and logins live in the system tree.
		{[]any{"action", "auth_info"}, nil},
		{[]any{"action", "auth_list", "typ", "_test"}, nil},
		{[]any{"action", "auth_get", "typ", "_test", "ident", "joe"}, nil},
		{[]any{"action", "auth_set", "typ", "_test", "ident", "eve"}, nil},
		{[]any{"action", "set_auth_typ", "typ", nil}, nil},
		// Filtered, not refused.
		{[]any{"action", "get_tree", "path", path.Root}, func(reps []pack.Map) error {
			if got := paths(reps); got != "pub pub.a pub.b ro.a" {
				return fmt.Errorf("get_tree shows %q", got)
			}
			return nil
		}},
		{[]any{"action", "get_tree", "path", path.P("pub"), "empty", true}, func(reps []pack.Map) error {
			if got := paths(reps); got != ": a b" {
				return fmt.Errorf("get_tree of pub shows %q", got)
			}
			return nil
		}},
		{[]any{"action", "get_tree_internal", "path", path.Root}, func(reps []pack.Map) error {
			if got := paths(reps); got != "" {
				return fmt.Errorf("get_tree_internal shows %q", got)
			}
			return nil
		}},
		{[]any{"action", "enum", "path", path.P("pub")}, func(reps []pack.Map) error {
			if got := fmt.Sprint(get(reps[0], "result")); got != "[a b]" {
				return fmt.Errorf("enum shows %s", got)
			}
			return nil
		}},
		{[]any{"action", "watch", "path", path.P("pub"), "fetch", true}, func(reps []pack.Map) error {
			if got := paths(reps); got != ": a b" {
				return fmt.Errorf("watch's fetch shows %q", got)
			}
			return nil
		}},
		{[]any{"action", "test_acl", "path", path.P("pub.a")}, func(reps []pack.Map) error {
			if a := get(reps[0], "access"); a != true {
				return fmt.Errorf("test_acl: %v (the user may not read ACLs)", reps[0])
			}
			return nil
		}},
		{[]any{"action", "diffie_hellman", "pubkey", []byte{0x10, 0x20}}, func(reps []pack.Map) error {
			if _, ok := get(reps[0], "pubkey").([]byte); !ok {
				return fmt.Errorf("diffie_hellman: %v", reps[0])
			}
			return nil
		}},
		{[]any{"action", "auth", "typ", "_test", "ident", "root"}, func(reps []pack.Map) error {
			if get(reps[0], "etype") != "request" {
				return fmt.Errorf("a second login on a logged-in connection: %v", reps[0])
			}
			return nil
		}},
		{[]any{"action", "get_tock"}, func(reps []pack.Map) error {
			if get(reps[0], "tock") == nil {
				return fmt.Errorf("get_tock: %v", reps[0])
			}
			return nil
		}},
		{[]any{"action", "stop", "task", int64(1)}, func(reps []pack.Map) error {
			if get(reps[0], "result") != false {
				return fmt.Errorf("stop: %v", reps[0])
			}
			return nil
		}},
	}
	done := map[string]bool{}
	for _, tc := range tests {
		done[tc.kv[1].(string)] = true
		reps := call(tc.kv...)
		if tc.check == nil {
			if !refused(reps) {
				t.Errorf("%v: not refused: %v", tc.kv, reps)
			}
		} else if refused(reps) {
			t.Errorf("%v: refused: %v", tc.kv, reps)
		} else if err := tc.check(reps); err != nil {
			t.Errorf("%v: %v", tc.kv, err)
		}
		if tc.kv[1] == "watch" {
			call("action", "stop", "task", seq)
		}
		usable(fmt.Sprint(tc.kv))
	}
	for _, a := range wire.Actions {
		if !done[a] {
			t.Errorf("action %s is not tested", a)
		}
	}
	// Nothing changed that should not have.
	for _, p := range []string{"ro.a", "secret.a", "pub.hid.x"} {
		if e, err := ps.root.Get(ctxT(t), path.P(p)); err != nil || !e.HasValue {
			t.Errorf("%s: %v %v", p, e, err)
		}
	}
}

// TestPolicyWatch: a restricted user's watch never delivers an entry it
// may not read, also across ACL changes made while it runs, in both
// directions.
func TestPolicyWatch(t *testing.T) {
	ps := newPolicyServer(t)
	ps.setSys("acl.w.d.open.#", "r")
	ps.setSys("acl.w.d", "x")
	ps.user("joe", "w")
	port := ps.s.Addr().(*net.TCPAddr).Port
	server.SetTestSession(ps.s, &server.Session{Method: "_test", User: "joe"})
	joe, err := client.Open(ctxT(t), client.Config{Host: "127.0.0.1", Port: port})
	server.SetTestSession(ps.s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer joe.Close()
	ctx := ctxT(t)
	next, stop := iter.Pull2(joe.Watch(ctx, path.P("d"), client.WatchOptions{Fetch: true}))
	defer stop()
	for {
		ev, err, ok := next()
		if !ok || err != nil {
			t.Fatalf("watch ended: %v", err)
		}
		if ev.UpToDate {
			break
		}
	}
	// await reads the watch until marker arrives; it fails on anything in
	// forbidden on the way.
	n := 0
	await := func(forbidden ...string) []string {
		t.Helper()
		n++
		marker := fmt.Sprintf("open.m%d", n)
		ps.set("d."+marker, n)
		var seen []string
		for {
			ev, err, ok := next()
			if !ok || err != nil {
				t.Fatalf("watch ended: %v", err)
			}
			p := ev.Path.String()
			for _, f := range forbidden {
				if strings.HasPrefix(p, f) {
					t.Errorf("the watch delivered %s", p)
				}
			}
			if p == marker {
				return seen
			}
			seen = append(seen, p)
		}
	}
	ps.set("d.closed.a", 1)
	ps.set("d.open.a", 1)
	if got := await("closed"); fmt.Sprint(got) != "[open.a]" {
		t.Errorf("before: %v", got)
	}
	// Opened while the watch runs.
	ps.setSys("acl.w.d.closed.#", "r")
	ps.set("d.closed.b", 2)
	if got := await(); fmt.Sprint(got) != "[closed.b]" {
		t.Errorf("after opening: %v", got)
	}
	// Closed while the watch runs; queued changes too are judged by the
	// ACL as it is when they go out.
	ps.setSys("acl.w.d.open.#", "")
	ps.set("d.open.b", 3)
	ps.setSys("acl.w.d.open.m3", "r") // the marker
	if got := await("open.a", "open.b"); fmt.Sprint(got) != "[]" {
		t.Errorf("after closing: %v", got)
	}
	// The user goes away.
	ps.delSys("auth._test.user.joe")
	ps.set("d.closed.c", 4) // readable by joe's ACL, but joe is gone
	// Back, bound to an ACL that shows only the marker: had closed.c been
	// judged by the old record, it would arrive.
	ps.setSys("acl.w2.d.open.m4", "r")
	ps.user("joe", "w2")
	if got := await("closed.c"); fmt.Sprint(got) != "[]" {
		t.Errorf("after the user's deletion: %v", got)
	}
}

// TestPolicyValidatesRules: a client cannot store an ACL rule that is
// not a string of mode letters; the connection stays usable.
func TestPolicyValidatesRules(t *testing.T) {
	ps := newPolicyServer(t)
	rc := dialRaw(t, ps.s)
	for i, v := range []any{"rq", int64(3), pack.Map{{Key: "r", Value: true}}} {
		rep := rc.call("seq", int64(i+1), "action", "set_internal", "path", path.P("acl.x.a.#"), "value", v)
		if get(rep, "etype") != "value" || !strings.Contains(fmt.Sprint(get(rep, "error")), "acl") {
			t.Errorf("%v: %v", v, rep)
		}
	}
	if rep := rc.call("seq", int64(10), "action", "set_internal", "path", path.P("acl.x.a.#"), "value", "rwc"); get(rep, "changed") != true {
		t.Errorf("a good rule: %v", rep)
	}
	// A rule set through root into the system tree is checked too.
	rep := rc.call("seq", int64(11), "action", "root", "path", path.Must(nil, "acl"))
	if get(rep, "error") != nil {
		t.Fatal(rep)
	}
	if rep := rc.call("seq", int64(12), "action", "set_value", "path", path.P("x.b"), "value", "bad!"); get(rep, "etype") != "value" {
		t.Errorf("set_value below None acl: %v", rep)
	}
}

// TestPolicyLoaded: ACLs and users that a server loads from a file
// count like those a client sets.
func TestPolicyLoaded(t *testing.T) {
	ps := newPolicyServer(t)
	ps.setSys("acl.ro.#", "r")
	ps.user("joe", "ro")
	file := t.TempDir() + "/save"
	if err := ps.s.Save(file); err != nil {
		t.Fatal(err)
	}
	other := &policyServer{t: t, s: startServer(t, server.Config{Node: "test2"})}
	rc := other.as("joe")
	seq := int64(0)
	if got := modesAt(rc, &seq, path.P("a")); got != "" {
		t.Fatalf("before the load, joe has no record: %q", got)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := other.s.Load(f, file); err != nil {
		t.Fatal(err)
	}
	if got := modesAt(rc, &seq, path.P("a")); got != "r" {
		t.Errorf("after the load: %q, want r", got)
	}
}
