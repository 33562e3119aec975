package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/distkv-go/distkv/core/chain"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// rawReq encodes a request without checking it (value.Encode would
// refuse the paths these tests send).
func rawReq(t *testing.T, kv ...any) []byte {
	t.Helper()
	var m pack.Map
	for i := 0; i < len(kv); i += 2 {
		m = append(m, pack.KV{Key: kv[i], Value: kv[i+1]})
	}
	b, err := pack.Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawPath is msgpack ext type 3 holding enc as it is.
type rawPath []byte

func (p rawPath) AppendMsgpack(b []byte) ([]byte, error) {
	b = pack.AppendExtHeader(b, pack.ExtPath, len(p))
	return append(b, p...), nil
}

// manyElems returns n elements "a".
func manyElems(n int) []any {
	e := make([]any, n)
	for i := range e {
		e[i] = "a"
	}
	return e
}

// TestHostilePaths: a request with a path beyond the limits (the attack:
// 100,000 elements, 200 kB, which cost gigabytes and seconds under the
// tree lock) gets a clear error reply, nothing is applied, and the
// connection answers the next request.
func TestHostilePaths(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	huge := rawPath(strings.Repeat("\xa1a", 100000))
	wide := rawPath(pack.AppendString(nil, strings.Repeat("x", 70<<10)))
	cases := []struct {
		name  string
		req   []byte
		want  string // in the error message
		etype string // "request" if empty
	}{
		{"set, 100,000 elements", rawReq(t, "seq", int64(1), "action", "set_value", "path", huge, "value", int64(1)), "limit of 256", ""},
		{"set, 100,000 elements as an array", rawReq(t, "seq", int64(2), "action", "set_value", "path", manyElems(100000), "value", int64(1)), "100000 elements", ""},
		{"set, 257 elements", rawReq(t, "seq", int64(3), "action", "set_value", "path", manyElems(path.MaxElems+1), "value", int64(1)), "limit of 256", ""},
		{"set, one element of 70 KiB", rawReq(t, "seq", int64(4), "action", "set_value", "path", wide, "value", int64(1)), "limit of 65536", ""},
		{"get_tree", rawReq(t, "seq", int64(5), "action", "get_tree", "path", huge), "path too long", ""},
		{"delete_tree", rawReq(t, "seq", int64(6), "action", "delete_tree", "path", huge), "path too long", ""},
		{"a value holding such a path", rawReq(t, "seq", int64(7), "action", "set_value", "path", path.P("v"), "value", huge), "path too long", "value"},
		{"a watch", rawReq(t, "seq", int64(8), "action", "watch", "path", huge), "path too long", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc.send(c.req)
			rep := rc.next()
			msg, _ := get(rep, "error").(string)
			if c.etype == "" {
				c.etype = "request"
			}
			if get(rep, "etype") != c.etype || !strings.Contains(msg, c.want) || len(msg) > 300 {
				t.Fatalf("reply etype %v, error %.300q; want etype %s, an error saying %q", get(rep, "etype"), msg, c.etype, c.want)
			}
			t.Log(msg)
			if rep := rc.call("seq", int64(100), "action", "get_tock"); get(rep, "tock") == nil {
				t.Fatalf("the next request: %v", rep)
			}
		})
	}
	if n := s.Tree().Len(); n != 0 {
		t.Errorf("%d values stored", n)
	}
	var entries int
	s.Tree().Walk(path.Root, tree.WalkOptions{Which: tree.All, MaxDepth: -1}, func(items []tree.Item) bool {
		entries += len(items)
		return true
	})
	if entries > 1 {
		t.Errorf("%d entries in the tree: a refused request created some", entries)
	}
}

