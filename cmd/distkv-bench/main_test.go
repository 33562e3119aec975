package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cli, exit := parse(nil, &bytes.Buffer{}, &bytes.Buffer{})
	if exit >= 0 {
		t.Fatalf("defaults: exit %d", exit)
	}
	if cli.Workload != "get" || cli.Conns != 16 || cli.Pipeline != 1 || cli.Duration != 10*time.Second ||
		cli.Warmup != time.Second || cli.keys() != 100000 || cli.Runs != 1 || cli.Port != 27586 || cli.Host != "127.0.0.1" ||
		cli.Servers != 3 || cli.Rate != 1000 {
		t.Errorf("defaults: %+v", cli)
	}

	cli, exit = parse(strings.Fields("--server ./distkv -w set -c 8 -P 16 -n 5000 -k 10 --runs 3 --redis --json -S server.log.sync=always -S server.log.interval=10ms --log -W 2 --ratio 0.25 --warmup 0s --servers 4 --rate 500"),
		&bytes.Buffer{}, &bytes.Buffer{})
	if exit >= 0 {
		t.Fatalf("exit %d", exit)
	}
	want := CLI{Host: "127.0.0.1", Port: 27586, Server: "./distkv", Workload: "set", Conns: 8, Pipeline: 16, Requests: 5000,
		Keys: 10, Runs: 3, Redis: true, JSON: true, ServerConfig: []string{"server.log.sync=always", "server.log.interval=10ms"},
		Log: true, Watchers: 2, Ratio: 0.25, Duration: 10 * time.Second, Prefix: "bench", Servers: 4, Rate: 500,
		Runners: 3, Spacing: 200 * time.Millisecond, Repeat: 0.01}
	if got := *cli; !equalCLI(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, args := range []string{
		"-w nosuch",
		"-c 0",
		"-P 0",
		"--ratio 1.5",
		"-d 0s",
		"-w load",                       // needs a server to start
		"--server x --in-process",       // one or the other
		"--log",                         // with --host: needs --log-file
		"--server x --pid 5",            // pid is for --host
		"-w watch -W 0",                 // no watchers
		"--no-such-flag",                // unknown
		"-n -5",                         // negative
		"--in-process --runs 0 -w fill", // no runs
		"-w replicate",                  // needs servers to start
		"--in-process -w latency --servers 1",
		"--in-process -w join --servers 0",
		"--in-process -w latency --rate 0",
		"--in-process -w replicate --log",
		"--in-process -w watch --acl 3",  // --acl: get, set, mixed only
		"--in-process -w fill --acl 1",   // likewise
		"--acl -1",                       // a number of rules
		"--server x -w watch --types",    // --types: get, set, mixed only
		"--server x --types --codec",     // one or the other
		"--in-process --codec",           // no Lua in process
		"--in-process -w memtypes",       // likewise
		"-w login",                       // a running server: needs --auth
		"--auth x",                       // --auth is for login
		"--in-process -w get --auth x=y", // likewise
	} {
		var stderr bytes.Buffer
		if _, exit := parse(strings.Fields(args), &bytes.Buffer{}, &stderr); exit != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, exit, stderr.String())
		}
	}

	var stdout bytes.Buffer
	if _, exit := parse([]string{"--help"}, &stdout, &bytes.Buffer{}); exit != 0 || !strings.Contains(stdout.String(), "--pipeline") {
		t.Errorf("--help: exit %d, output %q", exit, stdout.String())
	}
}

func equalCLI(a, b CLI) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// runTool runs the tool with args plus --json and returns its results.
func runTool(t *testing.T, args ...string) []Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append(args, "--json"), &stdout, &stderr); code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
	}
	var out []Result
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestTool runs every workload through the command line, with a server
// in this process.
func TestTool(t *testing.T) {
	tests := []struct {
		workload string
		extra    []string
		ops      int64 // per run
	}{
		{"get", nil, 300},
		{"set", []string{"--log"}, 300},
		{"mixed", nil, 300},
		{"watch", []string{"-W", "2"}, 600},
		{"fill", nil, 300},
		{"load", nil, 300},
		{"replicate", nil, 300},
		{"latency", []string{"--rate", "2000", "--servers", "2"}, 300},
		{"join", []string{"--servers", "2"}, 300},
		{"get", []string{"--acl", "20"}, 300},
		{"set", []string{"--acl", "20"}, 300},
		{"mixed", []string{"--acl", "5"}, 300},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{tt.workload}, tt.extra...), " "), func(t *testing.T) {
			args := append([]string{"--in-process", "-w", tt.workload, "-n", "300", "-k", "40", "-c", "3", "-P", "4",
				"--warmup", "0s", "--runs", "2"}, tt.extra...)
			res := runTool(t, args...)
			if len(res) != 3 {
				t.Fatalf("%d results, want 2 runs and the median", len(res))
			}
			for i, r := range res {
				if r.Errors != 0 || r.Ops != tt.ops || r.Workload != tt.workload || r.Run != (i+1)%3 ||
					slices.Contains(tt.extra, "--acl") != (r.ACL > 0) {
					t.Errorf("result %d: %+v", i, r)
				}
			}
			switch tt.workload {
			case "fill":
				if res[2].RSSBytes == 0 {
					t.Error("fill reports no RSS")
				}
			case "load":
				if res[2].LoadSeconds <= 0 || res[2].FileBytes == 0 {
					t.Errorf("load: %+v", res[2])
				}
			case "watch":
				if res[2].SetsPerSec <= 0 || res[2].Watchers != 2 {
					t.Errorf("watch: %+v", res[2])
				}
			case "replicate", "latency", "join":
				checkCluster(t, res[2])
			}
		})
	}
}

