package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/runner"
)

// Runner workloads (issue 15): a group of runner daemons (`distkv client
// run all`, one process each) running any-node jobs.
//
// The runners of a group must have distinct node names, else they take
// each other for one runner; an any-node runner takes the name of the
// server it talks to. So the tool starts --runners servers as one network
// (as the cluster workloads do, bench1 … benchR) and one runner on each,
// which then runs as bench1 … benchR. The tool writes the code and the
// jobs to bench1; replication brings them to the others. With --one-server
// the runners all talk to bench1, named runner1 … runnerR (run all
// --name): then every claim is decided by one server.
//
// -w jobdelay: the code prints `LAT ID DELAY`, DELAY being dkv.time()
// minus the job's variable due, in its first instruction. The tool creates
// N one-shot jobs, one every --spacing, each with target = now + jobLead
// and due = that target, and reads the lines from the runners' output.
// With the defaults a job falls due 0.1 s after the creation before it
// and 0.1 s before the next, 0.2 s after the job before it ran: the group
// is idle then but for its heartbeats. Every job must run exactly once.
//
// -w jobs: K jobs that repeat every --repeat seconds print `RUN ID TIME`
// (TIME: dkv.time() at their first instruction). After --warmup the tool
// counts the runs whose TIME falls in the next -d, and the CPU the servers
// and the runners used meanwhile.

// Defaults of -n (jobdelay) and -k (jobs).
const (
	defaultDelayJobs = 200
	defaultRateJobs  = 200
)

// jobLead is how far ahead of its creation a jobdelay job falls due:
// enough for the entry to reach every runner, as the brief asks.
const jobLead = 500 * time.Millisecond

// jobLinger is how long jobdelay waits after the last job ran, for one
// that runs twice; runDeadline bounds the wait for the last one (a job
// whose first runner is gone is taken over within about 6 s).
const (
	jobLinger   = time.Second
	runDeadline = 15 * time.Second
)

// The stored code of the two workloads, below runner.CodeRoot.
var (
	delayCodePath = path.Must("bench", "delay")
	runCodePath   = path.Must("bench", "run")
)

const (
	delayCode = `print("LAT", id, dkv.time() - due)`
	runCode   = `print("RUN", id, dkv.time())`
)

// benchJobs is where the workloads' jobs live: any node, default group.
var benchJobs = runner.Where{Mode: runner.Any}

// jobRel is job i's path below benchJobs' jobs and states.
func jobRel(i int) path.Path { return path.Must("bench", fmt.Sprintf("%06d", i)) }

func jobPath(i int) path.Path { return benchJobs.Jobs().Join(jobRel(i)) }

// jobLine is one line a job printed: LAT ID DELAY or RUN ID TIME.
type jobLine struct {
	kind string  // "LAT" or "RUN"
	id   int     // the job's number
	v    float64 // seconds: the delay, or the time it ran
}

// parseJobLine reads what the workloads' code prints (Lua's print joins
// its arguments with tabs). ok is false for any other line.
func parseJobLine(s string) (jobLine, bool) {
	f := strings.Fields(s)
	if len(f) != 3 || (f[0] != "LAT" && f[0] != "RUN") {
		return jobLine{}, false
	}
	id, err := strconv.Atoi(f[1])
	if err != nil || id < 0 {
		return jobLine{}, false
	}
	v, err := strconv.ParseFloat(f[2], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return jobLine{}, false
	}
	return jobLine{kind: f[0], id: id, v: v}, true
}

// jobLog collects what the runners print. Safe for concurrent use.
type jobLog struct {
	mu      sync.Mutex        // protects the fields below
	delays  map[int][]float64 // LAT: by job, the delays of its runs
	lats    []int64           // LAT: per runner, the lines
	times   [][]float64       // RUN: per runner, the times its jobs ran
	runs    map[int][]jobRun  // RUN: by job
	other   int64             // lines that are neither
	first   string            // the first of them
	changed chan struct{}
}

func newJobLog(runners int) *jobLog {
	return &jobLog{delays: map[int][]float64{}, lats: make([]int64, runners), times: make([][]float64, runners),
		runs: map[int][]jobRun{}, changed: make(chan struct{}, 1)}
}

