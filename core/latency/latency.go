// Package latency counts durations into fixed buckets, cheaply enough to
// run on every request: observing one is a comparison per bucket below
// it and two atomic adds, with no lock and no allocation.
//
// The buckets suit a server that answers in microseconds to
// milliseconds (Bounds, 25µs to 1s); what takes longer lands in the
// last, open bucket. A Snapshot is what a metrics endpoint reads out at
// scrape time. Packages of core keep Histograms; none of them knows of
// any monitoring system.
package latency

import (
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// Bounds are the upper bounds of the buckets (a duration equal to a bound
// is in its bucket, as with Prometheus's le). A last bucket holds what is
// above them all.
var Bounds = [...]time.Duration{
	25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond,
	250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// Buckets is the number of buckets: one per bound and one above them.
const Buckets = len(Bounds) + 1

// Histogram counts durations by bucket. The zero value is empty and ready;
// it is safe for concurrent use and must not be copied after first use.
type Histogram struct {
	counts [Buckets]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// Observe counts d (a negative d, from a clock that went back, as 0).
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// ObserveOwned is Observe for a histogram that one goroutine alone
// observes (a connection's own). It skips the atomic read-modify-write,
// whose cost grows when goroutines on several cores count into one
// histogram; readers still see whole counts.
func (h *Histogram) ObserveOwned(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.counts[i].Store(h.counts[i].Load() + 1)
	h.sum.Store(h.sum.Load() + int64(d))
}

// SinceOwned is ObserveOwned of the time since m.
func (h *Histogram) SinceOwned(m Mark) { h.ObserveOwned(time.Duration(nanotime() - int64(m))) }

// Merge adds the counts of s to h (a connection's that ended, to the
// server's).
func (h *Histogram) Merge(s Snapshot) {
	for i, n := range s.Counts {
		if n != 0 {
			h.counts[i].Add(n)
		}
	}
	h.sum.Add(int64(s.Sum))
}

// Add returns the counts of s and o together.
func (s Snapshot) Add(o Snapshot) Snapshot {
	for i := range s.Counts {
		s.Counts[i] += o.Counts[i]
	}
	s.Count += o.Count
	s.Sum += o.Sum
	return s
}

// Mark is a reading of the monotonic clock, for Since.
type Mark int64

// Now reads the monotonic clock. It costs half of time.Now, which reads
// the wall clock too; a request that is timed reads the clock twice, and
// on a server answering in a few hundred nanoseconds that half counts.
func Now() Mark { return Mark(nanotime()) }

// Since observes the time since m.
func (h *Histogram) Since(m Mark) { h.Observe(time.Duration(nanotime() - int64(m))) }

// nanotime is the runtime's monotonic clock, which time.Since reads too;
// the runtime keeps it reachable by linkname for packages like this one.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Snapshot is a Histogram's counts at one moment.
type Snapshot struct {
	Counts [Buckets]uint64 // per bucket (not cumulative); the last is above every bound
	Count  uint64          // all of them
	Sum    time.Duration   // of every duration observed
}

// Snapshot reads h. Observations made meanwhile may be in the counts and
// not yet in the sum, or the other way round: a scrape sees them whole at
// the next.
func (h *Histogram) Snapshot() Snapshot {
	var s Snapshot
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Cumulative returns, per bound, how many durations were at or below it
// (Prometheus's buckets; the count is the +Inf bucket).
func (s Snapshot) Cumulative() [len(Bounds)]uint64 {
	var c [len(Bounds)]uint64
	var n uint64
	for i := range Bounds {
		n += s.Counts[i]
		c[i] = n
	}
	return c
}
