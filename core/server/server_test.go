package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// startServer runs a server on a free loopback port until the test ends.
// noTickFloor starts a server's ticks at 0, for tests that name them.
func noTickFloor() uint64 { return 0 }

func startServer(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "test1"
	}
	cfg.Listen = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func connect(t *testing.T, s *server.Server) *client.Client {
	t.Helper()
	addr := s.Addr().(*net.TCPAddr)
	c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: addr.Port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func decode(t *testing.T, e client.Entry) any {
	t.Helper()
	v, err := e.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSetGetDelete(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	if g := c.Greeting(); g.Node != "test1" {
		t.Fatalf("greeting %+v", g)
	}
	p := path.P("one.two.three")
	res, err := c.Set(ctx, p, []any{"Test", int64(42), false})
	if err != nil || !res.Changed || len(res.Chain) != 1 || res.Chain[0].Node != "test1" {
		t.Fatalf("set: %+v %v", res, err)
	}
	e, err := c.Get(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if v := decode(t, e); fmt.Sprint(v) != "[Test 42 false]" {
		t.Fatalf("get: %#v", v)
	}
	// A chain-checked update succeeds once; the stale chain then conflicts.
	ret, err := c.Set(ctx, p, []any{"Test", int64(43), false}, client.IfChain(e.Chain))
	if err != nil || slices.Equal(ret.Chain, e.Chain) {
		t.Fatalf("chained set: %+v %v", ret, err)
	}
	_, err = c.Set(ctx, p, "late", client.IfChain(e.Chain))
	var ce *client.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, tree.ErrChain) || ce.Path != p {
		t.Fatalf("stale chain: %v", err)
	}
	if _, err := c.Set(ctx, p, "x", client.IfNew()); !errors.Is(err, tree.ErrExists) {
		t.Fatalf("new on existing: %v", err)
	}
	if _, err := c.Set(ctx, p, "x", client.IfValue("nope")); !errors.Is(err, tree.ErrPrev) {
		t.Fatalf("wrong prev: %v", err)
	}
	d, err := c.Delete(ctx, p)
	if err != nil || !d.Changed || !d.HasPrev {
		t.Fatalf("delete: %+v %v", d, err)
	}
	e, err = c.Get(ctx, p)
	if err != nil || e.HasValue {
		t.Fatalf("get deleted: %+v %v", e, err)
	}
	// The connection still works after every error above.
	if _, err := c.Set(ctx, p, int64(1)); err != nil {
		t.Fatal(err)
	}
}

func TestGetTreeAndDepth(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	for i, p := range []string{"wire.tree", "wire.tree.a", "wire.tree.a.b.c", "wire.tree.a.b.d", "wire.tree.e", "wire.tree.new.deep", "wire.tree.zz", "other"} {
		if _, err := c.Set(ctx, path.P(p), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for e, err := range c.GetTree(ctx, path.P("wire.tree"), client.TreeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v=%v", e.Path, decode(t, e)))
	}
	want := []string{":=0", "a=1", "a.b.c=2", "a.b.d=3", "e=4", "new.deep=5", "zz=6"}
	if !slices.Equal(got, want) {
		t.Fatalf("get_tree:\n got %v\nwant %v", got, want)
	}
	got = nil
	for e, err := range c.GetTree(ctx, path.P("wire.tree"), client.TreeOptions{MinDepth: 1, MaxDepth: 2, Empty: true}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v:%v", e.Path, e.HasValue))
	}
	want = []string{"a:true", "a.b:false", "e:true", "new:false", "new.deep:true", "zz:true"}
	if !slices.Equal(got, want) {
		t.Fatalf("depth 1..2 with empty:\n got %v\nwant %v", got, want)
	}
	n, err := c.DeleteTree(ctx, path.P("wire.tree.a"))
	if err != nil || n != 3 {
		t.Fatalf("delete_tree: %d %v", n, err)
	}
}

func TestWatch(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	c2 := connect(t, s)
	ctx := ctxT(t)
	c.Set(ctx, path.P("w.a"), int64(1))
	c.Set(ctx, path.P("w.b.c"), int64(2))
	c.Set(ctx, path.P("x"), int64(0))

	var got []string
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range c.Watch(ctx, path.P("w"), client.WatchOptions{Fetch: true}) {
			if err != nil {
				got = append(got, "error: "+err.Error())
				return
			}
			switch {
			case ev.UpToDate:
				got = append(got, "uptodate")
				close(ready)
				continue
			case ev.HasValue:
				v, _ := ev.Value()
				got = append(got, fmt.Sprintf("%v=%v", ev.Path, v))
			default:
				got = append(got, fmt.Sprintf("%v deleted", ev.Path))
			}
			if len(got) == 5 {
				return
			}
		}
	}()
	<-ready
	c2.Set(ctx, path.P("w.a"), int64(10))
	c2.Set(ctx, path.P("x"), int64(1))    // outside
	c2.Set(ctx, path.P(":n.w"), int64(1)) // the system tree
	c2.Delete(ctx, path.P("w.b.c"))
	<-done
	want := []string{"a=1", "b.c=2", "uptodate", "a=10", "b.c deleted"}
	if !slices.Equal(got, want) {
		t.Fatalf("watch:\n got %v\nwant %v", got, want)
	}
}

// TestWatchRootSkipsSystem: like get_tree, a watch of the root does not
// report the system (None) subtree.
func TestWatchRootSkipsSystem(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	var got []string
	for ev, err := range c.Watch(ctx, path.Root, client.WatchOptions{Fetch: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.UpToDate {
			c.Set(ctx, path.P(":n.secret"), int64(1))
			c.Set(ctx, path.P("visible"), int64(2))
			continue
		}
		got = append(got, ev.Path.String())
		break
	}
	if !slices.Equal(got, []string{"visible"}) {
		t.Fatalf("watch of the root saw %v", got)
	}
}

func TestMirror(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	c.Set(ctx, path.P("one.two.three"), []any{"Test", int64(42), false})
	changes := make(chan client.Entry, 10)
	m, err := c.Mirror(ctx, path.P("one"), client.MirrorOptions{OnChange: func(e client.Entry) { changes <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e, ok := m.Get(path.P("two.three"))
	if !ok || fmt.Sprint(decode(t, e)) != "[Test 42 false]" {
		t.Fatalf("mirror initial: %+v %v", e, ok)
	}
	c.Set(ctx, path.P("one.two.three"), []any{"Test", int64(43), false})
	select {
	case e := <-changes:
		if fmt.Sprint(decode(t, e)) != "[Test 43 false]" {
			t.Fatalf("change: %v", decode(t, e))
		}
	case <-ctx.Done():
		t.Fatal("no change seen")
	}
	if e, _ := m.Get(path.P("two.three")); fmt.Sprint(decode(t, e)) != "[Test 43 false]" {
		t.Fatal("mirror not updated")
	}
}

// rawConn talks msgpack to a server directly.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr *wire.Framer
}

func dialRaw(t *testing.T, s *server.Server) *rawConn {
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawConn{t: t, nc: nc, fr: wire.NewFramer(nc, 1<<26)}
	rc.next() // greeting
	return rc
}

func (rc *rawConn) send(b []byte) {
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) next() pack.Map {
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, err := rc.fr.Next()
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	v, err := value.Decode(msg)
	if err != nil {
		rc.t.Fatal(err)
	}
	return v.(pack.Map)
}

// call sends a request (key and value pairs, "seq" first) and returns
// the first reply to its seq, skipping messages of other requests.
func (rc *rawConn) call(kv ...any) pack.Map {
	rc.t.Helper()
	rc.send(req(rc.t, kv...))
	for {
		if rep := rc.next(); get(rep, "seq") == kv[1] {
			return rep
		}
	}
}

func get(m pack.Map, k string) any { v, _ := m.Get(k); return v }

func TestBadRequests(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	enc := func(v any) []byte {
		b, err := value.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		req   any
		etype string
	}{
		{pack.Map{{Key: "seq", Value: int64(1)}, {Key: "action", Value: "no_such_action"}}, "action"},
		{pack.Map{{Key: "seq", Value: int64(2)}, {Key: "action", Value: "get_value"}}, "request"},
		{pack.Map{{Key: "seq", Value: int64(3)}, {Key: "action", Value: "set_value"}, {Key: "path", Value: path.P("a")}}, "request"},
		{pack.Map{{Key: "seq", Value: int64(4)}, {Key: "action", Value: "set_value"}, {Key: "path", Value: "not a path"}, {Key: "value", Value: int64(1)}}, "request"},
		{pack.Map{{Key: "seq", Value: int64(5)}, {Key: "action", Value: "delete_value"}, {Key: "path", Value: path.P("a")}, {Key: "value", Value: int64(1)}}, "request"},
		{pack.Map{{Key: "seq", Value: int64(6)}, {Key: "action", Value: int64(7)}}, "request"},
		{pack.Map{{Key: "seq", Value: int64(7)}, {Key: "action", Value: "get_value"}, {Key: "path", Value: []any{pack.Map{}}}}, "request"},
		{[]any{int64(1), int64(2)}, "request"},
		{pack.Map{{Key: "action", Value: "get_tock"}}, "request"},
	}
	for _, c := range cases {
		rc.send(enc(c.req))
		rep := rc.next()
		if get(rep, "error") == nil || get(rep, "etype") != c.etype {
			t.Errorf("%v: reply %v, want etype %s", c.req, rep, c.etype)
		}
	}
	// A value with invalid UTF-8 inside is refused; the connection lives.
	bad := []byte{0x84, 0xa3, 's', 'e', 'q', 0x08, 0xa6, 'a', 'c', 't', 'i', 'o', 'n', 0xa9, 's', 'e', 't', '_', 'v', 'a', 'l', 'u', 'e',
		0xa4, 'p', 'a', 't', 'h', 0x91, 0xa1, 'a', 0xa5, 'v', 'a', 'l', 'u', 'e', 0xa2, 0xc3, 0x28}
	rc.send(bad)
	if rep := rc.next(); get(rep, "etype") != "request" && get(rep, "etype") != "value" {
		t.Fatalf("bad utf-8 value: %v", rep)
	}
	rc.send(enc(pack.Map{{Key: "seq", Value: int64(9)}, {Key: "action", Value: "get_tock"}}))
	if rep := rc.next(); get(rep, "seq") != int64(9) || get(rep, "tock") == nil {
		t.Fatalf("after errors: %v", rep)
	}
	// Broken msgpack cannot be resynchronised: an error, then the end.
	rc.send([]byte{0xc1})
	if rep := rc.next(); get(rep, "error") == nil {
		t.Fatalf("broken msgpack: %v", rep)
	}
	if _, err := rc.fr.Next(); err == nil {
		t.Fatal("connection still open after broken msgpack")
	}
	// The server is fine.
	c := connect(t, s)
	if _, err := c.Get(ctxT(t), path.P("a")); err != nil {
		t.Fatal(err)
	}
}

// TestSlowClient: a client that never reads its watch does not hold up
// writers or other clients; its watch ends with an overflow error.
func TestSlowClient(t *testing.T) {
	s := startServer(t, server.Config{Queue: 50})
	slow := dialRaw(t, s)
	enc, _ := value.Encode(pack.Map{{Key: "seq", Value: int64(1)}, {Key: "action", Value: "watch"}, {Key: "path", Value: path.Root}})
	slow.send(enc)
	slow.next() // start
	c := connect(t, s)
	ctx := ctxT(t)
	big := make([]byte, 64<<10)
	for i := range 500 {
		if _, err := c.Set(ctx, path.Must("big", int64(i)), big); err != nil {
			t.Fatal(err)
		}
	}
	c2 := connect(t, s)
	if _, err := c2.Get(ctx, path.P("big:3")); err != nil {
		t.Fatal(err)
	}
	// Reading now: changes, then the overflow error and the end.
	for {
		rep := slow.next()
		if get(rep, "error") != nil {
			if get(rep, "etype") != "overflow" {
				t.Fatalf("error: %v", rep)
			}
			break
		}
	}
	if rep := slow.next(); get(rep, "state") != "end" {
		t.Fatalf("after overflow: %v", rep)
	}
}

func TestLogAndLoad(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, server.Config{TickFloor: noTickFloor}) // it counts ticks
	c := connect(t, s)
	ctx := ctxT(t)
	c.Set(ctx, path.P("before"), "x")
	logFile := filepath.Join(dir, "log.state")
	if err := s.StartLog(logFile, true); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		c.Set(ctx, path.Must("k", int64(i)), int64(i))
	}
	c.Delete(ctx, path.P("k:5"))
	c.Set(ctx, path.P(":n.sys"), "internal")
	if err := s.Save(filepath.Join(dir, "full.save")); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, path.P("after"), "y")
	if err := s.StopLog(); err != nil {
		t.Fatal(err)
	}

	dump := func(s *server.Server) []string {
		var out []string
		s.Tree().Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1}, func(items []tree.Item) bool {
			for _, it := range items {
				out = append(out, fmt.Sprintf("%v %q %v %v %d", it.Path, it.Value, it.HasValue, it.Chain(), it.Tock))
			}
			return true
		})
		return out
	}
	want := dump(s)
	for _, files := range [][]string{{"log.state"}, {"full.save", "log.state"}} {
		s2, _ := server.New(server.Config{Node: "test1", Listen: "127.0.0.1:0", TickFloor: noTickFloor})
		for _, f := range files {
			fh, err := os.Open(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			st, err := s2.Load(fh, f)
			fh.Close()
			if err != nil || st.Damaged != 0 {
				t.Fatalf("load %s: %+v %v", f, st, err)
			}
		}
		if got := dump(s2); !slices.Equal(got, want) {
			t.Fatalf("restored from %v:\n got %v\nwant %v", files, got, want)
		}
		if tick, _ := s2.Tree().Ticks(); tick != 104 {
			t.Fatalf("tick after load: %d", tick)
		}
	}
}

func TestSeqIsPerRequest(t *testing.T) {
	// Many concurrent requests on one connection all get their own reply.
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	errs := make(chan error, 100)
	for i := range 100 {
		go func() {
			p := path.Must("par", strconv.Itoa(i))
			if _, err := c.Set(ctx, p, int64(i)); err != nil {
				errs <- err
				return
			}
			e, err := c.Get(ctx, p)
			if err == nil && decode(t, e) != int64(i) {
				err = fmt.Errorf("%v: got %v", p, decode(t, e))
			}
			errs <- err
		}()
	}
	for range 100 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// req encodes a request map from key/value pairs.
func req(t *testing.T, kv ...any) []byte {
	t.Helper()
	var m pack.Map
	for i := 0; i < len(kv); i += 2 {
		m = append(m, pack.KV{Key: kv[i], Value: kv[i+1]})
	}
	b, err := value.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestActions walks the smaller actions over a raw connection.
func TestActions(t *testing.T) {
	s := startServer(t, server.Config{TickFloor: noTickFloor}) // it names ticks
	rc := dialRaw(t, s)
	call := func(kv ...any) pack.Map {
		t.Helper()
		rc.send(req(t, kv...))
		return rc.next()
	}
	for i, p := range []string{"wire.tree", "wire.tree.a", "wire.tree.e", "wire.tree.new.deep", "wire.tree.zz"} {
		if rep := call("seq", int64(i+1), "action", "set_value", "path", path.P(p), "value", int64(i)); get(rep, "changed") != true {
			t.Fatalf("set %s: %v", p, rep)
		}
	}
	// enum lists the children that hold a value, with_data their values.
	if rep := call("seq", int64(10), "action", "enum", "path", path.P("wire.tree")); fmt.Sprint(get(rep, "result")) != "[a e zz]" {
		t.Errorf("enum: %v", rep)
	}
	if rep := call("seq", int64(11), "action", "enum", "path", path.P("wire.tree"), "with_data", true); fmt.Sprint(get(rep, "result")) != "[{a 1} {e 2} {zz 4}]" {
		t.Errorf("enum with_data: %v", rep)
	}
	if rep := call("seq", int64(12), "action", "get_tock"); get(rep, "tock") != int64(5) {
		t.Errorf("get_tock: %v", rep)
	}
	// get_value by event: the entry node test1 set at tick 2.
	rep := call("seq", int64(13), "action", "get_value", "node", "test1", "tick", int64(2), "nchain", int64(1))
	if p, ok := get(rep, "path").(path.Path); !ok || p != path.P("wire.tree.a") || get(rep, "value") != int64(1) {
		t.Errorf("get_value by event: %v", rep)
	}
	if rep := call("seq", int64(14), "action", "get_value", "node", "test1", "tick", int64(99)); get(rep, "etype") != "no_data" {
		t.Errorf("get_value of an unknown event: %v", rep)
	}
	// get_state with flags.
	rep = call("seq", int64(15), "action", "get_state", "nodes", true, "present", true, "known", true, "deleted", true, "missing", true)
	if fmt.Sprint(get(rep, "nodes")) != "[{test1 5}]" || fmt.Sprint(get(rep, "present")) != "[{test1 [[1 6]]}]" || fmt.Sprint(get(rep, "known")) != "[]" {
		t.Errorf("get_state: %v", rep)
	}
	// The system tree: internal actions prepend None.
	if rep := call("seq", int64(16), "action", "set_internal", "path", path.P("auth.x"), "value", "y"); get(rep, "changed") != true {
		t.Fatalf("set_internal: %v", rep)
	}
	if rep := call("seq", int64(17), "action", "get_value", "path", path.P(":n.auth.x")); get(rep, "value") != "y" {
		t.Errorf("system entry: %v", rep)
	}
	// A get_tree of the root does not show the system tree.
	rc.send(req(t, "seq", int64(18), "action", "get_tree", "path", path.Root))
	for {
		rep := rc.next()
		if get(rep, "state") == "end" {
			break
		}
		if fmt.Sprint(get(rep, "path")) == "[<nil>]" {
			t.Errorf("get_tree of the root shows the system tree: %v", rep)
		}
	}
	// stop ends a watch: result true, then the watch's end.
	rc.send(req(t, "seq", int64(19), "action", "watch", "path", path.P("wire")))
	if rep := rc.next(); get(rep, "state") != "start" {
		t.Fatalf("watch: %v", rep)
	}
	rc.send(req(t, "seq", int64(20), "action", "stop", "task", int64(19)))
	got := map[string]bool{}
	for range 2 {
		rep := rc.next()
		got[fmt.Sprint(get(rep, "seq"), get(rep, "result"), get(rep, "state"))] = true
	}
	if !got["20 true <nil>"] || !got["19 <nil>end"] {
		t.Errorf("stop: %v", got)
	}
	if rep := call("seq", int64(21), "action", "stop", "task", int64(999)); get(rep, "result") != false {
		t.Errorf("stop of nothing: %v", rep)
	}
	// root: later paths are relative to it.
	if rep := call("seq", int64(22), "action", "root", "path", path.P("wire.tree")); get(rep, "value") != int64(0) {
		t.Errorf("root: %v", rep)
	}
	if rep := call("seq", int64(23), "action", "get_value", "path", path.P("a")); get(rep, "value") != int64(1) {
		t.Errorf("get after root: %v", rep)
	}
	if rep := call("seq", int64(24), "action", "set_value", "path", path.P("zz"), "value", int64(9)); get(rep, "prev") != int64(4) {
		t.Errorf("set after root: %v", rep)
	}
	// Flow control: with qlen, stream messages carry wseq and acks are taken.
	rc.send(req(t, "seq", int64(0), "qlen", int64(10)))
	rc.send(req(t, "seq", int64(25), "action", "get_tree", "path", path.Root))
	for w := int64(1); ; w++ {
		rep := rc.next()
		if get(rep, "wseq") != w {
			t.Fatalf("wseq %v, want %d: %v", get(rep, "wseq"), w, rep)
		}
		rc.send(req(t, "seq", int64(25), "state", "ack", "ack", w))
		if get(rep, "state") == "end" {
			break
		}
	}
	if rep := call("seq", int64(26), "action", "get_tock"); get(rep, "error") != nil {
		t.Errorf("after flow control: %v", rep)
	}
}

// TestTornLog loads a log whose last record was cut short: every whole
// record is applied, the damage is counted, nothing fails.
func TestTornLog(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	logFile := filepath.Join(dir, "torn.state")
	if err := s.StartLog(logFile, true); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c.Set(ctx, path.Must("k", int64(i)), int64(i))
	}
	s.StopLog()
	data, _ := os.ReadFile(logFile)
	os.WriteFile(logFile, data[:len(data)-3], 0o600)
	s2, _ := server.New(server.Config{Node: "test1", Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f, _ := os.Open(logFile)
	defer f.Close()
	st, err := s2.Load(f, logFile)
	if err != nil || st.Damaged != 1 || st.Records != 9 {
		t.Fatalf("load: %+v %v", st, err)
	}
	if it, ok := s2.Tree().Get(path.Must("k", int64(8))); !ok || !it.HasValue {
		t.Fatal("k:8 missing")
	}
}
