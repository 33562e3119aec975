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
	ws := make([]*watcher, 0, n)
	var wg sync.WaitGroup
	hangUp := func() {
		for _, w := range ws {
			w.closing.Store(true)
			w.nc.Close()
		}
		wg.Wait()
	}
	defer hangUp() // on early returns; a second call does nothing new
	for range n {
		nc, err := net.DialTimeout("tcp", spec.addr, 5*time.Second)
		if err != nil {
			return watchers, setters, fmt.Errorf("connect to %s: %w", spec.addr, err)
		}
		w := &watcher{nc: nc, ready: make(chan struct{})}
		ws = append(ws, w)
		wg.Add(1)
		go func() { defer wg.Done(); w.run(d, prefix) }()
	}
	for _, w := range ws {
		select {
		case <-w.ready:
		case <-time.After(10 * time.Second):
			return watchers, setters, fmt.Errorf("a watch did not start within 10s")
		case <-ctx.Done():
			return watchers, setters, ctx.Err()
		}
	}
	setters, err = d.run(ctx)
	if err != nil {
		return watchers, setters, err
	}
	// Every successful set is one change, which each watcher must see.
	want := setters.okTotal
	deadline := time.Now().Add(deliveryWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, w := range ws {
			all = all && w.received.Load() >= want
		}
		if all {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	hangUp()
	watchers.start = d.measureStart.Load()
	for _, w := range ws {
		watchers.merge(&w.stats)
		if got := w.received.Load(); got < want {
			watchers.fail(fmt.Sprintf("a watcher got %d of %d changes", got, want))
		}
	}
	return watchers, setters, nil
}

// run sends the watch and counts what arrives until the connection is
// closed.
func (w *watcher) run(d *driver, prefix path.Path) {
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
		now := d.clk.now()
		w.received.Add(1)
		sent, ok := stampOf(rep.value)
		if !ok {
			st.fail("a change without a stamped value")
			continue
		}
		st.okTotal++
		if sent >= d.measureStart.Load() {
			st.hist.record(now - sent)
			st.ops++
			st.last = now
		}
	}
}
