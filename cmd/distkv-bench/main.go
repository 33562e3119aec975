// Command distkv-bench measures a DistKV server: request rates and
// latencies, watch deliveries, memory per entry and load time; and a
// network of servers: replicated writes, propagation latency and the time
// a new server takes to join; what the Lua of types and codecs costs; how
// late runner daemons start jobs and how many they run.
//
// It drives a running server (--host, --port) or starts one per run
// (--server PATH: the distkv binary, on a free port in a temporary
// directory; or --in-process, for profiling); the cluster workloads start
// --servers servers as one network. See BENCHMARKS.md for the
// measurements and how they were taken.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
)

// CLI is the command line.
type CLI struct {
	Host         string        `help:"Server to drive, when the tool starts none." default:"127.0.0.1" group:"Server"`
	Port         int           `short:"p" help:"Its client port." default:"27586" group:"Server"`
	PID          int           `name:"pid" placeholder:"PID" help:"Its process id, for the RSS that fill reports." group:"Server"`
	Server       string        `placeholder:"PATH" help:"Start this distkv binary for every run (on a free port, in a temporary directory; --servers of them for the cluster workloads) and stop it afterwards." group:"Server"`
	InProcess    bool          `help:"Run the server inside this process instead (for --cpuprofile and --memprofile)." group:"Server"`
	ServerConfig []string      `short:"S" placeholder:"KEY=VALUE" sep:"none" help:"Config override for a started server (its -C), e.g. server.log.sync=always; repeatable." group:"Server"`
	Scrape       time.Duration `placeholder:"EVERY" help:"With --server: give each started server an HTTP listener and fetch its /metrics this often while it runs, as Prometheus would (0: no HTTP listener, the default)." group:"Server"`
	Log          bool          `help:"Turn the change log on (log dest) before each run." group:"Server"`
	LogFile      string        `placeholder:"FILE" help:"Where --log writes (default: the temporary directory; needed with --host)." group:"Server"`

	Workload string        `short:"w" enum:"get,set,mixed,watch,fill,load,replicate,latency,join,login,memtypes,jobdelay,jobs,console" default:"get" help:"What to measure: ${enum}."`
	Conns    int           `short:"c" default:"16" help:"Connections (C)."`
	Pipeline int           `short:"P" default:"1" help:"Requests in flight per connection (P); 1: no pipelining."`
	Duration time.Duration `short:"d" default:"10s" help:"How long to measure (unless -n)."`
	Requests int64         `short:"n" placeholder:"N" help:"Requests to measure in all, instead of -d (writes for replicate and latency); entries for fill, load and join (default 1000000); logins for login (default 200); types and codecs each for memtypes (default 10000); jobs for jobdelay (default 200); children of the node console opens (default 10000)."`
	Warmup   time.Duration `default:"1s" help:"Requests before measuring starts (get, set, mixed, watch, latency); jobs: runs before counting starts."`
	Keys     uint64        `short:"k" placeholder:"K" help:"Key space: keys are random in [0, K) (get fills them all first; default 100000); jobs: the number of jobs (default 200)."`
	Ratio    float64       `default:"0.9" help:"mixed: the share of gets."`
	Watchers int           `short:"W" default:"4" help:"watch: connections watching the subtree the setters write to."`
	Prefix   string        `default:"bench" help:"Path (text form) below which keys are written."`
	Runs     int           `default:"1" help:"Runs; with more than one the median follows."`

	ACL   int    `name:"acl" placeholder:"N" help:"get, set, mixed: before the run, set up an ACL of N rules (one grants what the workload needs below --prefix, the others decide nothing for its keys), a _test user bound to it and one (root) bound to none, switch logins on (_test), and log every connection of the workload in as the bound user; 0: no logins." group:"Logins"`
	Types bool   `help:"get, set, mixed: before the run, store the tutorial's types int and int.percent and a match --prefix.# → int.percent, as root; every value written is an integer 0–100, so every set is checked by both scripts. Needs a distkv binary (--server or --host)." group:"Lua"`
	Codec bool   `help:"get, set, mixed: before the run, store the tutorial's codec float.str and a convert list --prefix.# → float.str, bind the _test user bench to it, switch logins on (_test) and log every connection in as bench (as --acl does; with it, bench has both); the prefill writes floats as root, a set writes their text. Needs a distkv binary (--server or --host)." group:"Lua"`
	Auth  string `placeholder:"SPEC" help:"login: the password login to measure, \"password name=NAME password=…\" (default: a user the tool adds to the server it starts; needed with --host)." group:"Logins"`

	Servers int     `default:"3" help:"replicate, latency, join: servers in the network, on loopback (join starts one more). Clients write to the first." group:"Cluster"`
	Rate    float64 `default:"1000" help:"latency: writes per second, evenly paced, from one connection." group:"Cluster"`

	Runners   int           `default:"3" help:"jobdelay, jobs: runner daemons (distkv client run all), each on a server of its own, all servers one network: an any-node runner is named after its server, and the runners of a group need distinct names." group:"Runners"`
	Spacing   time.Duration `default:"200ms" help:"jobdelay: the time between one job's creation and the next's (each falls due 0.5 s after its creation)." group:"Runners"`
	OneServer bool          `help:"jobdelay, jobs: start one server and every runner on it, each with a name of its own (run all --name), instead of a server for each runner." group:"Runners"`
	Repeat    float64       `default:"0.01" placeholder:"SECONDS" help:"jobs: each job runs again this long after its run ended (its --repeat)." group:"Runners"`

	Redis      bool   `help:"After each get, set or mixed run, run redis-benchmark -t get,set with the same C and P against a redis-server of the tool's, and print the ratio."`
	JSON       bool   `name:"json" help:"Print results as JSON objects, one a line."`
	Verbose    bool   `short:"v" help:"Say what is going on, on stderr."`
	CPUProfile string `name:"cpuprofile" placeholder:"FILE" help:"Write a CPU profile of this process (with --in-process: the server's too)."`
	MemProfile string `name:"memprofile" placeholder:"FILE" help:"Write a heap profile at the end of the last run."`
}

