package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/wire"
)

// latency measures propagation: one connection writes to the first server
// at a fixed rate, each value stamped with its send time, while a watcher
// on every other server reads the changes; a change's latency is from the
// write going out to that watcher reading it (one clock, this process's).
// The writes' acknowledgement latency is measured too (with -S
// server.ack=peer, that of ack peer).
func (b *bench) latency(ctx context.Context, res *Result, run int) error {
	cl, err := b.startCluster(ctx, b.cli.Servers)
	if err != nil {
		return err
	}
	defer cl.close()
	first, others := cl.nodes[0], cl.nodes[1:]
	rate := b.cli.Rate
	warm := int64(math.Round(b.cli.Warmup.Seconds() * rate))
	measured := b.cli.Requests
	if measured == 0 {
		measured = max(int64(math.Round(b.cli.Duration.Seconds()*rate)), 1)
	}
	clk := newClock()
	var start atomic.Int64
	start.Store(math.MaxInt64)
	addrs := make([]string, len(others))
	for i, t := range others {
		addrs[i] = t.addr
	}
	ws, err := startWatchers(ctx, addrs, b.prefix, clk, &start)
	if err != nil {
		return err
	}
	defer ws.close()
	set := newTemplate("set_value", b.prefix, true)
	before := cl.cpu()
	st, err := pacedRun(ctx, first.addr, &set, rate, warm, warm+measured, clk, &start)
	if err != nil {
		return err
	}
	// Every acknowledged write is one change, which each watcher must see.
	ws.await(ctx, st.okTotal, deliveryWait)
	res.Nodes = make([]NodeResult, len(cl.nodes))
	res.Nodes[0].Name = first.name
	res.setCores(before, cl.cpu())
	ws.close()

	var all loadStats
	for i, t := range others {
		ns := ws.stats(i, st.okTotal)
		res.Nodes[i+1] = NodeResult{Name: t.name, Ops: ns.ops, Cores: res.Nodes[i+1].Cores}
		res.Nodes[i+1].P50us, res.Nodes[i+1].P99us, res.Nodes[i+1].P999us = percentiles(&ns.hist)
		all.merge(&ns)
	}
	res.Conns, res.Pipeline = 1, 1
	res.Rate = rate
	res.setStats(&st) // the writes: count, rate, errors
	res.AckP50us, res.AckP99us, res.AckP999us = percentiles(&st.hist)
	res.setLatency(&all.hist)
	res.Errors += all.errors
	if res.FirstError == "" {
		res.FirstError = all.firstErr
	}
	return b.profileHeap(run)
}

// pacedRun sends total sets of new keys over one connection, write i at
// i/rate seconds after the first (at once when late), each value stamped
// with its send time. Writes from index warm on are measured: start is set
// to the send time of the first of them. The stats are the
// acknowledgements'; an error means the run could not start.
func pacedRun(ctx context.Context, addr string, set *template, rate float64, warm, total int64, clk clock, start *atomic.Int64) (loadStats, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return loadStats{}, fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer nc.Close()
	sent := make([]atomic.Int64, total) // send times, by seq-1; negative: not measured
	var st, wst loadStats               // the reader's, the writer's
	got := make(chan struct{})          // closed when every reply came or the reader failed
	var wg sync.WaitGroup
	var closing atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(got)
		n := int64(0)
		readReplies(wire.NewFramer(nc, maxReply), &closing, &st, func(rep *reply, _ bool) bool {
			if rep.seq > uint64(total) {
				st.fail(fmt.Sprintf("a reply with unknown seq %d", rep.seq))
				return true
			}
			n++
			st.reply(rep, clk.now(), sent[rep.seq-1].Load())
			return n < total
		})
	}()

	interval := float64(time.Second) / rate
	buf := make([]byte, 0, len(set.b))
	t0 := clk.now()
	for i := int64(0); i < total && ctx.Err() == nil; i++ {
		if d := t0 + int64(float64(i)*interval) - clk.now(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		now := clk.now()
		if i == warm {
			start.Store(now)
		}
		buf = set.appendTo(buf[:0], uint64(i+1), uint64(i))
		stampValue(buf[set.valOff:set.valOff+valueLen], now, uint64(i))
		if i >= warm {
			sent[i].Store(now)
		} else {
			sent[i].Store(-now - 1)
		}
		if _, err := nc.Write(buf); err != nil {
			wst.fail(fmt.Sprintf("write: %v", err))
			break
		}
	}
	select {
	case <-got:
	case <-ctx.Done():
	case <-time.After(replyTimeout):
		wst.fail(fmt.Sprintf("replies did not come within %v", replyTimeout))
	}
	closing.Store(true)
	nc.Close()
	wg.Wait()
	st.start = start.Load()
	st.merge(&wst)
	return st, nil
}
