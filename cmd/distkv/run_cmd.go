package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/runner"
)

// RunCmd is `distkv client run`: runner entries and the runner daemon.
type RunCmd struct {
	Node  string `short:"n" placeholder:"NODE" help:"Jobs of one node (NODE), or with - of every node; without -n, jobs any one node runs."`
	Group string `short:"g" placeholder:"GROUP" help:"The group of runners (default: default)."`

	Set    RunSetCmd    `cmd:"" help:"Create or change the job at PATH."`
	Get    RunGetCmd    `cmd:"" help:"Print the job at PATH and its state."`
	List   RunListCmd   `cmd:"" help:"List the jobs (below PATH) with their states."`
	Delete RunDeleteCmd `cmd:"" help:"Delete the job at PATH (a running one stops)."`
	All    RunAllCmd    `cmd:"" name:"all" help:"Run the jobs: a daemon that runs every due job of its kind and group."`
}

func (RunCmd) Help() string {
	return `A job runs stored code (see "distkv client code") at a time, again
after --repeat seconds, and after a failure again after --delay seconds
times --backoff to the power of the failures in a row. A runner daemon
("run all") runs them; its node is the server's name unless -n names one.

Three kinds of job, each with its own runner daemon:
  run …             any one runner of the group runs it
  run -n NODE …     only the runner of node NODE runs it
  run -n - …        every runner of the group runs it

Examples:
  distkv client code set the.answer <<< 'print("Forty-Two!") return 42'
  distkv client run set -c the.answer -t 0 a.question
  distkv client run all
  distkv client run -n $(hostname) set -c the.answer -t 0 --repeat 60 a.minute
  distkv client run -n $(hostname) all`
}

// where is the set of jobs the flags name.
func (c *RunCmd) where() runner.Where {
	switch c.Node {
	case "":
		return runner.Where{Mode: runner.Any, Group: c.Group}
	case "-":
		return runner.Where{Mode: runner.All, Group: c.Group}
	}
	return runner.Where{Mode: runner.Single, Group: c.Group, Node: c.Node}
}

// job returns the path of the job named by words, and connects.
func (c *RunCmd) job(ctx context.Context, k *connector, words pathArg) (path.Path, *client.Client, error) {
	p, err := words.path()
	if err != nil {
		return p, nil, err
	}
	if p.IsRoot() {
		return p, nil, errors.New("name the job's path, e.g. a.question")
	}
	cl, err := k.get(ctx)
	return c.where().Jobs().Join(p), cl, err
}

// RunSetCmd is `run set`.
type RunSetCmd struct {
	Code    *string  `short:"c" placeholder:"CODE" help:"The path of the stored code to run (below :.distkv.code.proc)."`
	Time    *string  `short:"t" placeholder:"SECONDS" help:"Run it this many seconds from now (0: now; -: not)."`
	Repeat  *float64 `placeholder:"SECONDS" help:"After a success, run it again this much later (0: not)."`
	Delay   *float64 `placeholder:"SECONDS" help:"After a failure, run it again this much later (default 100), times --backoff per failure in a row."`
	Backoff *float64 `placeholder:"FACTOR" help:"Back-off factor (default 1.1)."`
	Timeout *float64 `placeholder:"SECONDS" help:"Stop a run after this long (default 600; 0: never, for a job that loops over its events; a runner's --max-timeout may bound it)."`
	Data    []string `short:"d" sep:"none" placeholder:"KEY=VALUE" help:"A variable of the code: VALUE is a literal (42, 'text', [1, 2]) or else a string; KEY= removes KEY."`
	Info    *string  `short:"i" placeholder:"TEXT" help:"A note for people."`
	Path    pathArg  `arg:"" help:"The job's path. ${path_help}"`
}

