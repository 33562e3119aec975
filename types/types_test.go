package types_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/types"
)

// goRunner runs Go functions named by their "source".
type goRunner map[string]func(v any) error

func (r goRunner) Compile(name, src string) (types.Proc, error) {
	f, ok := r[src]
	if !ok {
		return nil, fmt.Errorf("%s: syntax error in %q", name, src)
	}
	return goProc(f), nil
}

type goProc func(v any) error

func (p goProc) Call(_ context.Context, v any) (bool, error) { return true, p(v) }

var runner = goRunner{
	"int": func(v any) error {
		switch n := v.(type) {
		case int64:
			return nil
		case float64:
			if n == math.Floor(n) {
				return nil
			}
		}
		return errors.New("not an integer")
	},
	"percent": func(v any) error {
		n, _ := v.(int64)
		if n < 0 || n > 100 {
			return errors.New("not a percentage")
		}
		return nil
	},
}

func setup(t *testing.T) (*server.Server, *client.Client, *types.Checker) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ck *types.Checker
	s, err := server.New(server.Config{Node: "t", Listen: "127.0.0.1:0", Logger: log,
		Hooks: server.Hooks{Checker: checkerFunc(func(sess *server.Session, p path.Path, v []byte) error { return ck.Check(sess, p, v) })}})
	if err != nil {
		t.Fatal(err)
	}
	ck = types.New(s.Tree(), runner, log)
	t.Cleanup(ck.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c, ck
}

type checkerFunc func(*server.Session, path.Path, []byte) error

func (f checkerFunc) Check(s *server.Session, p path.Path, v []byte) error { return f(s, p, v) }

func setInternal(c *client.Client, p path.Path, v any) error {
	_, err := c.Request(context.Background(), wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: v}})
	return err
}

func typeRec(code string, good, bad []any) pack.Map {
	return pack.Map{{Key: "code", Value: code}, {Key: "good", Value: good}, {Key: "bad", Value: bad}}
}

