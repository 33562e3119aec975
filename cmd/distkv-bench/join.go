package main

import (
	"context"
	"fmt"
	"os"
)

// join measures how long a new server takes to join a network of
// --servers servers holding N entries: it fills the first server with N
// entries (as fill does), starts the other servers, which join it, and then
// one more; each is timed from its start until it serves ("Running.",
// printed once it has copied the network's data), and the last one is the
// figure. Each must then hold the N entries. (The replicate workload
// measures a network that takes the writes as they come.)
func (b *bench) join(ctx context.Context, res *Result, run int) error {
	cl := &cluster{}
	defer cl.close()
	first, _, err := b.launch.start(ctx, startOpts{name: "bench1", network: true})
	if err != nil {
		return fmt.Errorf("start bench1: %w", err)
	}
	cl.nodes = append(cl.nodes, first)
	n := b.entries()
	st, err := newDriver(b.fillSpec(first.addr, n, b.cli.Conns, b.cli.Pipeline), newClock()).run(ctx)
	if err != nil {
		return err
	}
	if st.errors > 0 {
		return fmt.Errorf("filling: %s", st.firstErr)
	}
	res.SetsPerSec = st.rate()
	b.note("bench1 at %s holds %d entries", first.addr, n)
	res.Nodes = []NodeResult{{Name: first.name}}
	for i := 2; i <= b.cli.Servers+1; i++ {
		name := fmt.Sprintf("bench%d", i)
		t, took, err := b.launch.start(ctx, startOpts{name: name, join: first.gossip, network: true})
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		cl.nodes = append(cl.nodes, t)
		b.note("%s at %s, pid %d, running after %v", t.name, t.addr, t.pid, took)
		res.Nodes = append(res.Nodes, NodeResult{Name: name, JoinSeconds: took.Seconds()})
		res.JoinSeconds = took.Seconds() // the last one's
	}
	joined := cl.nodes[len(cl.nodes)-1]
	res.Ops = n
	res.Seconds = res.JoinSeconds
	res.PerSec = float64(n) / res.JoinSeconds
	if joined.pid != 0 && joined.pid != os.Getpid() {
		mem, err := readMemory(joined.pid)
		if err != nil {
			return fmt.Errorf("%s memory: %w", joined.name, err)
		}
		res.RSSBytes, res.PeakRSSBytes = mem.RSS, mem.Peak
	}
	if err := checkEntries(ctx, cl.nodes[1:], b.prefix, n, res); err != nil {
		return err
	}
	return b.profileHeap(run)
}
