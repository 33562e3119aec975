package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// watcher is one connection watching the subtree the setters write to.
// Every set value carries its send time (stampValue), so a delivery's
// latency is the time from the set request going out to the change
// arriving here.
type watcher struct {
	nc       net.Conn
	closing  atomic.Bool
	received atomic.Int64  // deliveries, warm-up included
	ready    chan struct{} // closed when the watch runs (or failed)
	stats    loadStats     // owned by run until it returns
}

// deliveryWait bounds the wait for the last deliveries after the setters
// are done.
const deliveryWait = 30 * time.Second

// watchRun runs spec (sets with stamped values below prefix) while n
// watchers watch prefix. It returns the watchers' stats (deliveries,
// delivery latency) and the setters'.
func watchRun(ctx context.Context, spec loadSpec, prefix path.Path, n int) (watchers, setters loadStats, err error) {
	clk := newClock()
	d := newDriver(spec, clk)
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = spec.addr
	}
	ws, err := startWatchers(ctx, addrs, prefix, clk, &d.measureStart)
	if err != nil {
		return watchers, setters, err
	}
	defer ws.close() // on early returns; a second call does nothing new
	setters, err = d.run(ctx)
	if err != nil {
		return watchers, setters, err
	}
	// Every successful set is one change, which each watcher must see.
	ws.await(ctx, setters.okTotal, deliveryWait)
	ws.close()
	watchers.start = d.measureStart.Load()
	for i := range ws.ws {
		st := ws.stats(i, setters.okTotal)
		watchers.merge(&st)
	}
	return watchers, setters, nil
}

// watcherSet is watchers on one or more servers. Not safe for concurrent
// use.
type watcherSet struct {
	ws []*watcher
	wg sync.WaitGroup
}

// startWatchers connects a watcher of prefix to each address and returns
// once every watch runs. A delivery's latency counts if its value was
// sent at or after start (on clk).
func startWatchers(ctx context.Context, addrs []string, prefix path.Path, clk clock, start *atomic.Int64) (*watcherSet, error) {
	s := &watcherSet{}
	for _, addr := range addrs {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		w := &watcher{nc: nc, ready: make(chan struct{})}
		s.ws = append(s.ws, w)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); w.run(clk, start, prefix) }()
	}
	for _, w := range s.ws {
		select {
		case <-w.ready:
		case <-time.After(10 * time.Second):
			s.close()
			return nil, fmt.Errorf("a watch did not start within 10s")
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

// await waits until every watcher has received want changes, for at most
// timeout.
func (s *watcherSet) await(ctx context.Context, want int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, w := range s.ws {
			all = all && w.received.Load() >= want
		}
		if all {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// close hangs up and waits for the watchers to end; safe to call twice.
func (s *watcherSet) close() {
	for _, w := range s.ws {
		w.closing.Store(true)
		w.nc.Close()
	}
	s.wg.Wait()
}

// stats returns watcher i's stats, after close, with a failure if it
// received fewer than want changes.
func (s *watcherSet) stats(i int, want int64) loadStats {
	w := s.ws[i]
	st := w.stats
	if got := w.received.Load(); got < want {
		st.fail(fmt.Sprintf("a watcher got %d of %d changes", got, want))
	}
	return st
}

// run sends the watch and counts what arrives until the connection is
// closed.
func (w *watcher) run(clk clock, start *atomic.Int64, prefix path.Path) {
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce()
	st := &w.stats
	m := wire.Begin(nil)
	m.Uint("seq", 1)
	m.Str("action", "watch")
	m.Path("path", prefix)
	m.Bool("fetch", false)
	if _, err := w.nc.Write(m.End()); err != nil {
		st.fail(fmt.Sprintf("watch: %v", err))
		return
	}
	fr := wire.NewFramer(w.nc, 64<<20)
	var r pack.Reader
	var rep reply
	for {
		msg, err := fr.Next()
		if err != nil {
			if !w.closing.Load() {
				st.fail(fmt.Sprintf("watch connection: %v", err))
			}
			return
		}
		if err := scanReply(&r, msg, true, &rep); err != nil {
			st.fail(fmt.Sprintf("bad watch message: %v", err))
			return
		}
		switch {
		case rep.seq != 1:
			continue // the greeting
		case rep.failed:
			st.fail("watch: " + rep.errorText())
			return
		case rep.state != nil:
			readyOnce()
			continue // start
		}
		now := clk.now()
		w.received.Add(1)
		sent, ok := stampOf(rep.value)
		if !ok {
			st.fail("a change without a stamped value")
			continue
		}
		st.okTotal++
		if sent >= start.Load() {
			st.hist.record(now - sent)
			st.ops++
			st.last = now
		}
	}
}