func (c *RunSetCmd) Run(ctx context.Context, k *connector, rc *RunCmd) error {
	p, cl, err := rc.job(ctx, k, c.Path)
	if err != nil {
		return err
	}
	e, err := cl.Get(ctx, p)
	if err != nil {
		return err
	}
	job := runner.Job{Delay: runner.DefaultDelay, Backoff: runner.DefaultBackoff}
	if e.HasValue {
		v, err := e.Value()
		if err != nil {
			return err
		}
		if job, err = runner.ParseJob(v); err != nil && c.Code == nil {
			return fmt.Errorf("the job at %v: %w (give -c to replace it)", p, err)
		}
	}
	if c.Code != nil {
		if job.Code, err = path.Parse(*c.Code); err != nil || job.Code.IsRoot() {
			return fmt.Errorf("-c %q: give the path of stored code, e.g. the.answer", *c.Code)
		}
		// The code must exist: a job without it would fail at every run.
		ce, err := cl.Get(ctx, runner.CodeRoot.Join(job.Code))
		if err != nil {
			return err
		}
		if !ce.HasValue {
			return fmt.Errorf("no code at %v (store it with: distkv client code set %v)", runner.CodeRoot.Join(job.Code), job.Code)
		}
	}
	if job.Code.IsRoot() {
		return errors.New("a new job needs its code: -c PATH")
	}
	if c.Time != nil {
		if *c.Time == "-" {
			job.Target = 0
		} else {
			var s float64
			if _, err := fmt.Sscan(*c.Time, &s); err != nil || s < 0 {
				return fmt.Errorf("-t %q: give seconds from now (0: now) or - (not)", *c.Time)
			}
			job.Target = runner.Now() + s
		}
	}
	for _, f := range []struct {
		name string
		in   *float64
		to   *float64
	}{{"--repeat", c.Repeat, &job.Repeat}, {"--delay", c.Delay, &job.Delay}, {"--backoff", c.Backoff, &job.Backoff}, {"--timeout", c.Timeout, nil}} {
		if f.in != nil {
			if *f.in < 0 {
				return fmt.Errorf("%s %v: not below 0", f.name, *f.in)
			}
			if f.to == nil { // --timeout
				job.Timeout = f.in
				continue
			}
			*f.to = *f.in
		}
	}
	if c.Info != nil {
		job.Info = *c.Info
	}
	for _, kv := range c.Data {
		key, text, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return fmt.Errorf("-d %q: write KEY=VALUE", kv)
		}
		job.Data = deleteKey(job.Data, key)
		if text == "" {
			continue
		}
		v, err := literal.Parse(text)
		if err != nil {
			v = text
		}
		job.Data = append(job.Data, pack.KV{Key: key, Value: v})
	}
	_, err = cl.Set(ctx, p, job.Value())
	return err
}

