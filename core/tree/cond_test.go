package tree

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/core/path"
)

func TestMustExist(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "present", "\x01", Cond{})
	mustSet(t, tr, "deleted", "\x01", Cond{})
	tr.Delete(path.P("deleted"), Cond{})
	mustSet(t, tr, "parent.child", "\x01", Cond{})
	cases := []struct {
		name string
		p    string
		del  bool
		want error
	}{
		{"set present", "present", false, nil},
		{"set missing", "missing", false, ErrNotFound},
		{"set deleted", "deleted", false, ErrNotFound},
		{"set a mere parent", "parent", false, ErrNotFound},
		{"delete missing", "missing", true, ErrNotFound},
		{"delete deleted", "deleted", true, ErrNotFound},
		{"delete present", "present", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tick, tock := tr.Ticks()
			var err error
			if c.del {
				_, err = tr.Delete(path.P(c.p), Cond{MustExist: true})
			} else {
				_, err = tr.Set(path.P(c.p), "\x02", Cond{MustExist: true})
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var ce *ConflictError
			if c.want != nil {
				if !errors.As(err, &ce) || ce.Path != path.P(c.p) {
					t.Fatalf("not a ConflictError with the path: %v", err)
				}
				if tk, tc := tr.Ticks(); tk != tick || tc != tock {
					t.Fatalf("a refused change moved the ticks: %d %d -> %d %d", tick, tock, tk, tc)
				}
			}
		})
	}
	if _, ok := tr.Get(path.P("missing")); ok {
		t.Fatal("a refused set created the entry")
	}
}

// TestCheck: Check sees the entry as the change finds it and what the
// change would store, after the other preconditions; its error refuses
// the change and comes back as it is.
func TestCheck(t *testing.T) {
	tr := New(Config{Node: "a"})
	mustSet(t, tr, "x", "\x01", Cond{})
	mustSet(t, tr, "gone", "\x01", Cond{})
	tr.Delete(path.P("gone"), Cond{})
	refuse := errors.New("refused")
	cases := []struct {
		name   string
		p      string
		del    bool
		cond   Cond
		want   Proposal // Old.Path, Old.HasValue, Old.Value, Old.Head.Tick, Value, HasValue
		called bool
	}{
		{"set existing", "x", false, Cond{}, Proposal{Old: Item{Path: path.P("x"), Value: "\x01", HasValue: true}, Value: "\x05", HasValue: true}, true},
		{"set new", "new", false, Cond{}, Proposal{Old: Item{Path: path.P("new")}, Value: "\x05", HasValue: true}, true},
		{"set over a tombstone", "gone", false, Cond{}, Proposal{Old: Item{Path: path.P("gone")}, Value: "\x05", HasValue: true}, true},
		{"delete existing", "x", true, Cond{}, Proposal{Old: Item{Path: path.P("x"), Value: "\x01", HasValue: true}}, true},
		{"delete never set", "never", true, Cond{}, Proposal{Old: Item{Path: path.P("never")}}, true},
		{"idem, equal", "x", false, Cond{Idem: true}, Proposal{Old: Item{Path: path.P("x"), Value: "\x01", HasValue: true}, Value: "\x01", HasValue: true}, true},
		{"after a failed precondition", "x", false, Cond{MustBeNew: true}, Proposal{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, _ := tr.Get(path.P(c.p))
			tick, tock := tr.Ticks()
			called := false
			c.cond.Check = func(pr Proposal) error {
				called = true
				if pr.Old.Path != c.want.Old.Path || pr.Old.HasValue != c.want.Old.HasValue || pr.Old.Value != c.want.Old.Value ||
					pr.Value != c.want.Value || pr.HasValue != c.want.HasValue {
					t.Errorf("Check got %+v, want %+v", pr, c.want)
				}
				if pr.Old.Head != old.Head || pr.Old.Tock != old.Tock {
					t.Errorf("Check got the chain %v@%d, want %v@%d", pr.Old.Head, pr.Old.Tock, old.Head, old.Tock)
				}
				return refuse
			}
			var err error
			if c.del {
				_, err = tr.Delete(path.P(c.p), c.cond)
			} else {
				_, err = tr.Set(path.P(c.p), c.want.Value, c.cond)
			}
			if called != c.called {
				t.Fatalf("Check called: %v, want %v", called, c.called)
			}
			if c.called && err != refuse {
				t.Fatalf("got %v, want Check's error as it is", err)
			}
			if tk, tc := tr.Ticks(); tk != tick || tc != tock {
				t.Fatalf("a refused change moved the ticks: %d %d -> %d %d", tick, tock, tk, tc)
			}
			if now, _ := tr.Get(path.P(c.p)); now.HasValue != old.HasValue || now.Value != old.Value || now.Head != old.Head || now.Tock != old.Tock {
				t.Fatalf("a refused change changed the entry: %+v -> %+v", old, now)
			}
		})
	}
	if _, ok := tr.Get(path.P("new")); ok {
		t.Fatal("a refused set created the entry")
	}
	// Allowed, the change is made.
	r, err := tr.Set(path.P("x"), "\x02", Cond{Check: func(Proposal) error { return nil }})
	if err != nil || r.Item.Value != "\x02" {
		t.Fatalf("allowed set: %+v %v", r, err)
	}
}

// TestCheckAtomic: many goroutines increment one counter with "set N+1
// if it is N", decided in Check; no increment is lost or doubled.
func TestCheckAtomic(t *testing.T) {
	tr := New(Config{Node: "a"})
	p := path.P("counter")
	mustSet(t, tr, "counter", "0", Cond{})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				it, _ := tr.Get(p)
				var n int
				fmt.Sscan(it.Value, &n)
				next := fmt.Sprint(n + 1)
				_, err := tr.Set(p, next, Cond{Check: func(pr Proposal) error {
					if pr.Old.Value != it.Value {
						return ErrPrev
					}
					return nil
				}})
				switch {
				case err == nil:
					done++
				case !errors.Is(err, ErrPrev):
					t.Errorf("set: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	it, _ := tr.Get(p)
	if want := fmt.Sprint(workers * each); it.Value != want {
		t.Fatalf("counter %s, want %s", it.Value, want)
	}
	if tick, _ := tr.Ticks(); tick != workers*each+1 {
		t.Fatalf("tick %d: refused changes took ticks", tick)
	}
}

// BenchmarkSetCheck is BenchmarkSet with a Check that allows all: the
// cost of building the Proposal and calling it.
func BenchmarkSetCheck(b *testing.B) {
	tr := New(Config{Node: "a"})
	paths := make([]path.Path, 1000)
	for i := range paths {
		paths[i] = path.Must("bench", fmt.Sprintf("key%d", i))
	}
	c := Cond{Check: func(Proposal) error { return nil }}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Set(paths[i%len(paths)], "\xa3abc", c)
	}
}
