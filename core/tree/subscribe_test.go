package tree

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/path"
)

// next returns the next change of s, failing the test if there is none
// within a deadline.
func next(t *testing.T, s *Subscription) Item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return it
}

func TestSubscribe(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "s.old", "\x01", Cond{})
	s := tr.Subscribe(path.P("s"), 10)
	defer s.Close()
	if s.Before() != tr.Tock()+1 {
		t.Fatalf("Before %d, tock %d", s.Before(), tr.Tock())
	}
	mustSet(t, tr, "s.a", "\x01", Cond{})
	mustSet(t, tr, "other", "\x01", Cond{})
	mustSet(t, tr, "s", "\x02", Cond{})
	tr.Delete(path.P("s.a"), Cond{})
	tr.Apply(Update{Path: path.P("s.b"), Value: []byte("\x03"), HasValue: true, Chain: []Link{{Node: "b", Tick: 1}}, Tock: 50})
	var got []string
	for range 4 {
		it := next(t, s)
		got = append(got, fmt.Sprintf("%v=%q/%v@%d", it.Path, it.Value, it.HasValue, it.Tock))
	}
	want := []string{`s.a="\x01"/true@2`, `s="\x02"/true@4`, `s.a=""/false@5`, `s.b="\x03"/true@50`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, ok, err := s.TryNext(); ok || err != nil {
		t.Fatalf("TryNext on an empty queue: %v %v", ok, err)
	}
	// A walk up to Before gives the state the changes follow.
	if got := collect(tr, path.P("s"), WalkOptions{MaxDepth: -1, Which: Chained, Before: s.Before()}); fmt.Sprint(got) != "[s.old]" {
		t.Fatalf("walk before: %v", got)
	}
}

// TestSubscribeOverflow: the writer never waits for a full queue; the
// subscription overflows, drops what waits, and says so until closed.
func TestSubscribeOverflow(t *testing.T) {
	for _, limit := range []int{1, 3, 16, 40} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			tr := New(Config{Node: "a"})
			s := tr.Subscribe(path.Root, limit)
			defer s.Close()
			// Fill it, and more, twice over: the room grows as it fills.
			for round := range 2 {
				for i := range limit {
					mustSet(t, tr, fmt.Sprintf("k%d", i), "\x01", Cond{})
				}
				for i := range limit {
					if it := next(t, s); it.Path != path.Must(fmt.Sprintf("k%d", i)) {
						t.Fatalf("round %d: change %d is %v", round, i, it.Path)
					}
				}
			}
			for i := range limit + 5 { // the writer does not wait
				mustSet(t, tr, fmt.Sprintf("k%d", i), "\x02", Cond{})
			}
			for range 2 {
				if _, err := s.Next(context.Background()); !errors.Is(err, ErrOverflow) {
					t.Fatalf("after overflowing: %v", err)
				}
			}
			s.Close()
			if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
				t.Fatalf("after closing: %v", err)
			}
		})
	}
}

// TestSubscribeQueue checks the queue against a slice, with changes
// and takes interleaved at random so that the ring wraps while it
// grows: the order is kept, and it overflows exactly when one change
// more than the limit would wait.
func TestSubscribeQueue(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	for round := range 50 {
		limit := 1 + rng.IntN(100)
		tr := New(Config{Node: "a"})
		s := tr.Subscribe(path.Root, limit)
		var model []path.Path
		for i := 0; ; i++ {
			if rng.IntN(5) < 3 {
				p := path.Must(i)
				mustSet(t, tr, p.String(), "\x01", Cond{})
				model = append(model, p)
			} else {
				it, ok, err := s.TryNext()
				if len(model) > limit {
					if !errors.Is(err, ErrOverflow) {
						t.Fatalf("round %d: %d waiting, limit %d, yet %v", round, len(model), limit, err)
					}
					break
				}
				if err != nil || ok != (len(model) > 0) {
					t.Fatalf("round %d: TryNext %v %v with %d waiting", round, ok, err, len(model))
				}
				if ok {
					if it.Path != model[0] {
						t.Fatalf("round %d: got %v, want %v", round, it.Path, model[0])
					}
					model = model[1:]
				}
			}
		}
		s.Close()
	}
}

