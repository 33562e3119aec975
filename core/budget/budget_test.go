package budget

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// grown reports whether a Grow running in the background has returned,
// waiting a little for it when want is true.
func grown(t *testing.T, done <-chan error, want bool) bool {
	t.Helper()
	if want {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("grow: %v", err)
			}
			return true
		case <-time.After(10 * time.Second):
			return false
		}
	}
	select {
	case err := <-done:
		t.Fatalf("grow returned (%v) while the budget was spent", err)
		return true
	case <-time.After(20 * time.Millisecond):
		return false
	}
}

// growAsync starts a Grow; if it must wait, it returns once the Grow is
// queued, so that the order of waiters is the order of calls.
func growAsync(ctx context.Context, a *Account, n int) <-chan error {
	b := a.b
	b.mu.Lock()
	queued := len(b.waiting)
	b.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- a.Grow(ctx, n) }()
	for {
		b.mu.Lock()
		now := len(b.waiting)
		b.mu.Unlock()
		if now > queued || len(done) > 0 {
			return done
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitsForRelease(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	x, y := b.Account(), b.Account()
	if err := x.Grow(ctx, 60); err != nil {
		t.Fatal(err)
	}
	done := growAsync(ctx, y, 60) // y holds nothing: it waits, x goes on
	grown(t, done, false)
	x.Release()
	if !grown(t, done, true) {
		t.Fatal("grow still waits after the release")
	}
	if got := b.Used(); got != 60 || y.Held() != 60 || x.Held() != 0 {
		t.Fatalf("used %d, held %d and %d", got, x.Held(), y.Held())
	}
}

// Two half-read messages that each need more than is left: one of them
// overdraws, completes and releases, then the other goes on.
func TestNoDeadlockBetweenHolders(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	x, y, z := b.Account(), b.Account(), b.Account()
	x.Grow(ctx, 50)
	y.Grow(ctx, 50)
	if err := x.Grow(ctx, 50); err != nil { // the overdraft
		t.Fatal(err)
	}
	if got := b.Used(); got != 150 {
		t.Fatalf("used %d, want 150", got)
	}
	dy := growAsync(ctx, y, 50) // only one account overdraws at a time
	dz := growAsync(ctx, z, 10) // nor does a new one start beyond the limit
	grown(t, dy, false)
	grown(t, dz, false)
	x.Release()
	if !grown(t, dy, true) {
		t.Fatal("the second holder still waits")
	}
	grown(t, dz, false)
	y.Release()
	if !grown(t, dz, true) {
		t.Fatal("the newcomer still waits")
	}
}

// A message larger than the whole budget is taken while nothing else is
// held.
func TestLargerThanBudget(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	x, y := b.Account(), b.Account()
	if err := x.Grow(ctx, 500); err != nil {
		t.Fatal(err)
	}
	done := growAsync(ctx, y, 300)
	grown(t, done, false)
	x.Release()
	if !grown(t, done, true) {
		t.Fatal("the second large message still waits")
	}
}

// Waiters are served in order: a small request does not overtake a large
// one that came first.
func TestInOrder(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	x, y, z := b.Account(), b.Account(), b.Account()
	x.Grow(ctx, 90)
	dy := growAsync(ctx, y, 50)
	grown(t, dy, false)
	dz := growAsync(ctx, z, 5) // would fit, but y came first
	grown(t, dz, false)
	x.Release()
	grown(t, dy, true)
	grown(t, dz, true)
}

func TestCancel(t *testing.T) {
	b := New(100)
	x, y, z := b.Account(), b.Account(), b.Account()
	x.Grow(context.Background(), 90)
	ctx, cancel := context.WithCancel(context.Background())
	dy := growAsync(ctx, y, 50)
	grown(t, dy, false)
	dz := growAsync(context.Background(), z, 5) // behind y
	grown(t, dz, false)
	cancel()
	if err := <-dy; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled grow: %v", err)
	}
	if !grown(t, dz, true) {
		t.Fatal("the waiter behind a canceled one still waits")
	}
	if y.Held() != 0 || b.Used() != 95 {
		t.Fatalf("held %d, used %d", y.Held(), b.Used())
	}
}

func TestNilBudget(t *testing.T) {
	var b *Budget
	a := b.Account()
	if err := a.Grow(context.Background(), 1<<40); err != nil || a.Held() != 0 || b.Used() != 0 || b.Limit() != 0 {
		t.Fatal("a nil budget limits")
	}
	a.Release()
}

// Many readers, each taking messages in random steps and releasing them
// whole: all finish, and the budget is exceeded by one message at most.
func TestManyReaders(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	const limit, maxMsg, readers, msgs = 1000, 400, 20, 200
	b := New(limit)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i := range readers {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Go(func() {
			a := b.Account()
			for range msgs {
				size := rng.IntN(maxMsg) + 1
				for got := 0; got < size; {
					step := min(rng.IntN(100)+1, size-got)
					if err := a.Grow(ctx, step); err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
						return
					}
					got += step
					if u := b.Used(); u > limit+maxMsg {
						mu.Lock()
						failed = errors.New("the budget was exceeded by more than one message")
						mu.Unlock()
					}
				}
				a.Release()
			}
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still held", b.Used())
	}
}

func TestTakePeak(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	x, y := b.Account(), b.Account()
	x.Grow(ctx, 30)
	y.Grow(ctx, 50)
	x.Release()
	if p := b.TakePeak(); p != 80 {
		t.Fatalf("peak %d, want 80", p)
	}
	if p := b.TakePeak(); p != 50 {
		t.Fatalf("peak after a take %d, want what is held, 50", p)
	}
	y.Release()
	if p := b.TakePeak(); p != 50 {
		t.Fatalf("peak %d, want 50", p)
	}
	if p := b.TakePeak(); p != 0 {
		t.Fatalf("peak %d, want 0", p)
	}
}