// keys is -k with its default for the workload.
func (c *CLI) keys() uint64 {
	switch {
	case c.Keys > 0:
		return c.Keys
	case c.Workload == "jobs":
		return defaultRateJobs
	}
	return defaultKeys
}

// defaultKeys is the key space when -k is not given.
const defaultKeys = 100_000

// Validate checks the flags together.
func (c *CLI) Validate() error {
	switch {
	case c.Conns < 1 || c.Pipeline < 1 || c.Runs < 1:
		return errors.New("-c, -P and --runs must be at least 1")
	case c.Requests < 0 || c.Duration <= 0 && c.Requests == 0:
		return errors.New("give a positive -d or -n")
	case c.Ratio < 0 || c.Ratio > 1:
		return errors.New("--ratio is a share between 0 and 1")
	case c.Workload == "watch" && c.Watchers < 1:
		return errors.New("watch needs at least one watcher (-W)")
	case c.Workload == "console" && c.Server == "":
		return errors.New("console starts a server with its web console: give --server")
	case c.Scrape < 0 || c.Scrape > 0 && c.Server == "":
		return errors.New("--scrape needs --server, and a positive interval")
	case c.Server != "" && c.InProcess:
		return errors.New("--server and --in-process exclude each other")
	case c.Workload == "load" && c.Server == "" && !c.InProcess:
		return errors.New("load starts servers: give --server (or --in-process)")
	case c.Log && c.LogFile == "" && c.Server == "" && !c.InProcess:
		return errors.New("--log with --host needs --log-file (a path the server can write)")
	case c.PID != 0 && (c.Server != "" || c.InProcess):
		return errors.New("--pid is for --host servers; a started server's is known")
	case clusterWorkload(c.Workload) && c.Server == "" && !c.InProcess:
		return fmt.Errorf("%s starts a network of servers: give --server (or --in-process)", c.Workload)
	case (c.Workload == "replicate" || c.Workload == "latency") && c.Servers < 2:
		return fmt.Errorf("%s needs at least two servers (--servers)", c.Workload)
	case c.Servers < 1:
		return errors.New("--servers must be at least 1")
	case c.Rate <= 0 || math.IsInf(c.Rate, 0):
		return errors.New("--rate must be positive")
	case c.Log && clusterWorkload(c.Workload):
		return errors.New("--log is not for the cluster workloads")
	case c.ACL < 0:
		return errors.New("--acl is a number of rules, at least 1 (0: no logins)")
	case c.ACL > 0 && !redisWorkload(c.Workload):
		return fmt.Errorf("--acl is for get, set and mixed, not %s: it decides on the requests of those", c.Workload)
	case (c.Types || c.Codec) && !redisWorkload(c.Workload):
		return fmt.Errorf("--types and --codec are for get, set and mixed, not %s", c.Workload)
	case c.Types && c.Codec:
		return errors.New("--types and --codec exclude each other: one wants integers stored, the other floats")
	case (c.Types || c.Codec) && c.InProcess:
		return errors.New("--types and --codec need a distkv binary (--server or --host): a server in this process runs no Lua")
	case c.Workload == "memtypes" && c.InProcess:
		return errors.New("memtypes needs a distkv binary (--server or --host): a server in this process runs no Lua, and its RSS would be this tool's")
	case c.Workload == "login" && c.Server == "" && !c.InProcess && c.Auth == "":
		return errors.New("login against a running server needs --auth \"password name=NAME password=…\", a user of that server")
	case c.Auth != "" && c.Workload != "login":
		return errors.New("--auth is for -w login")
	case runnerWorkload(c.Workload) && c.Server == "":
		return fmt.Errorf("%s starts distkv servers and runner daemons: give --server (the distkv binary)", c.Workload)
	case c.Runners < 1:
		return errors.New("--runners must be at least 1")
	case c.Spacing <= 0:
		return errors.New("--spacing must be positive")
	case !(c.Repeat > 0) || math.IsInf(c.Repeat, 0):
		return errors.New("--repeat must be positive seconds (0 would run each job once)")
	case c.Log && runnerWorkload(c.Workload):
		return errors.New("--log is not for the runner workloads")
	}
	return nil
}