func deleteKey(m pack.Map, key string) pack.Map {
	out := m[:0]
	for _, kv := range m {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

// RunGetCmd is `run get`.
type RunGetCmd struct {
	Path pathArg `arg:"" help:"The job's path. ${path_help}"`
}

func (c *RunGetCmd) Run(ctx context.Context, k *connector, rc *RunCmd, g *globals) error {
	p, cl, err := rc.job(ctx, k, c.Path)
	if err != nil {
		return err
	}
	e, err := cl.Get(ctx, p)
	if err != nil {
		return err
	}
	if !e.HasValue {
		return fmt.Errorf("no job at %v", p)
	}
	rel, _ := p.TrimPrefix(rc.where().Jobs())
	m, err := rc.describe(ctx, cl, e, rel)
	if err != nil {
		return err
	}
	return printYAML(g.stdout, m)
}

// describe is a job entry with its state (for -n -, each node's).
func (rc *RunCmd) describe(ctx context.Context, cl *client.Client, e client.Entry, rel path.Path) (pack.Map, error) {
	v, err := e.Value()
	if err != nil {
		return nil, err
	}
	m := pack.Map{{Key: "job", Value: v}}
	w := rc.where()
	if w.Mode == runner.All {
		states := pack.Map{}
		base := runner.StateRoot.Join(path.Must("all", groupOr(w.Group)))
		for se, err := range cl.GetTree(ctx, base, client.TreeOptions{MinDepth: 1}) {
			if err != nil {
				return nil, err
			}
			node, at := se.Path.Split() // relative to base: NODE JOB…
			if at == rel {
				sv, _ := se.Value()
				states = append(states, pack.KV{Key: node.Value(), Value: sv})
			}
		}
		return append(m, pack.KV{Key: "state", Value: states}), nil
	}
	se, err := cl.Get(ctx, w.States("").Join(rel))
	if err != nil {
		return nil, err
	}
	if se.HasValue {
		sv, _ := se.Value()
		m = append(m, pack.KV{Key: "state", Value: sv})
	}
	return m, nil
}

func groupOr(g string) string {
	if g == "" {
		return runner.DefaultGroup
	}
	return g
}

// RunListCmd is `run list`.
type RunListCmd struct {
	State bool    `short:"s" help:"Print each job with its state."`
	Path  pathArg `arg:"" optional:"" help:"Only the jobs at or below PATH. ${path_help}"`
}

func (c *RunListCmd) Run(ctx context.Context, k *connector, rc *RunCmd, g *globals) error {
	sub, err := c.Path.path()
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	for e, err := range cl.GetTree(ctx, rc.where().Jobs().Join(sub), client.TreeOptions{}) {
		if err != nil {
			return err
		}
		if !e.HasValue {
			continue
		}
		rel := sub.Join(e.Path) // the walk's paths are relative to where it starts
		if !c.State {
			fmt.Fprintln(g.stdout, rel)
			continue
		}
		m, err := rc.describe(ctx, cl, e, rel)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, "---")
		if err := printYAML(g.stdout, append(pack.Map{{Key: "path", Value: rel}}, m...)); err != nil {
			return err
		}
	}
	return nil
}

// RunDeleteCmd is `run delete`.
type RunDeleteCmd struct {
	Path pathArg `arg:"" help:"The job's path. ${path_help}"`
}

func (c *RunDeleteCmd) Run(ctx context.Context, k *connector, rc *RunCmd) error {
	p, cl, err := rc.job(ctx, k, c.Path)
	if err != nil {
		return err
	}
	res, err := cl.Delete(ctx, p)
	if err != nil {
		return err
	}
	if !res.HasPrev && !res.Changed {
		return fmt.Errorf("no job at %v", p)
	}
	return nil
}

// RunAllCmd is `run all`: the runner daemon.
type RunAllCmd struct {
	Name       string         `placeholder:"NAME" help:"This runner's name in its group (default: the server's name; -n NODE for one node's jobs). Runners of a group need names of their own."`
	Nodes      *int           `placeholder:"N" help:"The size of the group: jobs see it complete with N runners up (config runner.nodes)."`
	Once       bool           `help:"Run the jobs due now, wait for them and exit, instead of running until stopped."`
	MaxTimeout *time.Duration `placeholder:"DURATION" help:"The longest a job may run, whatever its --timeout says (e.g. 1h; config runner.max_timeout, default: no bound)."`
}

func (RunAllCmd) Help() string {
	return `The daemon follows the jobs of its kind (-n) and group (-g), runs each
when it is due, and prints what the jobs print. Failures are logged and
recorded (see "distkv client error list"), and marked resolved when the job
next succeeds. Runners of one group find each other through heartbeat
entries (:.distkv.runner.GROUP.KIND.NODE, one a second); a job any node runs
starts on the one that ranks first for it, exactly once while they agree
on who is alive, and when that one stops sending heartbeats for 5 seconds
the next takes its jobs over.
Each runner of a group needs a name of its own: by default the name of
the server it talks to, so one runner per server of a kind and group; a
second one of the same name stops with an error (give --name).
Stop it with Ctrl-C or SIGTERM: running jobs are cancelled.`
}

func (c *RunAllCmd) Run(ctx context.Context, k *connector, rc *RunCmd, g *globals) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	k.reconnect = true
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	w := rc.where()
	node := w.Node
	switch {
	case c.Name != "" && w.Mode == runner.Single && c.Name != w.Node:
		return fmt.Errorf("--name %s: the runner of node %s's jobs is named %s", c.Name, w.Node, w.Node)
	case c.Name != "":
		node = c.Name
	case node == "":
		node = cl.Greeting().Node
	}
	errs, err := errlog.Open(ctx, cl, node)
	if err != nil {
		return fmt.Errorf("follow the error records: %w", err)
	}
	defer errs.Close()
	set := g.cfg.Runner
	if c.Nodes != nil {
		set.Nodes = *c.Nodes
	}
	if c.MaxTimeout != nil {
		set.MaxTimeout = config.Duration(*c.MaxTimeout)
	}
	return runner.Run(ctx, runner.Config{Client: cl, Where: w, Node: node, Settings: set, Out: g.stdout,
		Log: g.log, Errors: runErrors{errs}, Once: c.Once})
}

// runErrors records the runners' failures with errlog, subsystem "run".
type runErrors struct{ l *errlog.Log }

func (r runErrors) Record(ctx context.Context, p path.Path, message, trace string) error {
	return r.l.Record(ctx, errlog.Failure{Path: p, Subsystem: "run", Severity: errlog.Error, Message: message, Trace: trace})
}

func (r runErrors) Resolve(ctx context.Context, p path.Path) error {
	return r.l.Resolve(ctx, p, "run")
}