// TestPathBelowRoot: a path within the limits that is beyond them below
// the connection's root (or below None, for internal actions) is
// refused: the tree and the other servers hold only paths within them.
func TestPathBelowRoot(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	full := path.Must(manyElems(path.MaxElems)...)
	if rep := rc.call("seq", int64(1), "action", "set_internal", "path", full, "value", int64(1)); get(rep, "etype") != "request" {
		t.Fatalf("set_internal of %d elements: %v", path.MaxElems, rep)
	}
	if rep := rc.call("seq", int64(2), "action", "set_internal", "path", full.Parent(), "value", int64(1)); get(rep, "error") != nil {
		t.Fatalf("set_internal of %d elements: %v", path.MaxElems-1, rep)
	}
	if rep := rc.call("seq", int64(3), "action", "root", "path", path.P("r")); get(rep, "error") != nil {
		t.Fatalf("root: %v", rep)
	}
	rep := rc.call("seq", int64(4), "action", "set_value", "path", full, "value", int64(1))
	if msg, _ := get(rep, "error").(string); get(rep, "etype") != "request" || !strings.Contains(msg, "below r") {
		t.Fatalf("set below the root: %v", rep)
	}
	if rep := rc.call("seq", int64(5), "action", "set_value", "path", full.Parent(), "value", int64(1)); get(rep, "error") != nil {
		t.Fatalf("set of %d elements below a root of 1: %v", path.MaxElems-1, rep)
	}
}

// TestLongestPath: a path of 256 elements works for every action along
// it, and a purge of its tombstones.
func TestLongestPath(t *testing.T) {
	s := startServer(t, server.Config{})
	c := connect(t, s)
	ctx := ctxT(t)
	elems := make([]any, path.MaxElems)
	for i := range elems {
		elems[i] = fmt.Sprintf("%03d%s", i, strings.Repeat("e", 200)) // 256 × 205 bytes: 51 KiB
	}
	leaf := path.Must(elems...)
	for i := 1; i <= leaf.Len(); i += 15 {
		if _, err := c.Set(ctx, leaf.Prefix(i), int64(i)); err != nil {
			t.Fatalf("set at depth %d: %v", i, err)
		}
	}
	if _, err := c.Set(ctx, leaf, "leaf"); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, leaf); err != nil || decode(t, e) != "leaf" {
		t.Fatalf("get: %v", err)
	}
	// Values at depths 1, 16, …, 241 and 256.
	n, deepest := 0, 0
	for e, err := range c.GetTree(ctx, leaf.Prefix(1), client.TreeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n, deepest = n+1, e.Path.Len() // relative to the prefix
	}
	if n != 18 || deepest != path.MaxElems-1 {
		t.Errorf("get_tree: %d entries, the last %d below the prefix; want 18, %d", n, deepest, path.MaxElems-1)
	}
	if _, err := c.Delete(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	if got, err := c.DeleteTree(ctx, leaf.Prefix(1)); err != nil || got != 17 {
		t.Fatalf("delete_tree: %d, %v", got, err)
	}
	if purged := s.Tree().Purge(map[string]uint64{"test1": chain.MaxTick}); purged != 18 {
		t.Errorf("purged %d tombstones, want 18", purged)
	}
	if _, ok := s.Tree().Get(leaf.Prefix(1)); ok {
		t.Error("the chain is still there after the purge")
	}
	// Child does not check: the server refuses, the client goes on.
	if _, err := c.Set(ctx, leaf.Child(path.Str("x")), 1); !errors.Is(err, wire.ErrBadRequest) || !strings.Contains(err.Error(), "path too long") {
		t.Errorf("257 elements: %v", err)
	}
	if _, err := c.Get(ctx, leaf.Prefix(1)); err != nil {
		t.Errorf("after the error: %v", err)
	}
}