const description = `Benchmark a DistKV server.

Examples:
  distkv-bench --server ./distkv -w get -c 16 -P 1 --runs 3 --redis
  distkv-bench --server ./distkv -w set -c 16 -P 16 --log
  distkv-bench --server ./distkv -w watch -W 4 -c 16
  distkv-bench --server ./distkv -w fill -c 16 -P 16 -n 1000000
  distkv-bench --server ./distkv -w load -c 16 -P 16 -n 1000000 --runs 3
  distkv-bench --server ./distkv -w replicate --servers 3 -c 16 -P 16 -d 10s
  distkv-bench --server ./distkv -w latency --servers 3 --rate 1000 -d 10s
  distkv-bench --server ./distkv -w join --servers 3 -n 1000000
  distkv-bench --server ./distkv -w get -c 16 -P 16 --acl 20
  distkv-bench --server ./distkv -w set -c 16 -P 16 --types
  distkv-bench --server ./distkv -w get -c 16 -P 16 --codec
  distkv-bench --server ./distkv -w memtypes -n 10000
  distkv-bench --server ./distkv -w login -n 200
  distkv-bench --server ./distkv -w jobdelay -n 200 --runners 3
  distkv-bench --server ./distkv -w jobs -d 10s --runners 3 -k 200
  distkv-bench --server ./distkv -w get -c 16 -P 16 --scrape 1s
  distkv-bench --server ./distkv -w console -n 10000 --runs 5   # needs chromium
  distkv-bench --port 27586 -w get -d 30s         # a running server`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// parse reads the command line. exit >= 0 means: stop with that code
// (after --help, or a bad command line).
func parse(args []string, stdout, stderr io.Writer) (cli *CLI, exit int) {
	cli = &CLI{}
	exit = -1
	parser, err := kong.New(cli,
		kong.Name("distkv-bench"),
		kong.Description(description),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintln(stderr, "distkv-bench: internal error:", err)
		return nil, 3
	}
	_, err = parser.Parse(args)
	if exit >= 0 {
		return nil, exit
	}
	if err != nil {
		fmt.Fprintln(stderr, "distkv-bench:", err)
		return nil, 2
	}
	return cli, -1
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cli, exit := parse(args, stdout, stderr)
	if exit >= 0 {
		return exit
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cli: cli, out: stdout}
	if cli.Verbose {
		b.log = stderr
	}
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(stderr, "distkv-bench:", err)
		return 1
	}
	return 0
}