// waitGen waits until the checker has rebuilt its tables after gen.
func waitGen(t *testing.T, ck *types.Checker, gen uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ck.Generation() <= gen {
		if time.Now().After(deadline) {
			t.Fatal("the checker did not rebuild")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTutorialTypes: the tutorial's Verification section.
func TestTutorialTypes(t *testing.T) {
	_, c, ck := setup(t)
	ctx := context.Background()
	gen := ck.Generation()
	if err := setInternal(c, path.P("type.int"), typeRec("int", []any{0, -2, 123}, []any{1.2, "Hello"})); err != nil {
		t.Fatal(err)
	}
	waitGen(t, ck, gen)
	gen = ck.Generation()
	if err := setInternal(c, path.P("type.int.percent"), typeRec("percent", []any{0, 99, 100}, []any{-1, 101})); err != nil {
		t.Fatal(err)
	}
	waitGen(t, ck, gen)
	gen = ck.Generation()
	if err := setInternal(c, path.P("match.stats.#.quota"), pack.Map{{Key: "type", Value: path.P("int.percent")}}); err != nil {
		t.Fatal(err)
	}
	waitGen(t, ck, gen)
	p := path.P("stats.foo.bar.quota")
	if _, err := c.Set(ctx, p, "123"); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Fatalf("a string: %v", err)
	}
	if _, err := c.Set(ctx, p, 123); err == nil || !strings.Contains(err.Error(), "not a percentage") {
		t.Fatalf("123: %v", err)
	}
	if _, err := c.Set(ctx, p, 12); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, path.P("stats.foo.bar.other"), "anything"); err != nil {
		t.Fatalf("an unmatched path: %v", err)
	}
}

// TestTypeRecords: records that break the rules are refused.
func TestTypeRecords(t *testing.T) {
	_, c, ck := setup(t)
	gen := ck.Generation()
	if err := setInternal(c, path.P("type.int"), typeRec("int", []any{0, 1}, []any{1.5})); err != nil {
		t.Fatal(err)
	}
	waitGen(t, ck, gen)
	for name, tc := range map[string]struct {
		p path.Path
		v any
	}{
		"one good example":             {path.P("type.x"), typeRec("int", []any{0}, []any{1.5})},
		"no bad example":               {path.P("type.x"), typeRec("int", []any{0, 1}, nil)},
		"a good example fails":         {path.P("type.x"), typeRec("int", []any{0, 1.5}, []any{"x"})},
		"a bad example passes":         {path.P("type.x"), typeRec("int", []any{0, 1}, []any{2})},
		"syntax error":                 {path.P("type.x"), typeRec("no such code", []any{0, 1}, []any{2})},
		"a good example fails the sup": {path.P("type.int.percent"), typeRec("percent", []any{0, 1.5}, []any{-1})},
		"a bad example fails the sup":  {path.P("type.int.percent"), typeRec("percent", []any{0, 1}, []any{"x"})},
		"missing supertype":            {path.P("type.float.percent"), typeRec("percent", []any{0, 1}, []any{-1})},
		"not a map":                    {path.P("type.x"), "code"},
		"match of no type":             {path.P("match.a.#"), pack.Map{{Key: "type", Value: path.P("nope")}}},
		"match without type":           {path.P("match.a.#"), pack.Map{}},
	} {
		if err := setInternal(c, tc.p, tc.v); err == nil || !errors.Is(err, wire.ErrBadValue) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// countRunner counts calls; scripts named "impure…" report impure.
type countRunner struct{ n *atomic.Int64 }

func (r countRunner) Compile(name, src string) (types.Proc, error) {
	return countProc{r.n, strings.HasPrefix(src, "impure")}, nil
}

type countProc struct {
	n      *atomic.Int64
	impure bool
}

func (p countProc) Call(_ context.Context, v any) (bool, error) {
	p.n.Add(1)
	if n, _ := v.(int64); n < 0 {
		return !p.impure, errors.New("negative")
	}
	return !p.impure, nil
}

// TestMemo: a pure chain's outcome for a value is remembered until a type
// or match changes; an impure one runs every time.
func TestMemo(t *testing.T) {
	var n atomic.Int64
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(server.Config{Node: "t", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ck := types.New(s.Tree(), countRunner{&n}, log)
	defer ck.Close()
	set := func(p path.Path, v any) {
		raw, _ := pack.Append(nil, v)
		if err := ck.Check(nil, p, raw); err != nil {
			t.Fatalf("check %v: %v", p, err)
		}
		if _, err := s.Tree().Set(p, string(raw), tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(p path.Path, v int64) error {
		raw, _ := pack.Append(nil, v)
		return ck.Check(nil, p, raw)
	}
	gen := ck.Generation()
	set(path.Must(nil, "type", "pos"), typeRec("pos", []any{int64(1), int64(2)}, []any{int64(-1)}))
	set(path.Must(nil, "type", "now"), typeRec("impure", []any{int64(1), int64(2)}, []any{int64(-1)}))
	set(path.Must(nil, "match", "a", "#"), pack.Map{{Key: "type", Value: path.P("pos")}})
	set(path.Must(nil, "match", "b", "#"), pack.Map{{Key: "type", Value: path.P("now")}})
	waitGen(t, ck, gen)
	for deadline := time.Now().Add(10 * time.Second); check(path.P("b.y"), -1) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the match of b was not compiled")
		}
		time.Sleep(time.Millisecond)
	}
	for _, tc := range []struct {
		p    path.Path
		runs int64 // calls for three checks of one value
	}{{path.P("a.x"), 1}, {path.P("b.x"), 3}} {
		for _, v := range []int64{5, -5} {
			before := n.Load()
			for range 3 {
				if err := check(tc.p, v); (err != nil) != (v < 0) {
					t.Fatalf("%v %d: %v", tc.p, v, err)
				}
			}
			if got := n.Load() - before; got != tc.runs {
				t.Errorf("%v %d: %d runs for three checks, want %d", tc.p, v, got, tc.runs)
			}
		}
	}
}

// compileCounter counts Compile calls of runner.
type compileCounter struct{ n *atomic.Int64 }

func (c compileCounter) Compile(name, src string) (types.Proc, error) {
	c.n.Add(1)
	return runner.Compile(name, src)
}

// TestRebuildKeepsUnchanged: after a change, only the changed record is
// compiled again.
func TestRebuildKeepsUnchanged(t *testing.T) {
	var n atomic.Int64
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(server.Config{Node: "t", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ck := types.New(s.Tree(), compileCounter{&n}, log)
	defer ck.Close()
	put := func(name string) {
		raw, _ := pack.Append(nil, typeRec("int", []any{int64(1), int64(2)}, []any{1.5}))
		gen := ck.Generation()
		if _, err := s.Tree().Set(path.Must(nil, "type", name), string(raw), tree.Cond{}); err != nil {
			t.Fatal(err)
		}
		waitGen(t, ck, gen)
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		put(name)
	}
	before := n.Load()
	put("e")
	if got := n.Load() - before; got != 1 {
		t.Fatalf("%d compiles after one new type among four, want 1", got)
	}
}
