package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// denySecret refuses everything at and below `secret`, allows the rest.
type denySecret struct{}

func (denySecret) Grant(_ *server.Session, _ string, p path.Path) server.Grant {
	if p.HasPrefix(path.P("secret")) {
		return server.Grant{By: "test"}
	}
	return server.Grant{Allow: server.AllModes}
}

// requests returns the count of action and outcome in st.
func requests(st server.Stats, action string, o server.Outcome) uint64 {
	for _, rc := range st.Requests {
		if rc.Action == action && rc.Outcome == o {
			return rc.N
		}
	}
	return 0
}

// TestStats: requests count by action and outcome where they end (inline,
// held for the disk, streamed), with get and set latencies; connections,
// watches, the tree and the change log are counted.
func TestStats(t *testing.T) {
	s := startServer(t, server.Config{LogSync: persist.SyncAlways, Hooks: server.Hooks{Access: denySecret{}}})
	if err := s.StartLog(filepath.Join(t.TempDir(), "log"), false); err != nil {
		t.Fatal(err)
	}
	c := connect(t, s)
	ctx := context.Background()
	before := s.Stats()
	if before.Conns != 1 {
		t.Errorf("conns %d, want 1", before.Conns)
	}

	if _, err := c.Set(ctx, path.P("a"), "hello"); err != nil { // held for the fsync
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, path.P("a"), "x", client.IfValue("other")); err == nil {
		t.Fatal("a set with a wrong prev passed")
	}
	if _, err := c.Get(ctx, path.P("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, path.P("secret.b")); !errors.Is(err, wire.ErrAccess) {
		t.Fatalf("get of a denied path: %v", err)
	}
	if _, err := c.Request(ctx, "no_such_action", nil); !errors.Is(err, wire.ErrUnknownAction) {
		t.Fatalf("unknown action: %v", err)
	}
	wctx, stop := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		for _, err := range c.Watch(wctx, path.P("a"), client.WatchOptions{}) {
			if err != nil {
				return
			}
		}
	}()
	waitFor(t, "the watch to count", func() bool { return s.Stats().Watches == 1 })
	stop()
	<-watching
	waitFor(t, "the watch to end", func() bool { return s.Stats().Watches == 0 })

	st := s.Stats()
	for _, want := range []struct {
		action  string
		outcome server.Outcome
		n       uint64
	}{
		{wire.SetValue, server.OutcomeOK, 1},
		{wire.SetValue, server.OutcomeError, 1},
		{wire.GetValue, server.OutcomeOK, 1},
		{wire.GetValue, server.OutcomeDenied, 1},
		{server.ActionOther, server.OutcomeError, 1},
		{wire.Watch, server.OutcomeOK, 1},
	} {
		got := requests(st, want.action, want.outcome) - requests(before, want.action, want.outcome)
		if got != want.n {
			t.Errorf("%s %v: %d more, want %d", want.action, want.outcome, got, want.n)
		}
	}
	if n := len(st.Requests); n != (len(wire.Actions)+1)*3 {
		t.Errorf("%d request counts, want every action and outcome", n)
	}
	// One get or set in TimeEvery of a connection is timed, whether it
	// failed or not; a connection that ends keeps its counts.
	before = st
	c2 := connect(t, s)
	for range 2*server.TimeEvery - 2 {
		if _, err := c.Get(ctx, path.P("a")); err != nil {
			t.Fatal(err)
		}
	}
	for range server.TimeEvery {
		if _, err := c2.Set(ctx, path.P("a"), "hello"); err != nil {
			t.Fatal(err)
		}
	}
	c2.Close()
	waitFor(t, "the second connection to end", func() bool { return s.Stats().Conns == 1 })
	st = s.Stats()
	if n := st.Set.Count - before.Set.Count; n != 1 {
		t.Errorf("set latencies: %d more, want 1", n)
	}
	if n := st.Get.Count - before.Get.Count; n != 2 {
		t.Errorf("get latencies: %d more, want 2", n)
	}
	if n := requests(st, wire.SetValue, server.OutcomeOK) - requests(before, wire.SetValue, server.OutcomeOK); n != server.TimeEvery {
		t.Errorf("sets of a connection that ended: %d, want %d", n, server.TimeEvery)
	}
	if st.Tree.Values != 1 || st.Tree.Bytes != 6 { // "hello" is 6 bytes of msgpack
		t.Errorf("tree %+v, want one value of 6 bytes", st.Tree)
	}
	if st.Log.Records < 2 || st.Log.Bytes == 0 || st.Log.Fsyncs.Count == 0 {
		t.Errorf("log %+v, want the header and the change, written and fsynced", st.Log)
	}
	if st.Clustered {
		t.Error("a server on its own is not clustered")
	}
	c.Close()
	waitFor(t, "the connection to go", func() bool { return s.Stats().Conns == 0 })
}
