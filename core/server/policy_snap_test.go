package server

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// TestPolicyConcurrentRebuild: requests that come while another one
// rebuilds the snapshot wait for it. They once got no snapshot at all
// (the first build: a nil dereference that stopped the server, seen when
// 16 freshly logged-in connections sent their first requests at once) or
// the snapshot from before a change that preceded them.
func TestPolicyConcurrentRebuild(t *testing.T) {
	s, err := New(Config{Node: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	set := func(p path.Path, v any) {
		raw, _ := value.Encode(v)
		if _, err := s.tree.Set(p, string(raw), tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	// Enough rules that a rebuild takes a while.
	for i := range 2000 {
		set(aclRoot.Join(path.P(fmt.Sprintf("bench.other%d.#", i))), "r")
	}
	set(authRoot.Join(path.P("_test.user.joe")), pack.Map{{Key: "_aux", Value: pack.Map{{Key: "acl", Value: "bench"}}}})
	at := path.P("data.key")
	rule := aclRoot.Join(path.P("bench.data.#"))
	const workers = 8
	for round := range 20 {
		p := newPolicy(s.tree, s.log)
		if round%2 == 1 {
			// A snapshot exists; a change makes it stale.
			p.current()
		}
		want := Modes(ModeRead)
		if round%4 >= 2 {
			want = ModeRead | ModeWrite
		}
		set(rule, want.String())
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([]Grant, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[w] = p.Grant(&Session{Method: "_test", User: "joe"}, "get_value", at)
			}()
		}
		close(start)
		wg.Wait()
		for w, g := range got {
			if g.Allow != want {
				t.Fatalf("round %d, worker %d: granted %v (%s), want %v: the rule set before the request", round, w, g.Allow, g.By, want)
			}
		}
	}
}
