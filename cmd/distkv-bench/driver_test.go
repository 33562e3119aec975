package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
)

// startServer runs an in-process server on a free loopback port until
// the test ends.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.New(server.Config{
		Node:   "test",
		Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
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

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustRun(t *testing.T, spec loadSpec) loadStats {
	t.Helper()
	st, err := newDriver(spec, newClock()).run(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.errors != 0 {
		t.Fatalf("%d errors, the first: %s", st.errors, st.firstErr)
	}
	return st
}

func checkCounts(t *testing.T, st loadStats, want int64) {
	t.Helper()
	if st.ops != want || int64(st.hist.n) != want {
		t.Errorf("ops %d, histogram %d; want %d", st.ops, st.hist.n, want)
	}
	if st.elapsed() <= 0 || st.rate() <= 0 {
		t.Errorf("elapsed %v, rate %v", st.elapsed(), st.rate())
	}
}

func TestDriverWorkloads(t *testing.T) {
	prefix := path.P("bench")
	get := newTemplate("get_value", prefix, false)
	set := newTemplate("set_value", prefix, true)
	tests := []struct {
		name string
		plan plan
	}{
		{"get", plan{get: &get, keys: 50}},
		{"set", plan{set: &set, keys: 50}},
		{"mixed", plan{get: &get, set: &set, ratio: 0.5, keys: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			addr := s.Addr().String()
			// Odd counts: the quota split and partial batches get exercised.
			st := mustRun(t, loadSpec{addr: addr, conns: 3, pipeline: 4, requests: 301, plan: tt.plan})
			checkCounts(t, st, 301)
		})
	}
}

func TestDriverWarmupAndDuration(t *testing.T) {
	s := startServer(t)
	set := newTemplate("set_value", path.P("bench"), true)
	st := mustRun(t, loadSpec{addr: s.Addr().String(), conns: 2, pipeline: 2,
		warmup: 50 * time.Millisecond, duration: 100 * time.Millisecond, plan: plan{set: &set, keys: 10}})
	if st.ops == 0 || st.okTotal <= st.ops || int64(st.hist.n) != st.ops {
		t.Errorf("ops %d, all %d, histogram %d: want warm-up replies beyond the measured", st.ops, st.okTotal, st.hist.n)
	}
}

func TestDriverFill(t *testing.T) {
	s := startServer(t)
	set := newTemplate("set_value", path.P("bench"), true)
	const n = 1000
	st := mustRun(t, loadSpec{addr: s.Addr().String(), conns: 3, pipeline: 16, requests: n, plan: plan{set: &set, seqKeys: true}})
	checkCounts(t, st, n)
	if got := s.Tree().Len(); got != n {
		t.Errorf("the tree holds %d values, want %d (every key once)", got, n)
	}
	for _, k := range []int{0, n - 1} {
		p := path.Must("bench", fmt.Sprintf("%010d", k))
		if it, ok := s.Tree().Get(p); !ok || !it.HasValue {
			t.Errorf("no value at %v", p)
		}
	}
}

func TestDriverCountsErrors(t *testing.T) {
	s := startServer(t)
	// set_value without a value is a bad request: every one fails.
	bad := newTemplate("set_value", path.P("bench"), false)
	st, err := newDriver(loadSpec{addr: s.Addr().String(), conns: 2, pipeline: 3, requests: 20, plan: plan{set: &bad, keys: 5}}, newClock()).run(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.errors != 20 || st.ops != 0 || st.firstErr == "" {
		t.Errorf("errors %d (%q), ops %d; want 20 errors", st.errors, st.firstErr, st.ops)
	}
}

func TestDriverNoServer(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	set := newTemplate("set_value", path.P("bench"), true)
	_, err = newDriver(loadSpec{addr: fmt.Sprintf("127.0.0.1:%d", port), requests: 1, plan: plan{set: &set}}, newClock()).run(ctxT(t))
	if err == nil {
		t.Error("want an error without a server")
	}
}

func TestWatch(t *testing.T) {
	s := startServer(t)
	prefix := path.P("bench")
	set := newTemplate("set_value", prefix, true)
	const n, watchers = 200, 3
	spec := loadSpec{addr: s.Addr().String(), conns: 2, pipeline: 4, requests: n, plan: plan{set: &set, stamp: true, keys: 20}}
	ws, ss, err := watchRun(ctxT(t), spec, prefix, watchers)
	if err != nil {
		t.Fatal(err)
	}
	if ss.errors != 0 || ws.errors != 0 {
		t.Fatalf("errors: setters %d (%s), watchers %d (%s)", ss.errors, ss.firstErr, ws.errors, ws.firstErr)
	}
	checkCounts(t, ss, n)
	checkCounts(t, ws, n*watchers)
}
