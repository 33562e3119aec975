package main

import (
	"bufio"
	"context"
	"flag"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/runner"
)

var runnerChurn = flag.Duration("runner.churn", 30*time.Second, "TestRunnerChurn: how long runners are killed and restarted")

// runnerProc is a runner daemon process of a test, and what its jobs
// printed with the time each line arrived.
type runnerProc struct {
	name string // its node
	kind string // of jobs: any, all, single
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	up   time.Time   // when it started
	ends atomic.Bool // the test ends it: an exit is no fault

	mu     sync.Mutex
	stderr strings.Builder
}

type runLine struct {
	at         time.Time
	kind, node string
}

// TestRunnerChurn: three servers, a runner daemon of each kind on each
// (the one-node kind for one node), a job of each kind repeated every 2
// seconds, while runners are killed (SIGKILL or SIGTERM) and restarted.
// While all runners of the group are up and know each other, the any-node
// job never runs twice in a period; its longest pause stays within the
// take-over time the runner package documents; every node runs the
// every-node job in each of its periods while it is up; the one-node job
// runs only on its node.
func TestRunnerChurn(t *testing.T) {
	bin := buildBinary(t)
	nodes := []*node{{name: "one"}, {name: "two"}, {name: "three"}}
	for _, n := range nodes {
		n.port, n.gsp = freePort(t), freePort(t)
	}
	join := "127.0.0.1:" + strconv.Itoa(nodes[0].gsp)
	nodes[0].proc = startServerProc(t, bin, nodes[0].port, nodes[0].args("server", "-i", "churn", "one")...)
	for _, n := range nodes[1:] {
		n.proc = startServerProc(t, bin, n.port, n.args("server", "--join", join, n.name)...)
	}
	for _, n := range nodes {
		n.connect(t)
	}
	ctx := context.Background()
	cl := nodes[0].cl
	const repeat = 2.0
	if _, err := cl.Set(ctx, runner.CodeRoot.Join(path.P("tick")), map[string]any{"code": `print("RUN " .. kind .. " " .. dkv.node()) dkv.sleep(0.5)`}); err != nil {
		t.Fatal(err)
	}
	for _, j := range []struct {
		w    runner.Where
		kind string
	}{{runner.Where{Mode: runner.Any}, "any"}, {runner.Where{Mode: runner.All}, "all"}, {runner.Where{Mode: runner.Single, Node: "two"}, "single"}} {
		job := runner.Job{Code: path.P("tick"), Target: runner.Now(), Repeat: repeat, Delay: 1, Backoff: 1,
			Data: pack.Map{{Key: "kind", Value: j.kind}}}
		if _, err := cl.Set(ctx, j.w.Jobs().Child(path.Str(j.kind+"job")), job.Value()); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var lines []runLine
	start := func(r *runnerProc) {
		r.cmd = exec.Command(bin, r.args...)
		out, _ := r.cmd.StdoutPipe()
		r.cmd.Stderr = syncWriter{&r.stderr, &r.mu}
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.up, r.done = time.Now(), make(chan struct{})
		r.ends.Store(false)
		go func() {
			defer close(r.done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 3 && f[0] == "RUN" {
					mu.Lock()
					lines = append(lines, runLine{time.Now(), f[1], f[2]})
					mu.Unlock()
				}
			}
			if err := r.cmd.Wait(); !r.ends.Load() {
				r.mu.Lock()
				t.Errorf("runner %s %s exited by itself (%v):\n%s", r.name, r.kind, err, tail(r.stderr.String(), 20))
				r.mu.Unlock()
			}
		}()
	}
	var all []*runnerProc
	for _, n := range nodes {
		base := []string{"-c", "/dev/null", "-v", "client", "-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "run"}
		all = append(all, &runnerProc{name: n.name, kind: "any", args: append(slices.Clone(base), "all")},
			&runnerProc{name: n.name, kind: "all", args: append(slices.Clone(base), "-n", "-", "all")})
		if n.name == "two" {
			all = append(all, &runnerProc{name: n.name, kind: "single", args: append(slices.Clone(base), "-n", "two", "all")})
		}
	}
	for _, r := range all {
		start(r)
	}
	t.Cleanup(func() {
		for _, r := range all {
			r.ends.Store(true)
			r.cmd.Process.Kill()
			<-r.done
		}
	})

	// Churn: every few seconds one node's any-node and every-node runners
	// go (killed or stopped) and come back a little later.
	type outage struct {
		node       string
		from, till time.Time
	}
	var outages []outage
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	begin := time.Now()
	anyCount := func() (int, string) {
		mu.Lock()
		defer mu.Unlock()
		n, last := 0, ""
		for _, l := range lines {
			if l.kind == "any" {
				n, last = n+1, l.node
			}
		}
		return n, last
	}
	for round := 0; time.Since(begin) < *runnerChurn; round++ {
		time.Sleep(time.Duration(3000+rng.IntN(2000)) * time.Millisecond)
		n := nodes[rng.IntN(len(nodes))].name
		sig := []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM}[rng.IntN(2)]
		away := time.Duration(500+rng.IntN(4000)) * time.Millisecond
		if round%2 == 1 {
			// Kill the runner of the any-node job while the job runs (it
			// sleeps half a second after it prints) and keep it away past
			// runner.Gone: another runner must take the job over.
			before, _ := anyCount()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if c, last := anyCount(); c > before {
					n = last
					break
				}
			}
			sig, away = syscall.SIGKILL, runner.Gone+time.Duration(1000+rng.IntN(2000))*time.Millisecond
		}
		from := time.Now()
		var victims []*runnerProc
		for _, r := range all {
			if r.name == n && r.kind != "single" {
				victims = append(victims, r)
			}
		}
		for _, r := range victims {
			r.ends.Store(true)
			r.cmd.Process.Signal(sig)
			<-r.done
		}
		time.Sleep(away)
		for _, r := range victims {
			start(r)
		}
		outages = append(outages, outage{n, from, time.Now()})
		t.Logf("%v: %s's runners %v, back after %v", from.Sub(begin).Round(time.Millisecond), n, sig, time.Since(from).Round(time.Millisecond))
	}
	time.Sleep(3 * time.Second)
	end := time.Now()

	mu.Lock()
	got := slices.Clone(lines)
	mu.Unlock()
	// whole says whether every any-node runner was up, and had been for
	// longer than runner.Gone (so that all knew each other), at t.
	whole := func(t time.Time) bool {
		for _, o := range outages {
			if !t.Before(o.from) && t.Before(o.till.Add(runner.Gone+time.Second)) {
				return false
			}
		}
		return t.After(begin.Add(runner.Gone))
	}
	var anyRuns []runLine
	perNode := map[string][]time.Time{}
	for _, l := range got {
		switch l.kind {
		case "any":
			anyRuns = append(anyRuns, l)
		case "all":
			perNode[l.node] = append(perNode[l.node], l.at)
		case "single":
			if l.node != "two" {
				t.Errorf("the job of node two ran on %s", l.node)
			}
		}
	}
	if len(anyRuns) < int((*runnerChurn).Seconds()/repeat/2) {
		t.Fatalf("the any-node job ran %d times in %v", len(anyRuns), end.Sub(begin))
	}
	// Take-over: runner.Gone, half a second per rank, the repeat, and
	// slack for a loaded machine.
	maxGap := time.Duration(repeat*float64(time.Second)) + runner.Gone + 2*time.Second + 4*time.Second
	var longest time.Duration
	for i := 1; i < len(anyRuns); i++ {
		a, b := anyRuns[i-1], anyRuns[i]
		gap := b.at.Sub(a.at)
		longest = max(longest, gap)
		if gap < time.Duration(repeat*float64(time.Second)/2) && whole(a.at) && whole(b.at) {
			t.Errorf("the any-node job ran twice in one period while the group was whole: %s at %v, %s at %v",
				a.node, a.at.Sub(begin), b.node, b.at.Sub(begin))
		}
		if gap > maxGap {
			t.Errorf("the any-node job paused %v (from %v on %s), more than %v", gap, a.at.Sub(begin), a.node, maxGap)
		}
	}
	// A node's runner that was killed while the every-node job ran runs it
	// again when it comes back (the run was cut off): not a double run.
	restarted := func(node string, a, b time.Time) bool {
		for _, o := range outages {
			if o.node == node && o.from.Before(b) && o.till.After(a) {
				return true
			}
		}
		return false
	}
	for node, times := range perNode {
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < time.Duration(repeat*float64(time.Second)/2) && !restarted(node, times[i-1], times[i]) {
				t.Errorf("the every-node job ran twice in a period on %s at %v", node, times[i].Sub(begin))
			}
		}
	}
	if len(perNode) != 3 {
		t.Errorf("the every-node job ran on %d nodes", len(perNode))
	}
	t.Logf("any-node job: %d runs, longest pause %v; every-node job: %v runs per node; %d outages",
		len(anyRuns), longest.Round(time.Millisecond), func() map[string]int {
			m := map[string]int{}
			for n, ts := range perNode {
				m[n] = len(ts)
			}
			return m
		}(), len(outages))
	if t.Failed() {
		for _, r := range all {
			r.mu.Lock()
			t.Logf("runner %s %s:\n%s", r.name, r.kind, tail(r.stderr.String(), 30))
			r.mu.Unlock()
		}
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