// add takes a line runner r printed.
func (l *jobLog) add(r int, s string) {
	jl, ok := parseJobLine(s)
	l.mu.Lock()
	switch {
	case !ok:
		l.other++
		if l.first == "" {
			l.first = s
		}
	case jl.kind == "LAT":
		l.delays[jl.id] = append(l.delays[jl.id], jl.v)
		l.lats[r]++
	default:
		l.times[r] = append(l.times[r], jl.v)
		l.runs[jl.id] = append(l.runs[jl.id], jobRun{at: jl.v, runner: r})
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// ran says how many distinct jobdelay jobs ran.
func (l *jobLog) ran() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.delays)
}

// delaySummary is what jobdelay reports.
type delaySummary struct {
	ran, missed, twice  int
	p50, p90, p99, maxv float64 // seconds, over each job's first run
	firstMissed         int     // -1: none
	firstTwice          int     // -1: none
}

// summarizeDelays checks that each of jobs 0 … n-1 ran exactly once and
// returns the percentiles of their delays (of a job that ran more than
// once, the first run's).
func summarizeDelays(delays map[int][]float64, n int) delaySummary {
	s := delaySummary{firstMissed: -1, firstTwice: -1}
	var first []float64
	for id := range n {
		d := delays[id]
		switch {
		case len(d) == 0:
			s.missed++
			if s.firstMissed < 0 {
				s.firstMissed = id
			}
			continue
		case len(d) > 1:
			s.twice++
			if s.firstTwice < 0 {
				s.firstTwice = id
			}
		}
		s.ran++
		first = append(first, d[0])
	}
	slices.Sort(first)
	s.p50, s.p90, s.p99 = rankQuantile(first, 0.50), rankQuantile(first, 0.90), rankQuantile(first, 0.99)
	if len(first) > 0 {
		s.maxv = first[len(first)-1]
	}
	return s
}

// rankQuantile is the nearest-rank quantile q of sorted: the smallest
// value with at least the fraction q of the values at or below it (0:
// none). With 200 values p99 is the second largest.
func rankQuantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999) // ⌈q·n⌉, robust to rounding
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// jobRun is a run of a repeating job: when it started, on which runner.
type jobRun struct {
	at     float64
	runner int
}

// doubleRun is a run that started less than repeat after the one before
// it of the same job: a run starts at least repeat after the previous
// one ended, so the two ran at once (or one twice).
type doubleRun struct {
	job        int
	prev, this jobRun
}

// doubleRuns returns how many runs started too early after the one before
// them, and the first such in job order.
func doubleRuns(runs map[int][]jobRun, repeat float64) (n int, first *doubleRun) {
	ids := slices.Sorted(maps.Keys(runs))
	for _, id := range ids {
		r := slices.Clone(runs[id])
		slices.SortFunc(r, func(a, b jobRun) int { return cmp.Compare(a.at, b.at) })
		for i := 1; i < len(r); i++ {
			if r[i].at-r[i-1].at < repeat {
				n++
				if first == nil {
					first = &doubleRun{id, r[i-1], r[i]}
				}
			}
		}
	}
	return n, first
}

// countWindow counts the times in [from, to).
func countWindow(times []float64, from, to float64) int64 {
	var n int64
	for _, t := range times {
		if t >= from && t < to {
			n++
		}
	}
	return n
}

// runnerProc is a runner daemon the tool started.
type runnerProc struct {
	name   string // its node: its server's
	pid    int
	stderr *tailBuffer
	exited chan struct{}
	stop   func() error // safe to call twice

	mu       sync.Mutex // protects the fields below
	warnings int64      // its log lines at WARN or above
	firstW   string
}

func (p *runnerProc) warned() (int64, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.warnings, p.firstW
}

// runnerReady bounds a runner's start until it logs "runner started".
const runnerReady = 30 * time.Second

