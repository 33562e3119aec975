package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/path"
)

// The cluster workloads start --servers servers as one network: the first
// (bench1) starts it with -i, the others join it through bench1's gossip
// address and copy its data before they serve. Clients write to bench1;
// replication pushes every change to the others (core/replica).
//
// A node holds every write of bench1 up to tick T when get_state says it
// knows bench1's ticks up to T at least ("nodes") and misses none of them
// ("missing"): replication's own bookkeeping, which costs the server a
// map lookup, unlike a scan or a watch. The tool then checks the data too:
// every node must hold as many entries below the prefix as were written
// (enum).

// A server connects to the peers it learns of every second (replication's
// Check interval), so for up to a second after a server joins, the first
// one's changes reach it only when it fetches what it missed, a second
// later. Before measuring, the tool therefore waits until the network has
// settled: until a probe written to the first server reaches every other
// one within probeFast, probeRounds times in a row. The probe is written
// outside the prefix, where no watcher or count sees it.

// cluster is a network of servers the tool started. Not safe for
// concurrent use.
type cluster struct {
	nodes []*target // nodes[0] started the network
}

// startCluster starts n servers as one network.
func (b *bench) startCluster(ctx context.Context, n int) (*cluster, error) {
	c := &cluster{}
	for i := range n {
		o := startOpts{name: fmt.Sprintf("bench%d", i+1), network: true}
		if i > 0 {
			o.join = c.nodes[0].gossip
		}
		t, took, err := b.launch.start(ctx, o)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("start %s: %w", o.name, err)
		}
		b.note("%s at %s (gossip %s), pid %d, running after %v", t.name, t.addr, t.gossip, t.pid, took)
		c.nodes = append(c.nodes, t)
	}
	t0 := time.Now()
	if err := c.settle(ctx); err != nil {
		c.close()
		return nil, err
	}
	b.note("the network settled in %v", time.Since(t0))
	return c, nil
}

const (
	probeFast   = 100 * time.Millisecond // a push, not a fetch a second later
	probeRounds = 3
	settleWait  = time.Minute
)

// probePath is where settle writes.
var probePath = path.Root.Child(path.Str("distkv-bench-probe"))

// settle waits until changes on the first node are pushed to every other
// one at once.
func (c *cluster) settle(ctx context.Context) error {
	if len(c.nodes) < 2 {
		return nil
	}
	conns, err := dialAll(ctx, c.nodes)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	fast := 0
	for n := 0; fast < probeRounds; n++ {
		v := fmt.Sprintf("probe %d", n)
		if err := conns[0].setValue(ctx, probePath, v); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		t0 := time.Now()
		slow := false
		for _, cc := range conns[1:] {
			for {
				got, err := cc.value(ctx, probePath)
				if err != nil {
					return fmt.Errorf("settle: the network did not settle within %v: %w", settleWait, err)
				}
				if string(got) == v {
					break
				}
				if time.Since(t0) > probeFast {
					slow = true
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		if slow {
			fast = 0
			time.Sleep(100 * time.Millisecond)
		} else {
			fast++
		}
	}
	return nil
}

// dialAll opens a control connection to each node, in order.
func dialAll(ctx context.Context, nodes []*target) ([]*ctlConn, error) {
	conns := make([]*ctlConn, 0, len(nodes))
	for _, t := range nodes {
		c, err := dialCtl(ctx, t.addr)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []*ctlConn) {
	for _, c := range conns {
		c.Close()
	}
}

// close stops every server, the last started first. Safe to call twice.
func (c *cluster) close() error {
	var errs []error
	for i := len(c.nodes) - 1; i >= 0; i-- {
		if err := c.nodes[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.nodes[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// cpuTimes is the CPU time used so far by this process and by each node's
// (0 for a node in this process).
type cpuTimes struct {
	at    cpuSample
	nodes []time.Duration
}

func (c *cluster) cpu() cpuTimes {
	ct := cpuTimes{at: sampleCPU(0), nodes: make([]time.Duration, len(c.nodes))}
	for i, t := range c.nodes {
		if t.pid != 0 && t.pid != os.Getpid() {
			ct.nodes[i], _ = procCPU(t.pid)
		}
	}
	return ct
}

// setCores fills in the tool's cores, the servers' together, and each
// node's, between a and b.
func (r *Result) setCores(a, b cpuTimes) {
	wall := b.at.wall.Sub(a.at.wall).Seconds()
	if wall <= 0 {
		return
	}
	r.ToolCores, _ = cores(a.at, b.at)
	r.ServerCores = 0
	for i := range a.nodes {
		c := (b.nodes[i] - a.nodes[i]).Seconds() / wall
		r.ServerCores += c
		if i < len(r.Nodes) {
			r.Nodes[i].Cores = c
		}
	}
}

// originTick is the highest tick of the node at t: its last change.
func originTick(ctx context.Context, t *target) (uint64, error) {
	c, err := dialCtl(ctx, t.addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	nt, err := c.ticksOf(ctx, t.name)
	if err != nil {
		return 0, err
	}
	if nt.top == 0 {
		return 0, fmt.Errorf("%s reports no tick of its own", t.name)
	}
	return nt.top, nil
}

// convergePoll is how often waitConverged asks each node.
const convergePoll = time.Millisecond

// waitConverged polls the nodes until each holds every change of origin
// up to tick, for at most timeout. It returns, per node, the time on clk
// at which the tool saw that it did (at most one poll late).
func waitConverged(ctx context.Context, clk clock, nodes []*target, origin string, tick uint64, timeout time.Duration) ([]int64, error) {
	conns, err := dialAll(ctx, nodes)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make([]int64, len(nodes))
	last := make([]nodeTicks, len(nodes))
	left := len(nodes)
	for {
		for i, c := range conns {
			if done[i] != 0 {
				continue
			}
			nt, err := c.ticksOf(ctx, origin)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return nil, err
			}
			last[i] = nt
			if nt.top >= tick && !nt.missing {
				done[i] = clk.now()
				left--
			}
		}
		if left == 0 {
			return done, nil
		}
		select {
		case <-ctx.Done():
			var behind []string
			for i, t := range nodes {
				if done[i] == 0 {
					behind = append(behind, fmt.Sprintf("%s (knows up to %d, missing some: %v)", t.name, last[i].top, last[i].missing))
				}
			}
			return nil, fmt.Errorf("not every node held %s's changes up to tick %d within %v: %s",
				origin, tick, timeout, strings.Join(behind, "; "))
		case <-time.After(convergePoll):
		}
	}
}

// checkEntries checks that every node holds want entries below prefix; it
// counts a mismatch as an error of res.
func checkEntries(ctx context.Context, nodes []*target, prefix path.Path, want int64, res *Result) error {
	for _, t := range nodes {
		c, err := dialCtl(ctx, t.addr)
		if err != nil {
			return err
		}
		n, err := c.count(ctx, prefix)
		c.Close()
		if err != nil {
			return err
		}
		if int64(n) != want {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = fmt.Sprintf("%s holds %d entries below %v, want %d", t.name, n, prefix, want)
			}
		}
	}
	return nil
}