// TestSubscribeClose: Close stops delivery, wakes the calls waiting, and
// leaves no goroutine behind; closing twice is fine.
func TestSubscribeClose(t *testing.T) {
	tr := New(Config{Node: "a"})
	before := runtime.NumGoroutine()
	s := tr.Subscribe(path.Root, 5)
	mustSet(t, tr, "waiting", "\x01", Cond{})
	errs := make(chan error)
	for range 3 {
		go func() {
			_, err := s.Next(context.Background())
			for err == nil {
				_, err = s.Next(context.Background())
			}
			errs <- err
		}()
	}
	s.Close()
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("a waiting Next returned %v", err)
		}
	}
	mustSet(t, tr, "later", "\x01", Cond{})
	if _, ok, err := s.TryNext(); ok || !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v %v", ok, err)
	}
	s.Close()
	if tr.watches.n != 0 {
		t.Fatalf("%d watches left", tr.watches.n)
	}
	// A Next that ends with its context leaves nothing either.
	s = tr.Subscribe(path.Root, 5)
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", err)
	}
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubscribeConcurrent: writers and readers at once (run with -race);
// every change arrives exactly once, and each writer's in its order.
func TestSubscribeConcurrent(t *testing.T) {
	tr := New(Config{Node: "a"})
	const writers, each, readers = 4, 500, 3
	s := tr.Subscribe(path.Root, writers*each)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			last := map[int]int{} // writer -> last number this reader saw
			for {
				it, err := s.Next(ctx)
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("next: %v", err)
					}
					return
				}
				var w, i int
				fmt.Sscanf(it.Path.String(), "w%d.k%d", &w, &i)
				if n, ok := last[w]; ok && i <= n {
					t.Errorf("writer %d: %d after %d", w, i, n)
				}
				last[w] = i
				mu.Lock()
				seen[it.Path.String()]++
				done := len(seen) == writers*each
				mu.Unlock()
				if done {
					s.Close()
				}
			}
		})
	}
	var ww sync.WaitGroup
	for w := range writers {
		ww.Go(func() {
			for i := range each {
				mustSet(t, tr, fmt.Sprintf("w%d.k%d", w, i), "\x01", Cond{})
			}
		})
	}
	ww.Wait()
	wg.Wait()
	if len(seen) != writers*each {
		t.Fatalf("%d changes seen, want %d", len(seen), writers*each)
	}
	for p, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", p, n)
		}
	}
}

// TestFollow: Follow rebuilds at once, after each wanted change (changes
// waiting together make one rebuild), not for others, and stops.
func TestFollow(t *testing.T) {
	tr := New(Config{Node: "a"})
	var n atomic.Int64
	stop := tr.Follow(path.P("s"), func(p path.Path) bool { return !p.HasPrefix(path.P("s.skip")) }, func() { n.Add(1) })
	if n.Load() != 1 {
		t.Fatalf("%d rebuilds at the start, want 1", n.Load())
	}
	mustSet(t, tr, "s.skip.x", "\x01", Cond{})
	mustSet(t, tr, "s.x", "\x01", Cond{})
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no rebuild after a wanted change")
		}
		time.Sleep(time.Millisecond)
	}
	// Many changes at once, more than the queue holds: Follow subscribes
	// again and rebuilds; the last state is seen.
	for i := range 3000 {
		mustSet(t, tr, fmt.Sprintf("s.y%d", i), "\x01", Cond{})
	}
	before := n.Load()
	mustSet(t, tr, "s.last", "\x01", Cond{})
	for n.Load() <= before {
		if time.Now().After(deadline) {
			t.Fatal("no rebuild after the burst")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	stop()
	after := n.Load()
	mustSet(t, tr, "s.z", "\x01", Cond{})
	time.Sleep(10 * time.Millisecond)
	if n.Load() != after {
		t.Fatal("a rebuild after stop")
	}
}
