package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestParseJobLine(t *testing.T) {
	for _, tt := range []struct {
		line string
		want jobLine
		ok   bool
	}{
		{"LAT\t12\t0.0015", jobLine{"LAT", 12, 0.0015}, true},
		{"RUN\t0\t1.7960730169890187e+09", jobLine{"RUN", 0, 1.7960730169890187e+09}, true},
		{"LAT 3 -0.25", jobLine{"LAT", 3, -0.25}, true}, // a runner whose clock is behind
		{"RUN\tRUN\t12\t1.79e+09", jobLine{}, false},    // two lines mixed
		{"LAT\t12", jobLine{}, false},
		{"LAT\tx\t0.1", jobLine{}, false},
		{"LAT\t-1\t0.1", jobLine{}, false},
		{"LAT\t1\tfast", jobLine{}, false},
		{"LAT\t1\tNaN", jobLine{}, false},
		{"RUN\t1\t+Inf", jobLine{}, false},
		{"Forty-Two!", jobLine{}, false},
		{"", jobLine{}, false},
	} {
		got, ok := parseJobLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%q: %+v %v, want %+v %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRankQuantile(t *testing.T) {
	v := make([]float64, 200)
	for i := range v {
		v[i] = float64(i + 1) // 1 … 200
	}
	for _, tt := range []struct {
		q    float64
		want float64
	}{{0.5, 100}, {0.9, 180}, {0.99, 198}, {1, 200}, {0, 1}} {
		if got := rankQuantile(v, tt.q); got != tt.want {
			t.Errorf("q %v of 1…200: %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := rankQuantile(v[:1], 0.99); got != 1 {
		t.Errorf("one value: %v", got)
	}
	if got := rankQuantile(nil, 0.5); got != 0 {
		t.Errorf("none: %v", got)
	}
	// 0.29·100 is 28.999… in floating point: the rank is still 29.
	if got := rankQuantile(v[:100], 0.29); got != 29 {
		t.Errorf("q 0.29 of 1…100: %v, want 29", got)
	}
}

func TestSummarizeDelays(t *testing.T) {
	delays := map[int][]float64{
		0: {0.003},
		1: {0.001},
		2: {0.002, 0.9}, // ran twice: its first run counts
		4: {0.004},
		7: {0.5}, // not one of the jobs asked for
	}
	s := summarizeDelays(delays, 5)
	want := delaySummary{ran: 4, missed: 1, twice: 1, p50: 0.002, p90: 0.004, p99: 0.004, maxv: 0.004, firstMissed: 3, firstTwice: 2}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	s = summarizeDelays(map[int][]float64{}, 3)
	if s.ran != 0 || s.missed != 3 || s.firstMissed != 0 || s.firstTwice != -1 || s.maxv != 0 {
		t.Errorf("none ran: %+v", s)
	}
}

func TestCountWindow(t *testing.T) {
	times := []float64{9.99, 10, 10.5, 11, 11.01}
	if got := countWindow(times, 10, 11); got != 2 {
		t.Errorf("[10, 11): %d, want 2", got)
	}
	if got := countWindow(nil, 10, 11); got != 0 {
		t.Errorf("none: %d", got)
	}
}

// TestJobLog: lines go where their kind says, per runner; others are
// counted, the first kept.
func TestJobLog(t *testing.T) {
	l := newJobLog(2)
	for _, a := range []struct {
		r    int
		line string
	}{
		{0, "LAT\t0\t0.001"}, {1, "LAT\t1\t0.002"}, {1, "LAT\t0\t0.003"},
		{0, "RUN\t5\t100.5"}, {1, "RUN\t6\t101"}, {1, "RUN\t6\t102"},
		{0, "noise"}, {1, "more noise"},
	} {
		l.add(a.r, a.line)
	}
	if l.ran() != 2 || len(l.delays[0]) != 2 || l.lats[0] != 1 || l.lats[1] != 2 {
		t.Errorf("LAT: %v, per runner %v", l.delays, l.lats)
	}
	if len(l.times[0]) != 1 || len(l.times[1]) != 2 || l.times[1][1] != 102 {
		t.Errorf("RUN: %v", l.times)
	}
	if l.other != 2 || l.first != "noise" {
		t.Errorf("other lines: %d, first %q", l.other, l.first)
	}
	select {
	case <-l.changed:
	default:
		t.Error("no signal of a change")
	}
}

func TestRunnerFlags(t *testing.T) {
	cli, exit := parse(strings.Fields("--server x -w jobs"), &bytes.Buffer{}, &bytes.Buffer{})
	if exit >= 0 {
		t.Fatalf("exit %d", exit)
	}
	if cli.Runners != 3 || cli.keys() != defaultRateJobs || cli.Repeat != 0.01 || cli.Spacing.Seconds() != 0.2 {
		t.Errorf("defaults: %+v (keys %d)", cli, cli.keys())
	}
	cli, _ = parse(strings.Fields("--server x -w jobs -k 50 --runners 2 --repeat 0.5"), &bytes.Buffer{}, &bytes.Buffer{})
	if cli.keys() != 50 || cli.Runners != 2 || cli.Repeat != 0.5 {
		t.Errorf("set: %+v", cli)
	}
	for _, args := range []string{
		"-w jobdelay",                         // needs a binary to start
		"--in-process -w jobs",                // likewise: runners are processes
		"--server x -w jobs --runners 0",      // no runners
		"--server x -w jobdelay --spacing 0s", // no spacing
		"--server x -w jobs --repeat -1",      // negative
		"--server x -w jobs --repeat 0",       // one run each
		"--server x -w jobs --log",            // not for runners
	} {
		var stderr bytes.Buffer
		if _, exit := parse(strings.Fields(args), &bytes.Buffer{}, &stderr); exit != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, exit, stderr.String())
		}
	}
}

// TestRunnerPrint: the runner workloads' lines say what was measured.
func TestRunnerPrint(t *testing.T) {
	r := Result{Workload: "jobdelay", Run: 1, Runs: 1, Runners: 3, Servers: 3, Jobs: 200, Ops: 199, Missed: 1, Errors: 1,
		P50us: 1500, P90us: 2500, P99us: 4000, MaxUs: 9000, ToolCores: 0.01, ServerCores: 0.05, RunnerCores: 0.03,
		Nodes:      []NodeResult{{Name: "bench1", Ops: 70, Cores: 0.02, RunnerCores: 0.01}},
		FirstError: "1 of 200 jobs did not run", RunnerWarnings: 2, FirstWarning: "level=WARN msg=x"}
	var b bytes.Buffer
	if err := r.print(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jobdelay 3 runners", "199 of 200 jobs ran (1 missed, 0 ran twice)", "p99 4.000 ms", "max 9.000 ms",
		"runners 0.03", "bench1: ran 70, cpu 0.01, its server's 0.02", "first error: 1 of 200", "2 warnings"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in %q", want, b.String())
		}
	}
	r = Result{Workload: "jobs", Run: 0, Runs: 3, Runners: 3, Servers: 3, Jobs: 200, Repeat: 0.01, Ops: 25000, Seconds: 10, PerSec: 2500,
		ServerCPUPerRunUs: 200, RunnerCPUPerRunUs: 250}
	b.Reset()
	r.print(&b, false)
	if want := "jobs 3 runners  median of 3: 2500 runs/s (25000 in 10.00 s) of 200 jobs repeating after 0.01 s; CPU per run: servers 200 µs, runners 250 µs; 0 runs overlapped one before"; !strings.Contains(b.String(), want) {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	// --one-server: the runners share a server, whose CPU is the first's.
	r.Servers = 1
	r.Nodes = []NodeResult{{Name: "runner1", Ops: 5, Cores: 0.5, RunnerCores: 0.2}, {Name: "runner2", Ops: 6, RunnerCores: 0.3}}
	b.Reset()
	r.print(&b, false)
	for _, want := range []string{"jobs 3 runners on 1 server(s)", "runner1: ran 5, cpu 0.20\n", "runner2: ran 6, cpu 0.30\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in %q", want, b.String())
		}
	}
}

