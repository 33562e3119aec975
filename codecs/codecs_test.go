package codecs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/testserver"
)

// goRunner runs Go functions named by their "source".
type goRunner map[string]func(v any) (any, error)

func (r goRunner) Compile(name, src string) (codecs.Proc, error) {
	f, ok := r[src]
	if !ok {
		return nil, fmt.Errorf("%s: syntax error in %q", name, src)
	}
	return goProc(f), nil
}

type goProc func(v any) (any, error)

func (p goProc) Call(_ context.Context, v any) (any, bool, error) {
	out, err := p(v)
	return out, true, err
}

// The tutorial's float.str as Go: tostring and tonumber.
var runner = goRunner{
	"tostring": func(v any) (any, error) {
		switch n := v.(type) {
		case float64:
			return strconv.FormatFloat(n, 'g', -1, 64), nil
		case int64:
			return strconv.FormatInt(n, 10), nil
		}
		return fmt.Sprint(v), nil
	},
	"tonumber": func(v any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("not a number")
		}
		return f, nil
	},
	"shout": func(v any) (any, error) { return fmt.Sprint(v) + "!", nil },
	"nil":   func(v any) (any, error) { return nil, nil },
}

type hooks struct{ cd *codecs.Codecs }

func (h *hooks) Decode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	return h.cd.Decode(s, p, v)
}

func (h *hooks) Encode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	return h.cd.Encode(s, p, v)
}

func (h *hooks) Check(s *server.Session, p path.Path, v []byte) error { return h.cd.Check(s, p, v) }

// setup starts a server with codecs, users root (no list), ann (no list)
// and joe (list floatval), and logins on; it returns root's client.
func setup(t *testing.T) (*server.Server, *client.Client, *codecs.Codecs) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &hooks{}
	s, err := server.New(server.Config{Node: "t", Listen: "127.0.0.1:0", Logger: log,
		Hooks: server.Hooks{Codec: h, Checker: h}})
	if err != nil {
		t.Fatal(err)
	}
	h.cd = codecs.New(s.Tree(), runner, log)
	t.Cleanup(h.cd.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := connectAs(t, s, "")
	addUser(t, c, "root", nil)
	addUser(t, c, "ann", nil)
	addUser(t, c, "joe", pack.Map{{Key: "codec", Value: "floatval"}})
	if _, err := c.Request(context.Background(), wire.SetAuthTyp, client.Args{{Key: "typ", Value: auth.Test}}); err != nil {
		t.Fatal(err)
	}
	return s, connectAs(t, s, "_test name=root"), h.cd
}

func connectAs(t *testing.T, s *server.Server, login string) *client.Client {
	t.Helper()
	c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port, Auth: login})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addUser(t *testing.T, c *client.Client, name string, aux any) {
	t.Helper()
	args := client.Args{{Key: "typ", Value: auth.Test}, {Key: "kind", Value: "user"}, {Key: "ident", Value: name}}
	if aux != nil {
		args = append(args, pack.KV{Key: "aux", Value: aux})
	}
	if _, err := c.Request(context.Background(), wire.AuthSet, args); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
}

func setInternal(c *client.Client, p path.Path, v any) error {
	_, err := c.Request(context.Background(), wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: v}})
	return err
}

func codecRec(enc, dec string, in, out [][2]any) pack.Map {
	m := pack.Map{}
	if enc != "" {
		m = append(m, pack.KV{Key: "encode", Value: enc})
	}
	if dec != "" {
		m = append(m, pack.KV{Key: "decode", Value: dec})
	}
	pairs := func(ps [][2]any) []any {
		var l []any
		for _, p := range ps {
			l = append(l, []any{p[0], p[1]})
		}
		return l
	}
	return append(m, pack.KV{Key: "in", Value: pairs(in)}, pack.KV{Key: "out", Value: pairs(out)})
}

// floatStr is the tutorial's codec: -i '"12.5"' 12.5 -o 13.25 '"13.25"'.
var floatStr = codecRec("tostring", "tonumber", [][2]any{{"12.5", 12.5}}, [][2]any{{13.25, "13.25"}})

func mustSet(t *testing.T, c *client.Client, p path.Path, v any) {
	t.Helper()
	if err := setInternal(c, p, v); err != nil {
		t.Fatalf("set %v: %v", p, err)
	}
}

// eventually waits until f returns nil: the codecs' tables follow the
// tree asynchronously.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	testserver.Eventually(t, f)
}

func get(c *client.Client, p path.Path) (any, error) {
	e, err := c.Get(context.Background(), p)
	if err != nil {
		return nil, err
	}
	return e.Value()
}

// wantGet waits until c reads want at p.
func wantGet(t *testing.T, c *client.Client, p path.Path, want any) {
	t.Helper()
	eventually(t, func() error {
		v, err := get(c, p)
		if err != nil || v != want {
			return fmt.Errorf("get %v: %#v (%v), want %#v", p, v, err, want)
		}
		return nil
	})
}