// TestLoadSkipsLongPaths: a record of a file given to -l with a path
// beyond the limits is skipped as damaged, in our format and the
// original's; the records around it load.
func TestLoadSkipsLongPaths(t *testing.T) {
	long := path.Must(manyElems(path.MaxElems)...).Child(path.Str("b")) // unchecked
	record := func(p any, tick int64) []byte {
		b, err := pack.Append(nil, pack.Map{{Key: "path", Value: p}, {Key: "value", Value: tick},
			{Key: "chain", Value: pack.Map{{Key: "node", Value: "n"}, {Key: "tick", Value: tick}, {Key: "prev", Value: nil}}}, {Key: "tock", Value: tick}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.state")
	w, err := persist.Create(ours, persist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []any{path.P("a"), long, path.P("c")} {
		if _, err := w.Append(record(p, int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The original's: depth-compressed, so the long path also comes as a
	// short rest below the previous one.
	var orig []byte
	orig = append(orig, record(path.P("a"), 1)...)
	orig = append(orig, record(long, 2)...)
	orig = append(orig, record(path.Must(manyElems(path.MaxElems)...), 3)...)
	deeper, _ := pack.Append(nil, pack.Map{{Key: "path", Value: []any{"b"}}, {Key: "depth", Value: int64(path.MaxElems)}, {Key: "value", Value: int64(4)},
		{Key: "chain", Value: pack.Map{{Key: "node", Value: "n"}, {Key: "tick", Value: int64(4)}}}, {Key: "tock", Value: int64(4)}})
	orig = append(orig, deeper...)
	orig = append(orig, record(path.P("c"), 5)...)
	original := filepath.Join(dir, "original.state")
	if err := os.WriteFile(original, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file             string
		records, damaged int
	}{{ours, 2, 1}, {original, 3, 2}} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			s := startServer(t, server.Config{Node: "n"})
			f, err := os.Open(c.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := s.Load(f, c.file)
			if err != nil || st.Records != c.records || st.Damaged != c.damaged {
				t.Fatalf("load: %+v, %v; want %d records, %d damaged", st, err, c.records, c.damaged)
			}
			for _, p := range []string{"a", "c"} {
				if it, ok := s.Tree().Get(path.P(p)); !ok || !it.HasValue {
					t.Errorf("%s did not load", p)
				}
			}
		})
	}
}

// TestPeerUpdateWithLongPath: the decoder of the updates peers send (and
// logs hold) refuses a path beyond the limits, so that replication does
// not apply it (the peer connection ends with the error logged, as for
// any malformed update).
func TestPeerUpdateWithLongPath(t *testing.T) {
	long := path.Must(manyElems(path.MaxElems)...).Child(path.Str("b"))
	b, _ := pack.Append(nil, pack.Map{{Key: "path", Value: long}, {Key: "value", Value: int64(1)},
		{Key: "chain", Value: pack.Map{{Key: "node", Value: "n"}, {Key: "tick", Value: int64(1)}}}, {Key: "tock", Value: int64(1)}})
	if _, err := wire.DecodeUpdate(b, nil); !errors.Is(err, path.ErrTooLong) {
		t.Fatalf("DecodeUpdate: %v", err)
	}
}

// TestDeepValues: values nested a million deep, as the value or the prev
// condition, are refused with an error reply; the
// connection answers the next request.
func TestDeepValues(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	deep := rawValue(append(bytes.Repeat([]byte{0x91}, 1_000_000), 0x01))
	deepMap := rawValue(append(bytes.Repeat([]byte{0x81, 0x01}, 1_000_000), 0x01))
	if rep := rc.call("seq", int64(1), "action", "set_value", "path", path.P("v"), "value", int64(1)); get(rep, "error") != nil {
		t.Fatal(rep)
	}
	for i, r := range [][]any{
		{"action", "set_value", "path", path.P("v"), "value", deep},
		{"action", "set_value", "path", path.P("v"), "value", deepMap},
		{"action", "set_value", "path", path.P("v"), "value", int64(2), "prev", deep},
	} {
		seq := int64(10 + i)
		rc.send(rawReq(t, append([]any{"seq", seq}, r...)...))
		rep := rc.next()
		if msg, _ := get(rep, "error").(string); get(rep, "seq") != seq || !strings.Contains(msg, "nested too deeply") {
			t.Errorf("%v: %v", r[1], rep)
		}
		if rep := rc.call("seq", int64(100+i), "action", "get_value", "path", path.P("v")); get(rep, "value") != int64(1) {
			t.Fatalf("after it: %v", rep)
		}
	}
}

// rawValue is msgpack bytes sent as they are.
type rawValue []byte

func (v rawValue) AppendMsgpack(b []byte) ([]byte, error) { return append(b, v...), nil }