// startRunner starts `distkv client run all` against t (as runner number
// idx of n, named name; "": the server's name), hands each line it prints
// to log, and returns once it follows its jobs.
func startRunner(ctx context.Context, bin, dir string, t *target, name string, idx, n int, log *jobLog) (*runnerProc, error) {
	host, port, err := net.SplitHostPort(t.addr)
	if err != nil {
		return nil, err
	}
	// -v: its info lines say when it follows the jobs.
	args := []string{"-c", "/dev/null", "-v", "client", "-h", host, "-p", port, "run", "all", "--nodes", strconv.Itoa(n)}
	if name != "" {
		args = append(args, "--name", name)
	} else {
		name = t.name
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the runner %s: %w", name, err)
	}
	p := &runnerProc{name: name, pid: cmd.Process.Pid, stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.add(idx, sc.Text())
		}
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if !signalled && strings.Contains(line, `msg="runner started"`) {
				signalled = true
				close(ready)
			}
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				p.mu.Lock()
				p.warnings++
				if p.firstW == "" {
					p.firstW = line
				}
				p.mu.Unlock()
			}
		}
	}()
	var waitErr error
	go func() {
		wg.Wait() // the pipes are read to the end before Wait closes them
		waitErr = cmd.Wait()
		close(p.exited)
	}()
	var once sync.Once
	var closeErr error
	p.stop = func() error {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-p.exited
				closeErr = fmt.Errorf("the runner %s did not stop on SIGTERM; killed", name)
			}
		})
		return closeErr
	}
	timer := time.NewTimer(runnerReady)
	defer timer.Stop()
	select {
	case <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the runner %s exited before it ran (%v): %s", name, waitErr, bytes.TrimSpace(p.stderr.Bytes()))
	case <-timer.C:
		p.stop()
		return nil, fmt.Errorf("the runner %s did not start within %v: %s", name, runnerReady, bytes.TrimSpace(p.stderr.Bytes()))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// runnerGroup is a network of servers with a runner on each, and a client
// of the first server. Not safe for concurrent use.
type runnerGroup struct {
	cl      *cluster
	runners []*runnerProc
	c       *client.Client
	log     *jobLog
}

// startGroup starts --runners servers (--one-server: one), stores code at
// codePath, starts a runner on each server (--one-server: --runners on
// the one, each with a name of its own) and returns once every server
// sees every runner's heartbeat.
func (b *bench) startGroup(ctx context.Context, codePath path.Path, code string) (*runnerGroup, error) {
	pl, ok := b.launch.(*procLauncher)
	if !ok {
		return nil, errors.New("the runner workloads start distkv processes: give --server")
	}
	n := b.cli.Runners
	servers := n
	if b.cli.OneServer {
		servers = 1
	}
	cl, err := b.startCluster(ctx, servers)
	if err != nil {
		return nil, err
	}
	g := &runnerGroup{cl: cl, log: newJobLog(n)}
	host, port, err := net.SplitHostPort(cl.nodes[0].addr)
	if err == nil {
		var p int
		p, err = strconv.Atoi(port)
		if err == nil {
			g.c, err = client.Open(ctx, client.Config{Host: host, Port: p})
		}
	}
	if err == nil {
		// As `distkv client code set` stores it.
		_, err = g.c.Set(ctx, runner.CodeRoot.Join(codePath),
			pack.Map{{Key: "code", Value: code}, {Key: "is_async", Value: false}, {Key: "vars", Value: []any{}}})
	}
	for i := 0; i < n && err == nil; i++ {
		t, name := cl.nodes[i%servers], ""
		if b.cli.OneServer {
			name = fmt.Sprintf("runner%d", i+1)
		}
		var p *runnerProc
		if p, err = startRunner(ctx, pl.bin, pl.dir, t, name, i, n, g.log); err == nil {
			g.runners = append(g.runners, p)
			b.note("runner %s on %s, pid %d", p.name, t.name, p.pid)
		}
	}
	if err == nil {
		err = g.waitMembers(ctx)
	}
	if err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

// memberWait bounds the wait for the runners to see each other.
const memberWait = 30 * time.Second

// waitMembers waits until every server holds the heartbeat of every
// runner, then a heartbeat more (runner.Ping), so that each runner has
// taken the others in (the order of the jobs among them depends on it).
func (g *runnerGroup) waitMembers(ctx context.Context) error {
	at := benchJobs.Members()
	conns, err := dialAll(ctx, g.cl.nodes)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	deadline := time.Now().Add(memberWait)
	for i, c := range conns {
		for {
			n, err := c.count(ctx, at)
			if err != nil {
				return err
			}
			if n >= len(g.runners) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s sees %d runners' heartbeats below %v after %v, want %d", g.cl.nodes[i].name, n, at, memberWait, len(g.runners))
			}
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return sleepCtx(ctx, runner.Ping)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// groupCPU is the CPU time used so far by the tool, the servers and the
// runners.
type groupCPU struct {
	servers cpuTimes
	runners []time.Duration
	machine time.Duration // every process's
}

func (g *runnerGroup) cpu() groupCPU {
	c := groupCPU{servers: g.cl.cpu(), runners: make([]time.Duration, len(g.runners))}
	c.machine, _ = machineCPU()
	for i, p := range g.runners {
		c.runners[i], _ = procCPU(p.pid)
	}
	return c
}

// alive returns an error if a runner has exited.
func (g *runnerGroup) alive() error {
	for _, p := range g.runners {
		select {
		case <-p.exited:
			return fmt.Errorf("the runner on %s exited: %s", p.name, bytes.TrimSpace(p.stderr.Bytes()))
		default:
		}
	}
	return nil
}

// close stops the runners, then the servers. Safe to call twice.
func (g *runnerGroup) close() error {
	var errs []error
	for _, p := range g.runners {
		if err := p.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if g.c != nil {
		g.c.Close()
	}
	errs = append(errs, g.cl.close())
	return errors.Join(errs...)
}

// setGroupFigures fills in the CPU figures between a and b, each runner's
// runs (runs[i]: runner i's) and the runners' warnings. Nodes are the
// runners, each with its server's CPU (with --one-server, the first's).
func (g *runnerGroup) setGroupFigures(res *Result, a, b groupCPU, runs []int64) {
	res.Runners = len(g.runners)
	res.Servers = len(g.cl.nodes)
	res.Nodes = make([]NodeResult, len(g.runners))
	for i, p := range g.runners {
		res.Nodes[i].Name = p.name
	}
	res.setCores(a.servers, b.servers)
	wall := b.servers.at.wall.Sub(a.servers.at.wall).Seconds()
	res.RunnerCores = 0
	for i := range g.runners {
		c := 0.0
		if wall > 0 {
			c = (b.runners[i] - a.runners[i]).Seconds() / wall
		}
		res.Nodes[i].RunnerCores = c
		res.RunnerCores += c
		if i < len(runs) {
			res.Nodes[i].Ops = runs[i]
		}
	}
	if wall > 0 {
		res.MachineCores = (b.machine - a.machine).Seconds() / wall
	}
	for _, p := range g.runners {
		n, first := p.warned()
		res.RunnerWarnings += n
		if res.FirstWarning == "" {
			res.FirstWarning = first
		}
	}
}

// jobDelay runs -w jobdelay.
func (b *bench) jobDelay(ctx context.Context, res *Result) error {
	n := int(b.cli.Requests)
	if n <= 0 {
		n = defaultDelayJobs
	}
	g, err := b.startGroup(ctx, delayCodePath, delayCode)
	if err != nil {
		return err
	}
	defer g.close()
	spacing := b.cli.Spacing
	before := g.cpu()
	t0 := time.Now()
	var lastDue time.Time
	dues := make([]float64, n)
	for i := range n {
		if err := sleepCtx(ctx, time.Until(t0.Add(time.Duration(i)*spacing))); err != nil {
			return err
		}
		lastDue = time.Now().Add(jobLead)
		due := float64(lastDue.UnixNano()) / 1e9
		dues[i] = due
		job := runner.Job{Code: delayCodePath, Target: due, Delay: runner.DefaultDelay, Backoff: runner.DefaultBackoff,
			Data: pack.Map{{Key: "id", Value: int64(i)}, {Key: "due", Value: due}}}
		if _, err := g.c.Set(ctx, jobPath(i), job.Value()); err != nil {
			return fmt.Errorf("create job %d: %w", i, err)
		}
		if err := g.alive(); err != nil {
			return err
		}
	}
	// Every job should have run by now but the last few; wait for them.
	deadline := time.NewTimer(time.Until(lastDue.Add(runDeadline)))
	defer deadline.Stop()
wait:
	for g.log.ran() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			break wait
		case <-g.log.changed:
		}
	}
	if err := sleepCtx(ctx, jobLinger); err != nil {
		return err
	}
	after := g.cpu()
	if err := g.alive(); err != nil {
		return err
	}
	g.log.mu.Lock()
	s := summarizeDelays(g.log.delays, n)
	other, firstOther := g.log.other, g.log.first
	runs := slices.Clone(g.log.lats)
	g.log.mu.Unlock()
	g.setGroupFigures(res, before, after, runs)
	res.Jobs = n
	res.Ops = int64(s.ran)
	res.Seconds = after.servers.at.wall.Sub(before.servers.at.wall).Seconds()
	res.P50us, res.P90us, res.P99us, res.MaxUs = s.p50*1e6, s.p90*1e6, s.p99*1e6, s.maxv*1e6
	res.Missed, res.Twice = int64(s.missed), int64(s.twice)
	claims, err := g.claimDelays(ctx, dues)
	if err != nil {
		return err
	}
	res.ClaimP50us, res.ClaimP99us = rankQuantile(claims, 0.50)*1e6, rankQuantile(claims, 0.99)*1e6
	res.Errors = int64(s.missed+s.twice) + other
	switch {
	case s.missed > 0:
		res.FirstError = fmt.Sprintf("%d of %d jobs did not run within %v of their due time, the first %v", s.missed, n, runDeadline, jobPath(s.firstMissed))
	case s.twice > 0:
		res.FirstError = fmt.Sprintf("%d of %d jobs ran more than once, the first %v", s.twice, n, jobPath(s.firstTwice))
	case other > 0:
		res.FirstError = fmt.Sprintf("a runner printed %q", firstOther)
	}
	return nil
}

// claimDelays reads the states of the jobs that ran and returns, sorted,
// how long after its due time each job's runner started to claim it (the
// state's started, which the runner takes just before it writes its
// claim): the part of the delay before the claim's round trip and the
// start of the Lua call.
func (g *runnerGroup) claimDelays(ctx context.Context, dues []float64) ([]float64, error) {
	var d []float64
	for i, due := range dues {
		e, err := g.c.Get(ctx, benchJobs.States("").Join(jobRel(i)))
		if err != nil {
			return nil, fmt.Errorf("read the state of job %d: %w", i, err)
		}
		if !e.HasValue {
			continue
		}
		v, err := e.Value()
		if err != nil {
			return nil, fmt.Errorf("read the state of job %d: %w", i, err)
		}
		if st := runner.ParseState(v); st.Started > 0 {
			d = append(d, st.Started-due)
		}
	}
	slices.Sort(d)
	return d, nil
}

// jobRate runs -w jobs.
func (b *bench) jobRate(ctx context.Context, res *Result) error {
	k := int(b.cli.keys())
	g, err := b.startGroup(ctx, runCodePath, runCode)
	if err != nil {
		return err
	}
	defer g.close()
	now := runner.Now()
	for i := range k {
		job := runner.Job{Code: runCodePath, Target: now, Repeat: b.cli.Repeat, Delay: runner.DefaultDelay, Backoff: runner.DefaultBackoff,
			Data: pack.Map{{Key: "id", Value: int64(i)}}}
		if _, err := g.c.Set(ctx, jobPath(i), job.Value()); err != nil {
			return fmt.Errorf("create job %d: %w", i, err)
		}
	}
	if err := sleepCtx(ctx, b.cli.Warmup); err != nil {
		return err
	}
	before := g.cpu()
	from := runner.Now()
	if err := sleepCtx(ctx, b.cli.Duration); err != nil {
		return err
	}
	after := g.cpu()
	to := runner.Now()
	// Lines of runs inside the window may still be on their way.
	if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	if err := g.alive(); err != nil {
		return err
	}
	g.log.mu.Lock()
	runs := make([]int64, len(g.runners))
	var total int64
	for i, t := range g.log.times {
		runs[i] = countWindow(t, from, to)
		total += runs[i]
	}
	other, firstOther := g.log.other, g.log.first
	twice, first := doubleRuns(g.log.runs, b.cli.Repeat)
	g.log.mu.Unlock()
	g.setGroupFigures(res, before, after, runs)
	res.Jobs, res.Repeat = k, b.cli.Repeat
	res.Twice = int64(twice)
	res.Ops = total
	res.Seconds = to - from
	if res.Seconds > 0 {
		res.PerSec = float64(total) / res.Seconds
	}
	if total > 0 {
		res.ServerCPUPerRunUs = res.ServerCores * res.Seconds / float64(total) * 1e6
		res.RunnerCPUPerRunUs = res.RunnerCores * res.Seconds / float64(total) * 1e6
	}
	res.Errors = other + res.Twice
	switch {
	case first != nil:
		res.FirstError = fmt.Sprintf("%d runs started less than the repeat (%g s) after the job's run before: job %v ran on %s at %.6f and on %s at %.6f",
			twice, b.cli.Repeat, jobPath(first.job), g.runners[first.prev.runner].name, first.prev.at, g.runners[first.this.runner].name, first.this.at)
	case other > 0:
		res.FirstError = fmt.Sprintf("a runner printed %q", firstOther)
	}
	return nil
}
