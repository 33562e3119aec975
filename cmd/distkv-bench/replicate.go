package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// convergeWait bounds the wait for every node to hold every write. A
// peer that fell behind its pushes fetches what it missed every second
// (replication's Check interval), which may take long after a big run.
const convergeWait = 5 * time.Minute

// replicate measures replicated writes: C connections × P in flight set
// new keys (each write is a new entry) on the first server for the
// duration (or -n writes), then the tool waits until every other server
// holds every write. The rate is the writes over the time from the first
// write until the last server held the last one.
func (b *bench) replicate(ctx context.Context, res *Result, run int) error {
	cl, err := b.startCluster(ctx, b.cli.Servers)
	if err != nil {
		return err
	}
	defer cl.close()
	first := cl.nodes[0]
	set := newTemplate("set_value", b.prefix, true)
	spec := b.spec(first.addr, run)
	spec.warmup = 0 // from the first write
	spec.plan = plan{set: &set, seqKeys: true}
	clk := newClock()
	before := cl.cpu()
	st, err := newDriver(spec, clk).run(ctx)
	if err != nil {
		return err
	}
	if st.okTotal == 0 {
		return fmt.Errorf("no write succeeded: %s", st.firstErr)
	}
	tick, err := originTick(ctx, first)
	if err != nil {
		return err
	}
	held, err := waitConverged(ctx, clk, cl.nodes[1:], first.name, tick, convergeWait)
	if err != nil {
		return err
	}
	res.Nodes = make([]NodeResult, len(cl.nodes))
	last := st.last
	for i, t := range cl.nodes {
		res.Nodes[i].Name = t.name
		if i > 0 {
			res.Nodes[i].HeldSeconds = time.Duration(held[i-1] - st.start).Seconds()
			last = max(last, held[i-1])
		}
	}
	res.setCores(before, cl.cpu())
	res.setStats(&st) // the writes and their acknowledgements
	res.SetsPerSec = st.rate()
	res.Seconds = time.Duration(last - st.start).Seconds()
	res.PerSec = float64(st.ops) / res.Seconds
	res.ConvergeSeconds = time.Duration(last - st.last).Seconds()
	if err := checkEntries(ctx, cl.nodes, b.prefix, st.ops, res); err != nil {
		return err
	}
	return errors.Join(b.profileHeap(run), cl.close())
}