func stored(t *testing.T, s *server.Server, p path.Path) any {
	t.Helper()
	it, _ := s.Tree().Get(p)
	v, err := value.Decode([]byte(it.Value))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tutorialSetup: the tutorial's codec, list and binding.
func tutorialSetup(t *testing.T) (*server.Server, *client.Client, *client.Client, *client.Client) {
	s, root, _ := setup(t)
	mustSet(t, root, path.P("codec.float.str"), floatStr)
	mustSet(t, root, path.P("conv.floatval.monitor.#.value"), pack.Map{{Key: "codec", Value: path.P("float.str")}})
	joe := connectAs(t, s, "_test name=joe")
	ann := connectAs(t, s, "_test name=ann")
	mustSet := func(c *client.Client, p string, v any) {
		t.Helper()
		if _, err := c.Set(context.Background(), path.P(p), v); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(root, "monitor.probe.value", 1.5)
	wantGet(t, joe, path.P("monitor.probe.value"), "1.5")
	mustSet(joe, "monitor.a.b.c.value", "99.5")
	mustSet(joe, "monitor.a.b.c.thing", "12.3")
	return s, root, joe, ann
}

// TestTutorial: the tutorial's "Data mangling", with Go scripts.
func TestTutorial(t *testing.T) {
	s, root, joe, ann := tutorialSetup(t)
	ctx := context.Background()
	if v := stored(t, s, path.P("monitor.a.b.c.value")); v != 99.5 {
		t.Errorf("stored %#v, want 99.5", v)
	}
	if v := stored(t, s, path.P("monitor.a.b.c.thing")); v != "12.3" {
		t.Errorf("a path no pattern matches: stored %#v", v)
	}
	wantGet(t, joe, path.P("monitor.a.b.c.value"), "99.5")
	wantGet(t, joe, path.P("monitor.a.b.c.thing"), "12.3")
	wantGet(t, ann, path.P("monitor.a.b.c.value"), 99.5)
	wantGet(t, root, path.P("monitor.a.b.c.value"), 99.5)

	got := map[string]any{}
	for e, err := range joe.GetTree(ctx, path.P("monitor.a"), client.TreeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got[e.Path.String()], _ = e.Value()
	}
	if fmt.Sprint(got) != "map[b.c.thing:12.3 b.c.value:99.5]" || got["b.c.value"] != "99.5" {
		t.Errorf("get_tree: %#v", got)
	}

	// watch: the current state and a change, both encoded.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seen []any
	for e, err := range joe.Watch(wctx, path.P("monitor.a"), client.WatchOptions{Fetch: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.UpToDate {
			if _, err := ann.Set(ctx, path.P("monitor.a.x.value"), 7.25); err != nil {
				t.Fatal(err)
			}
			continue
		}
		v, _ := e.Value()
		if e.Path.String() == "b.c.value" || e.Path.String() == "x.value" {
			seen = append(seen, v)
		}
		if e.Path.String() == "x.value" {
			break
		}
	}
	if fmt.Sprintf("%#v", seen) != `[]interface {}{"99.5", "7.25"}` {
		t.Errorf("watch: %#v", seen)
	}

	// A precondition is decoded as the value is; the old value comes
	// back encoded.
	res, err := joe.Set(ctx, path.P("monitor.a.b.c.value"), "100", client.IfValue("99.5"))
	if err != nil {
		t.Fatalf("set with prev: %v", err)
	}
	_ = res
	if v := stored(t, s, path.P("monitor.a.b.c.value")); v != 100.0 {
		t.Errorf("stored %#v, want 100.0", v)
	}
}

// TestFailure: a value the codec cannot convert fails the request with
// an error that names the codec and the path; a stream leaves it out.
func TestFailure(t *testing.T) {
	s, _, joe, ann := tutorialSetup(t)
	ctx := context.Background()
	_, err := joe.Set(ctx, path.P("monitor.z.value"), "abc")
	if !errors.Is(err, wire.ErrBadValue) || !strings.Contains(err.Error(), "float.str") || !strings.Contains(err.Error(), "monitor.z.value") || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("set of a non-number: %v", err)
	}
	if _, ok := s.Tree().Get(path.P("monitor.z.value")); ok {
		t.Error("a value the codec refused was stored")
	}
	// A stored value the encoder refuses: a get fails, a walk leaves it out.
	mustSet(t, ann, path.P("codec.picky"), codecRec("tonumber", "", nil, [][2]any{{"1", 1.0}}))
	mustSet(t, ann, path.P("conv.floatval.monitor.q.#"), pack.Map{{Key: "codec", Value: path.P("picky")}})
	for _, p := range []string{"monitor.q.a", "monitor.q.b"} {
		if _, err := ann.Set(ctx, path.P(p), "2"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ann.Set(ctx, path.P("monitor.q.b"), 5); err != nil {
		t.Fatal(err)
	}
	wantGet(t, joe, path.P("monitor.q.a"), 2.0)
	if _, err := get(joe, path.P("monitor.q.b")); err == nil || !strings.Contains(err.Error(), "codec picky, encode at monitor.q.b: not a string") {
		t.Errorf("get of a value the encoder refuses: %v", err)
	}
	var got []string
	for e, err := range joe.GetTree(ctx, path.P("monitor.q"), client.TreeOptions{}) {
		if err != nil {
			t.Fatalf("get_tree: %v", err)
		}
		got = append(got, e.Path.String())
	}
	if fmt.Sprint(got) != "[a]" {
		t.Errorf("get_tree: %v", got)
	}
}

// TestRecords: records that break the rules are refused.
func TestRecords(t *testing.T) {
	_, root, _ := setup(t)
	mustSet(t, root, path.P("codec.float.str"), floatStr)
	for name, tc := range map[string]struct {
		p path.Path
		v any
	}{
		"not a map":               {path.P("codec.x"), "tostring"},
		"no script":               {path.P("codec.x"), codecRec("", "", [][2]any{{"1", 1.0}}, nil)},
		"decode without examples": {path.P("codec.x"), codecRec("", "tonumber", nil, nil)},
		"encode without examples": {path.P("codec.x"), codecRec("tostring", "", [][2]any{{"1", 1.0}}, nil)},
		"syntax error":            {path.P("codec.x"), codecRec("no such code", "tonumber", [][2]any{{"1", 1.0}}, [][2]any{{1.0, "1"}})},
		"a decode example fails":  {path.P("codec.x"), codecRec("tostring", "tonumber", [][2]any{{"1", 2.0}}, [][2]any{{1.0, "1"}})},
		"an encode example fails": {path.P("codec.x"), codecRec("tostring", "tonumber", [][2]any{{"1", 1.0}}, [][2]any{{1.0, "2"}})},
		"an example raises":       {path.P("codec.x"), codecRec("tostring", "tonumber", [][2]any{{"x", 1.0}}, [][2]any{{1.0, "1"}})},
		"1 is not 1.0":            {path.P("codec.x"), codecRec("tostring", "tonumber", [][2]any{{"1", int64(1)}}, [][2]any{{1.0, "1"}})},
		"an example is no pair":   {path.P("codec.x"), pack.Map{{Key: "decode", Value: "tonumber"}, {Key: "in", Value: []any{"1"}}}},
		"the codec root":          {path.P("codec"), floatStr},
		"conv of no codec":        {path.P("conv.l.a.#"), pack.Map{{Key: "codec", Value: path.P("nope")}}},
		"conv without codec":      {path.P("conv.l.a.#"), pack.Map{}},
		"conv without pattern":    {path.P("conv.l"), pack.Map{{Key: "codec", Value: path.P("float.str")}}},
	} {
		if err := setInternal(root, tc.p, tc.v); !errors.Is(err, wire.ErrBadValue) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		p path.Path
		v any
	}{
		"decode only":         {path.P("codec.d"), codecRec("", "tonumber", [][2]any{{"1", 1.0}}, nil)},
		"encode only":         {path.P("codec.e"), codecRec("tostring", "", nil, [][2]any{{1.0, "1"}})},
		"conv, name a string": {path.P("conv.l.a.#"), pack.Map{{Key: "codec", Value: "float.str"}}},
		"conv, name a path":   {path.P("conv.l.b.+"), pack.Map{{Key: "codec", Value: path.P("float.str")}}},
	} {
		if err := setInternal(root, tc.p, tc.v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLiveChange: changes of codecs, lists and bindings apply to the next
// request of a connection that logged in before them.
func TestLiveChange(t *testing.T) {
	_, root, joe, ann := tutorialSetup(t)
	p := path.P("monitor.a.b.c.value")
	wantGet(t, joe, p, "99.5")
	// The codec changes.
	mustSet(t, root, path.P("codec.float.str"), codecRec("shout", "tonumber", [][2]any{{"12.5", 12.5}}, [][2]any{{13.25, "13.25!"}}))
	wantGet(t, joe, p, "99.5!")
	// ann gets bound to the list (the param form).
	wantGet(t, ann, p, 99.5)
	mustSet(t, root, path.Must("auth", auth.Test, "user", "ann", "conv"), pack.Map{{Key: "key", Value: "floatval"}})
	wantGet(t, ann, p, "99.5!")
	// The param form wins over _aux.codec.
	mustSet(t, root, path.Must("auth", auth.Test, "user", "joe", "conv"), pack.Map{{Key: "key", Value: "other"}})
	wantGet(t, joe, p, 99.5)
	// The list gets a more specific pattern, with another codec.
	mustSet(t, root, path.P("codec.nil"), codecRec("nil", "", nil, [][2]any{{1.0, nil}}))
	mustSet(t, root, path.P("conv.floatval.monitor.a.#"), pack.Map{{Key: "codec", Value: path.P("nil")}})
	mustSet(t, root, path.P("conv.floatval.monitor.a.b.c.value"), pack.Map{{Key: "codec", Value: path.P("nil")}})
	wantGet(t, ann, p, nil)
	// The codec goes: its values fail, naming it.
	if _, err := root.Request(context.Background(), wire.DeleteInternal, client.Args{{Key: "path", Value: path.P("codec.nil")}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := get(ann, p)
		if err == nil || !strings.Contains(err.Error(), "codec nil") {
			return fmt.Errorf("get through a deleted codec: %v", err)
		}
		return nil
	})
}