func TestParseMachineStat(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n"
	got, err := parseMachineStat([]byte(stat))
	if want := 161 * clockTick; err != nil || got != want { // all but idle (1000) and iowait (20)
		t.Errorf("got %v %v, want %v", got, err, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5\n", "cpu 1 2 x 4 5\n", "cpu 1 2\n"} {
		if _, err := parseMachineStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := machineCPU(); err != nil {
		t.Log("no /proc/stat here:", err)
	}
}

func TestDoubleRuns(t *testing.T) {
	runs := map[int][]jobRun{
		0: {{10.0, 0}, {10.02, 0}, {10.04, 1}},   // 0.02 apart: fine
		1: {{10.05, 2}, {10.0, 1}, {10.0004, 0}}, // 10.0 and 10.0004 overlap (out of order)
		2: {{11.0, 0}, {11.001, 1}, {11.002, 2}}, // two overlaps
		3: {{12.0, 0}},
	}
	n, first := doubleRuns(runs, 0.01)
	if n != 3 || first == nil || first.job != 1 || first.prev != (jobRun{10.0, 1}) || first.this != (jobRun{10.0004, 0}) {
		t.Errorf("got %d, first %+v", n, first)
	}
	if n, first := doubleRuns(map[int][]jobRun{0: {{1, 0}, {2, 0}}}, 0.01); n != 0 || first != nil {
		t.Errorf("none: %d %+v", n, first)
	}
}

// FuzzParseJobLine: whatever a job prints, the parser neither panics nor
// takes a line that is not LAT or RUN with a job number and a finite
// number.
func FuzzParseJobLine(f *testing.F) {
	for _, s := range []string{"LAT\t12\t0.0015", "RUN\t0\t1.7960730169890187e+09", "RUN\tRUN\t12\t1", "LAT 1 NaN", "Forty-Two!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		jl, ok := parseJobLine(s)
		if !ok {
			return
		}
		f := strings.Fields(s)
		if len(f) != 3 || f[0] != jl.kind || jl.id < 0 || math.IsNaN(jl.v) || math.IsInf(jl.v, 0) {
			t.Fatalf("%q: took %+v", s, jl)
		}
	})
}
