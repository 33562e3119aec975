package latency

import (
	"sync"
	"testing"
	"time"
)

func TestObserveBuckets(t *testing.T) {
	tests := []struct {
		d      time.Duration
		bucket int
	}{
		{-time.Second, 0},
		{0, 0},
		{25 * time.Microsecond, 0}, // a bound is in its own bucket
		{25*time.Microsecond + 1, 1},
		{time.Millisecond, 5},
		{time.Second, len(Bounds) - 1},
		{time.Hour, len(Bounds)},
	}
	for _, tt := range tests {
		var h Histogram
		h.Observe(tt.d)
		s := h.Snapshot()
		for i, n := range s.Counts {
			if want := uint64(0); i == tt.bucket {
				want = 1
				if n != want {
					t.Errorf("Observe(%v): bucket %d has %d, want 1", tt.d, i, n)
				}
			} else if n != 0 {
				t.Errorf("Observe(%v): bucket %d has %d, want 0", tt.d, i, n)
			}
		}
		if s.Count != 1 {
			t.Errorf("Observe(%v): count %d", tt.d, s.Count)
		}
		if want := max(tt.d, 0); s.Sum != want {
			t.Errorf("Observe(%v): sum %v, want %v", tt.d, s.Sum, want)
		}
	}
}

func TestCumulative(t *testing.T) {
	var h Histogram
	h.Observe(10 * time.Microsecond)
	h.Observe(40 * time.Microsecond)
	h.Observe(2 * time.Second)
	s := h.Snapshot()
	c := s.Cumulative()
	if c[0] != 1 || c[1] != 2 || c[len(c)-1] != 2 {
		t.Errorf("cumulative %v", c)
	}
	if s.Count != 3 || s.Sum != 2*time.Second+50*time.Microsecond {
		t.Errorf("count %d, sum %v", s.Count, s.Sum)
	}
}

func TestConcurrentObserve(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				h.Observe(time.Millisecond)
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 4000 || s.Sum != 4*time.Second {
		t.Errorf("count %d, sum %v", s.Count, s.Sum)
	}
}

// BenchmarkObserve is the cost a request pays: a duration below the
// first bound (most requests), and one in the middle.
func BenchmarkObserve(b *testing.B) {
	var h Histogram
	for _, d := range []time.Duration{10 * time.Microsecond, 3 * time.Millisecond} {
		b.Run(d.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.Observe(d)
			}
		})
	}
}

// BenchmarkSince adds reading the clock twice, as a timed request does;
// BenchmarkSinceTime is the same with the time package's clock.
func BenchmarkSince(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		h.Since(Now())
	}
}

func BenchmarkSinceTime(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		h.Observe(time.Since(time.Now()))
	}
}

func TestSince(t *testing.T) {
	var h Histogram
	m := Now()
	time.Sleep(2 * time.Millisecond)
	h.Since(m)
	if s := h.Snapshot(); s.Count != 1 || s.Sum < 2*time.Millisecond || s.Sum > time.Minute {
		t.Errorf("count %d, sum %v after a 2ms sleep", s.Count, s.Sum)
	}
}

// TestOwnedAndMerge: ObserveOwned counts as Observe does, and Merge and
// Add sum snapshots.
func TestOwnedAndMerge(t *testing.T) {
	var a, b, all Histogram
	for _, d := range []time.Duration{0, 30 * time.Microsecond, time.Millisecond, time.Hour} {
		a.Observe(d)
		b.ObserveOwned(d)
		all.Observe(d)
		all.Observe(d)
	}
	if a.Snapshot() != b.Snapshot() {
		t.Fatalf("ObserveOwned %+v, Observe %+v", b.Snapshot(), a.Snapshot())
	}
	if got := a.Snapshot().Add(b.Snapshot()); got != all.Snapshot() {
		t.Fatalf("Add: %+v, want %+v", got, all.Snapshot())
	}
	a.Merge(b.Snapshot())
	if a.Snapshot() != all.Snapshot() {
		t.Fatalf("Merge: %+v, want %+v", a.Snapshot(), all.Snapshot())
	}
}
