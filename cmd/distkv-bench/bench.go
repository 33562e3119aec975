package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"

	"github.com/distkv-go/distkv/core/path"
)

// defaultEntries is N of fill and load when -n is not given.
const defaultEntries = 1_000_000

// bench runs the measurements the flags ask for. Not safe for concurrent use.
type bench struct {
	cli    *CLI
	out    io.Writer
	log    io.Writer // progress notes (with -v)
	dir    string    // scratch directory: servers' working directory, log and save files
	launch launcher  // nil: drive the --host server
	prefix path.Path
	redis  *redisServer

	saved      string // load: the save file, written once
	savedBytes int64
}

// errFailures means some requests failed; the results say which.
var errFailures = errors.New("some requests failed (see the results)")

// run runs every run, prints each result and the median.
func (b *bench) run(ctx context.Context) error {
	var err error
	if b.prefix, err = path.Parse(b.cli.Prefix); err != nil {
		return fmt.Errorf("--prefix: %w", err)
	}
	if b.dir, err = os.MkdirTemp("", "distkv-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	switch {
	case b.cli.Server != "":
		// The server runs in the temporary directory: a relative path
		// would be taken from there.
		bin, err := exec.LookPath(b.cli.Server)
		if err == nil {
			bin, err = filepath.Abs(bin)
		}
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		b.launch = &procLauncher{bin: bin, sets: b.cli.ServerConfig, dir: b.dir, scrape: b.cli.Scrape, log: b.note}
	case b.cli.InProcess:
		if b.launch, err = newInprocLauncher(b.cli.ServerConfig); err != nil {
			return err
		}
	}
	if b.cli.Workload == "login" && b.cli.Auth == "" {
		b.cli.Auth = defaultLogin
	}
	if b.cli.Redis && redisWorkload(b.cli.Workload) {
		if b.redis, err = startRedis(ctx, b.dir); err != nil {
			return err
		}
		defer b.redis.close()
	}
	if b.cli.CPUProfile != "" {
		f, err := os.Create(b.cli.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []Result
	failed := false
	for i := 1; i <= b.cli.Runs; i++ {
		res, err := b.once(ctx, i)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		if b.redis != nil {
			if err := b.compare(ctx, &res); err != nil {
				return fmt.Errorf("run %d: %w", i, err)
			}
		}
		if err := res.print(b.out, b.cli.JSON); err != nil {
			return err
		}
		failed = failed || res.Errors > 0
		results = append(results, res)
	}
	if len(results) > 1 {
		m := median(results)
		if err := m.print(b.out, b.cli.JSON); err != nil {
			return err
		}
	}
	if failed {
		return errFailures
	}
	return nil
}

func redisWorkload(w string) bool { return w == "get" || w == "set" || w == "mixed" }

// runnerWorkload tells the workloads that start runner daemons (and a
// network of servers for them).
func runnerWorkload(w string) bool { return w == "jobdelay" || w == "jobs" }

// clusterWorkload tells the workloads that start a network of servers.
func clusterWorkload(w string) bool { return w == "replicate" || w == "latency" || w == "join" }

// target starts a fresh server, or returns the --host one.
func (b *bench) target(ctx context.Context) (*target, error) {
	if b.launch == nil {
		addr := net.JoinHostPort(b.cli.Host, strconv.Itoa(b.cli.Port))
		return &target{addr: addr, pid: b.cli.PID, close: func() error { return nil }}, nil
	}
	t, took, err := b.launch.start(ctx, startOpts{})
	if err != nil {
		return nil, err
	}
	b.note("server at %s, pid %d, started in %v", t.addr, t.pid, took)
	return t, nil
}

func (b *bench) note(format string, args ...any) {
	if b.log != nil {
		fmt.Fprintf(b.log, "# "+format+"\n", args...)
	}
}

// spec is the driver setup the flags give.
func (b *bench) spec(addr string, run int) loadSpec {
	return loadSpec{
		addr:     addr,
		conns:    b.cli.Conns,
		pipeline: b.cli.Pipeline,
		warmup:   b.cli.Warmup,
		duration: b.cli.Duration,
		requests: b.cli.Requests,
		seed:     uint64(run),
	}
}

func (b *bench) entries() int64 {
	if b.cli.Requests > 0 {
		return b.cli.Requests
	}
	return defaultEntries
}

// fillSpec sets keys 0 … n-1 once each, as fast as it can.
func (b *bench) fillSpec(addr string, n int64, conns, pipeline int) loadSpec {
	set := newTemplate("set_value", b.prefix, true)
	return loadSpec{
		addr: addr, conns: conns, pipeline: pipeline, requests: n,
		plan: plan{set: &set, seqKeys: true},
	}
}

// once does one run of the workload.
func (b *bench) once(ctx context.Context, run int) (_ Result, err error) {
	cli := b.cli
	res := Result{Workload: cli.Workload, Run: run, Runs: cli.Runs, Conns: cli.Conns, Pipeline: cli.Pipeline, Log: cli.Log, ACL: cli.ACL,
		Types: cli.Types, Codec: cli.Codec}
	switch cli.Workload {
	case "memtypes":
		res.Conns, res.Pipeline = 1, 1
		return res, b.memTypes(ctx, &res)
	case "login":
		res.Conns, res.Pipeline = 1, 1
		return res, b.logins(ctx, &res)
	case "load":
		return res, b.load(ctx, &res)
	case "replicate":
		res.Servers = cli.Servers
		return res, b.replicate(ctx, &res, run)
	case "latency":
		res.Servers = cli.Servers
		return res, b.latency(ctx, &res, run)
	case "join":
		res.Servers = cli.Servers
		return res, b.join(ctx, &res, run)
	case "jobdelay":
		res.Conns, res.Pipeline = 1, 1
		return res, b.jobDelay(ctx, &res)
	case "console":
		res.Conns, res.Pipeline = 1, 1
		return res, b.consoleLoad(ctx, &res)
	case "jobs":
		res.Conns, res.Pipeline = 1, 1
		return res, b.jobRate(ctx, &res)
	}
	t, err := b.target(ctx)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := t.close(); err == nil {
			err = cerr // a failed scrape (--scrape) fails the run
		}
	}()
	if cli.Log {
		file := cli.LogFile
		if file == "" {
			file = filepath.Join(b.dir, fmt.Sprintf("changes-%d.log", run))
			defer os.Remove(file)
		}
		if err := startLog(ctx, t.addr, file); err != nil {
			return res, err
		}
		b.note("change log on: %s", file)
	}
	get := newTemplate("get_value", b.prefix, false)
	set := newTemplate("set_value", b.prefix, true)
	spec := b.spec(t.addr, run)
	spec.plan.keys = cli.keys()
	prefill := b.fillSpec(t.addr, int64(cli.keys()), 16, 16)
	switch {
	case cli.Types:
		// Every value a set writes is a percentage, the prefill's too
		// (it is checked as well).
		set = newValueTemplate("set_value", b.prefix, valuePercent)
		prefill.plan.set = &set
		if err := setupTypes(ctx, t.addr, b.prefix); err != nil {
			return res, err
		}
		b.note("types int and int.percent, match %v.# → int.percent", b.prefix)
	case cli.Codec:
		// Root stores floats; the user sets their text, which decode
		// turns into floats.
		fill := newValueTemplate("set_value", b.prefix, valueFloat)
		prefill.plan.set = &fill
		set = newValueTemplate("set_value", b.prefix, valueNumStr)
		if err := setupCodec(ctx, t.addr, b.prefix); err != nil {
			return res, err
		}
	}
	if cli.ACL > 0 || cli.Codec {
		u := benchUser{acl: cli.ACL, modes: aclModes(cli.Workload)}
		if cli.Codec {
			u.codec = codecList
		}
		if err := setupLogins(ctx, t.addr, b.prefix, u); err != nil {
			return res, err
		}
		if cli.Codec {
			if err := waitCodec(ctx, t.addr, b.prefix); err != nil {
				return res, err
			}
		}
		b.note("user %s (ACL of %d rules, convert list %q), logins on (_test)", aclName, cli.ACL, u.codec)
		spec.login, prefill.login = aclName, rootUser
	}
	switch cli.Workload {
	case "get", "mixed":
		// Every key a get can ask for holds a value.
		st, err := newDriver(prefill, newClock()).run(ctx)
		if err != nil {
			return res, err
		}
		if st.errors > 0 {
			return res, fmt.Errorf("filling the keys: %s", st.firstErr)
		}
		spec.plan.get = &get
		if cli.Workload == "mixed" {
			spec.plan.set, spec.plan.ratio = &set, cli.Ratio
		}
	case "set":
		spec.plan.set = &set
	case "watch":
		spec.plan.set, spec.plan.stamp = &set, true
		before := sampleCPU(t.pid)
		ws, ss, err := watchRun(ctx, spec, b.prefix, cli.Watchers)
		if err != nil {
			return res, err
		}
		res.ToolCores, res.ServerCores = cores(before, sampleCPU(t.pid))
		res.setStats(&ws)
		res.Errors += ss.errors
		if res.FirstError == "" {
			res.FirstError = ss.firstErr
		}
		res.Watchers = cli.Watchers
		res.SetsPerSec = ss.rate()
		return res, b.profileHeap(run)
	case "fill":
		spec = b.fillSpec(t.addr, b.entries(), cli.Conns, cli.Pipeline)
	}
	before := sampleCPU(t.pid)
	st, err := newDriver(spec, newClock()).run(ctx)
	if err != nil {
		return res, err
	}
	res.ToolCores, res.ServerCores = cores(before, sampleCPU(t.pid))
	res.setStats(&st)
	if cli.Workload == "fill" && t.pid != 0 {
		mem, err := readMemory(t.pid)
		if err != nil {
			return res, fmt.Errorf("server memory: %w", err)
		}
		res.RSSBytes, res.PeakRSSBytes = mem.RSS, mem.Peak
	}
	return res, b.profileHeap(run)
}

// profileHeap writes the heap profile after the last run, while its
// server still runs (with --in-process, the server's heap is in it).
func (b *bench) profileHeap(run int) error {
	if b.cli.MemProfile == "" || run != b.cli.Runs {
		return nil
	}
	f, err := os.Create(b.cli.MemProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

// load times a fresh server that loads a save file of N entries, which
// the first run writes through a server.
func (b *bench) load(ctx context.Context, res *Result) error {
	if b.saved == "" {
		t, err := b.target(ctx)
		if err != nil {
			return err
		}
		st, err := newDriver(b.fillSpec(t.addr, b.entries(), b.cli.Conns, b.cli.Pipeline), newClock()).run(ctx)
		if err == nil && st.errors > 0 {
			err = fmt.Errorf("filling: %s", st.firstErr)
		}
		file := filepath.Join(b.dir, "bench.save")
		if err == nil {
			err = save(ctx, t.addr, file)
		}
		if cerr := t.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fi, err := os.Stat(file)
		if err != nil {
			return err
		}
		b.saved, b.savedBytes = file, fi.Size()
		b.note("save file of %d entries: %s, %d bytes", b.entries(), file, fi.Size())
	}
	t, took, err := b.launch.start(ctx, startOpts{file: b.saved})
	if err != nil {
		return err
	}
	defer t.close()
	res.Ops = b.entries()
	res.LoadSeconds = took.Seconds()
	res.Seconds = took.Seconds()
	res.FileBytes = b.savedBytes
	// The server must hold what was saved.
	for _, k := range []int64{0, b.entries() - 1} {
		key := b.prefix.Child(path.Str(fmt.Sprintf("%0*d", keyDigits, k)))
		found, err := hasValue(ctx, t.addr, key)
		if err != nil {
			return err
		}
		if !found {
			res.Errors++
			res.FirstError = fmt.Sprintf("the loaded server has no value at %v", key)
		}
	}
	return b.profileHeap(res.Run)
}

// compare runs redis-benchmark with the same connections and pipelining.
func (b *bench) compare(ctx context.Context, res *Result) error {
	n := b.cli.Requests
	if n <= 0 {
		n = max(res.Ops, 100_000)
	}
	rr, err := b.redis.run(ctx, b.cli.Conns, b.cli.Pipeline, n)
	if err != nil {
		return err
	}
	switch {
	case res.Workload == "get" && rr.GetPerSec > 0:
		rr.Ratio = res.PerSec / rr.GetPerSec
	case res.Workload == "set" && rr.SetPerSec > 0:
		rr.Ratio = res.PerSec / rr.SetPerSec
	}
	res.Redis = rr
	return nil
}