// TestToolLogin measures a few password logins on a server in this
// process (the tool adds the user), and on a running server with --auth.
func TestToolLogin(t *testing.T) {
	res := runTool(t, "--in-process", "-w", "login", "-n", "3", "--runs", "2")
	if len(res) != 3 {
		t.Fatalf("%d results, want 2 runs and the median", len(res))
	}
	for i, r := range res {
		if r.Errors != 0 || r.Ops != 3 || r.Workload != "login" || r.P50us <= 0 || r.P90us < r.P50us || r.P99us < r.P90us {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	s := startServer(t)
	l, err := parseLogin("password name=joe password=secret1")
	if err != nil {
		t.Fatal(err)
	}
	if err := addPasswordUser(ctxT(t), s.Addr().String(), l); err != nil {
		t.Fatal(err)
	}
	port := s.Addr().(*net.TCPAddr).Port
	res = runTool(t, "-p", strconv.Itoa(port), "-w", "login", "-n", "2", "--auth", "password name=joe password=secret1")
	if r := res[0]; r.Errors != 0 || r.Ops != 2 {
		t.Errorf("--host: %+v", r)
	}
	// A wrong password is an error that says so.
	var stdout, stderr bytes.Buffer
	code := run([]string{"-p", strconv.Itoa(port), "-w", "login", "-n", "1", "--auth", "password name=joe password=wrong"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "log in as joe") {
		t.Errorf("wrong password: exit %d, %s", code, stderr.String())
	}
}

// checkCluster checks the figures of a cluster workload's result.
func checkCluster(t *testing.T, r Result) {
	t.Helper()
	want := r.Servers
	if r.Workload == "join" {
		want++
	}
	if r.Servers < 2 || len(r.Nodes) != want {
		t.Fatalf("%s: %d servers, nodes %+v", r.Workload, r.Servers, r.Nodes)
	}
	for i, n := range r.Nodes[1:] {
		ok := true
		switch r.Workload {
		case "replicate":
			ok = n.HeldSeconds > 0 && n.HeldSeconds <= r.Seconds && r.PerSec > 0 && r.SetsPerSec >= r.PerSec
		case "latency":
			ok = n.Ops == r.Ops && n.P50us > 0 && n.P99us >= n.P50us && r.Rate > 0 && r.PerSec > 0
		case "join":
			ok = n.JoinSeconds > 0 && r.JoinSeconds == r.Nodes[len(r.Nodes)-1].JoinSeconds
		}
		if !ok {
			t.Errorf("%s: node %d: %+v (result %+v)", r.Workload, i+1, n, r)
		}
	}
}

// TestToolSpawned runs the real distkv binary, as the measurements do.
func TestToolSpawned(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/distkv")
	}
	bin := filepath.Join(t.TempDir(), "distkv")
	if out, err := exec.Command("go", "build", "-o", bin, "../distkv").CombinedOutput(); err != nil {
		t.Fatalf("build distkv: %v\n%s", err, out)
	}
	res := runTool(t, "--server", bin, "-w", "fill", "-n", "500", "-c", "2", "-P", "8", "--log")
	if r := res[0]; r.Ops != 500 || r.Errors != 0 || r.RSSBytes == 0 {
		t.Errorf("fill: %+v", r)
	}
	// A relative --server path works although the server runs elsewhere.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, bin)
	if err != nil {
		t.Fatal(err)
	}
	res = runTool(t, "--server", rel, "-w", "load", "-n", "500", "-c", "2", "-P", "8")
	if r := res[0]; r.Ops != 500 || r.Errors != 0 || r.LoadSeconds <= 0 {
		t.Errorf("load: %+v", r)
	}
	res = runTool(t, "--server", bin, "-w", "set", "-n", "500", "--warmup", "0s", "-S", "server.log.sync=always", "--log")
	if r := res[0]; r.Ops != 500 || r.Errors != 0 {
		t.Errorf("set: %+v", r)
	}
	// Logins: an ACL for every connection, and password logins.
	res = runTool(t, "--server", bin, "-w", "get", "-n", "500", "-k", "100", "--warmup", "0s", "--acl", "20")
	if r := res[0]; r.Ops != 500 || r.Errors != 0 || r.ACL != 20 {
		t.Errorf("get --acl 20: %+v", r)
	}
	// Lua: types checking every set, a codec converting every value,
	// the memory of stored types and codecs.
	for _, args := range [][]string{
		{"-w", "set", "--types"},
		{"-w", "mixed", "--types", "--acl", "3"},
		{"-w", "get", "--codec"},
		{"-w", "mixed", "--codec", "--acl", "3"},
	} {
		res = runTool(t, append([]string{"--server", bin, "-n", "300", "-k", "50", "-c", "2", "-P", "4", "--warmup", "0s"}, args...)...)
		if r := res[0]; r.Ops != 300 || r.Errors != 0 || r.Types != slices.Contains(args, "--types") || r.Codec != slices.Contains(args, "--codec") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	res = runTool(t, "--server", bin, "-w", "memtypes", "-n", "20")
	if r := res[0]; r.Ops != 20 || r.Errors != 0 || r.RSSBytes == 0 || r.EmptyRSSBytes == 0 || r.StoreSeconds <= 0 {
		t.Errorf("memtypes: %+v", r)
	}
	res = runTool(t, "--server", bin, "-w", "login", "-n", "3")
	if r := res[0]; r.Ops != 3 || r.Errors != 0 || r.P50us <= 0 {
		t.Errorf("login: %+v", r)
	}
	// The console in Debian's chromium (scripts/test installs it), and
	// the metrics scraped while a workload runs.
	res = runTool(t, "--server", bin, "-w", "console", "-n", "250")
	if r := res[0]; r.Ops != 250 || r.PageMs <= 0 || r.PageBytes <= 0 || r.NodeMs <= 0 || r.ScrollMs <= 0 || r.RowsShown != 250 {
		t.Errorf("console: %+v", r)
	}
	res = runTool(t, "--server", bin, "-w", "get", "-d", "1500ms", "--warmup", "100ms", "-k", "100", "--scrape", "200ms")
	if r := res[0]; r.Errors != 0 || r.Ops == 0 {
		t.Errorf("get --scrape: %+v", r)
	}
	// The runner workloads: runner daemons, each on a server of its own.
	res = runTool(t, "--server", bin, "-S", "server.serf.profile=local", "-w", "jobdelay", "-n", "6", "--runners", "2", "--spacing", "50ms")
	if r := res[0]; r.Errors != 0 || r.Ops != 6 || r.Jobs != 6 || r.Runners != 2 || len(r.Nodes) != 2 ||
		r.Nodes[0].Ops+r.Nodes[1].Ops != 6 || r.P50us <= 0 || r.P99us < r.P50us || r.MaxUs < r.P99us {
		t.Errorf("jobdelay: %+v", r)
	}
	res = runTool(t, "--server", bin, "-S", "server.serf.profile=local", "-w", "jobs", "-k", "10", "-d", "1s", "--warmup", "500ms", "--runners", "2")
	if r := res[0]; r.Errors != 0 || r.Ops == 0 || r.PerSec <= 0 || r.Jobs != 10 || r.Nodes[0].Ops+r.Nodes[1].Ops != r.Ops || r.RunnerCores <= 0 {
		t.Errorf("jobs: %+v", r)
	}
	res = runTool(t, "--server", bin, "-w", "jobdelay", "-n", "4", "--runners", "2", "--spacing", "50ms", "--one-server")
	if r := res[0]; r.Errors != 0 || r.Ops != 4 || r.Servers != 1 || len(r.Nodes) != 2 || r.Nodes[1].Name != "runner2" {
		t.Errorf("jobdelay --one-server: %+v", r)
	}
	// The cluster workloads, with networks of real servers.
	for _, args := range [][]string{
		{"-w", "replicate", "-n", "500", "-c", "2", "-P", "8"},
		{"-w", "latency", "-n", "1000", "--rate", "2000", "--warmup", "0s", "--servers", "2"},
		{"-w", "join", "-n", "500", "--servers", "2"},
	} {
		res = runTool(t, append([]string{"--server", rel, "-S", "server.serf.profile=local"}, args...)...)
		if r := res[0]; r.Errors != 0 || r.Ops == 0 {
			t.Errorf("%v: %+v", args, r)
		} else {
			checkCluster(t, r)
			// CPU time is counted in 10 ms steps: a server that did little
			// may show none, but not every one of them.
			if r.Workload != "join" && !slices.ContainsFunc(r.Nodes, func(n NodeResult) bool { return n.Cores > 0 }) {
				t.Errorf("%v: no CPU use of the servers: %+v", args, r.Nodes)
			}
		}
	}
}
