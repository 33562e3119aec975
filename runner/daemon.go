package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/quietlog"
	"github.com/distkv-go/distkv/luart"
)

// Errors records the failures of jobs and their end (package errlog does
// it in the error subtree).
type Errors interface {
	// Record notes that the job at p failed.
	Record(ctx context.Context, p path.Path, message, trace string) error
	// Resolve notes that the job at p succeeded: an open failure is over.
	Resolve(ctx context.Context, p path.Path) error
}

// Config configures a runner daemon.
type Config struct {
	Client *client.Client
	Where  Where
	// Node is this runner's name: the node whose single-node jobs it runs
	// and the name it claims jobs under. "" is the name of the server the
	// client talks to.
	Node string
	// Settings are the runner's timeouts and group size (a configuration's
	// runner section); the entry `.distkv config runner` overrides them
	// while the runner runs (see followSettings). Zero: config.Default's.
	Settings config.Runner
	Out      io.Writer // what jobs print (nil: discarded)
	Log      *slog.Logger
	Errors   Errors       // nil: failures are only logged
	Limits   luart.Limits // of every job (but the timeout: Settings, Job.Timeout); zero: luart.JobLimits
	// Once makes Run start the jobs due now, wait for them and return,
	// instead of running until ctx ends.
	Once bool
}

// daemon is one runner: it follows the jobs of cfg.Where, their states and
// the stored code, and runs what is due.
type daemon struct {
	cfg      Config
	c        *client.Client
	log      *slog.Logger
	rtMu     sync.Mutex
	rts      map[time.Duration]*luart.Runtime // by timeout (see runtime)
	settings atomic.Pointer[config.Runner]
	out      *lockedWriter
	members  *members
	quiet    quietlog.Log
	parsed   parsedCache // the schedule's

	jobs, states, code *client.Mirror
	jobsAt, statesAt   path.Path

	wake chan struct{}

	mu      sync.Mutex // protects running
	running map[path.Path]*activeJob
	wg      sync.WaitGroup
}

// activeJob is a job this runner runs now.
type activeJob struct {
	raw    string // the entry's value it started with
	cancel context.CancelCauseFunc
}

// Run runs cfg's runner until ctx ends (or, with cfg.Once, until the
// jobs due at the start have run). It returns an error if it cannot
// follow the server.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Where.Check(); err != nil {
		return err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Limits == (luart.Limits{}) {
		cfg.Limits = luart.JobLimits
	}
	if cfg.Settings == (config.Runner{}) {
		cfg.Settings = config.Default().Runner
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Client.Greeting().Node
	}
	d := &daemon{cfg: cfg, c: cfg.Client, log: cfg.Log.With("runner", cfg.Node, "jobs", cfg.Where.Jobs().String()),
		rts: map[time.Duration]*luart.Runtime{}, out: &lockedWriter{w: cfg.Out}, wake: make(chan struct{}, 1),
		running: map[path.Path]*activeJob{}}
	d.jobsAt, d.statesAt = cfg.Where.Jobs(), cfg.Where.States(cfg.Node)
	d.settings.Store(&cfg.Settings)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var err error
	if d.members, err = startMembers(ctx, d.c, cfg.Where.Members(), cfg.Node, d.log, d.poke); err != nil {
		return fmt.Errorf("join the runners of group %s: %w", cfg.Where.group(), err)
	}
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		d.members.run(ctx)
	}()
	defer func() { stop(); <-beating }() // then the heartbeat entry is gone
	settled := make(chan struct{})
	go d.followSettings(ctx, settled)
	select { // the first jobs run with the settings of the entry as it is
	case <-settled:
	case <-ctx.Done():
		return nil
	}
	if d.code, err = d.c.Mirror(ctx, CodeRoot.Parent(), client.MirrorOptions{OnChange: func(client.Entry) { d.poke() }}); err != nil {
		return fmt.Errorf("follow the stored code: %w", err)
	}
	defer d.code.Close()
	if d.states, err = d.c.Mirror(ctx, d.statesAt, client.MirrorOptions{OnChange: func(client.Entry) { d.poke() }}); err != nil {
		return fmt.Errorf("follow the jobs' states: %w", err)
	}
	defer d.states.Close()
	if d.jobs, err = d.c.Mirror(ctx, d.jobsAt, client.MirrorOptions{OnChange: d.jobChanged}); err != nil {
		return fmt.Errorf("follow the jobs: %w", err)
	}
	defer d.jobs.Close()
	d.log.Info("runner started", "group", cfg.Where.group(), "mode", cfg.Where.Mode.String())
	defer d.stopAll(errors.New("the runner stopped"))
	for {
		next := d.schedule(ctx)
		if cfg.Once && d.idle() {
			return nil
		}
		wait := time.Hour
		if !math.IsInf(next, 1) {
			wait = time.Duration((next - Now()) * float64(time.Second))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.members.dup:
			t.Stop()
			return fmt.Errorf("another runner named %s runs in group %s, started before this one: runners of a group need names of their own (run all --name)", cfg.Node, cfg.Where.group())
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
		if err := d.lost(ctx); err != nil {
			return err
		}
	}
}

// lost tells whether a mirror stopped following the server. Mirrors stop
// too when ctx ends, and the loop's select may see their wake-up before
// ctx.Done: that is a stop, not a lost server.
func (d *daemon) lost(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	for _, m := range []*client.Mirror{d.jobs, d.states, d.code} {
		if err := m.Err(); err != nil {
			return fmt.Errorf("lost the server: %w", err)
		}
	}
	return nil
}

func (d *daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *daemon) idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.running) == 0
}

// jobChanged cancels a running job whose entry was deleted or changed,
// then has the schedule looked at again.
func (d *daemon) jobChanged(e client.Entry) {
	d.mu.Lock()
	a := d.running[e.Path]
	d.mu.Unlock()
	if a != nil && (!e.HasValue || string(e.Raw) != a.raw) {
		reason := "its entry changed"
		if !e.HasValue {
			reason = "its entry was deleted"
		}
		a.cancel(errors.New("cancelled: " + reason))
	}
	d.poke()
}

// schedule starts the jobs that are due and returns when the next one
// will be (+Inf: none).
func (d *daemon) schedule(ctx context.Context) float64 {
	type start struct {
		e, se    client.Entry
		job      Job
		st       State
		hasState bool
	}
	var starts []start
	next := math.Inf(1)
	now := Now()
	d.mu.Lock()
	running := len(d.running)
	d.mu.Unlock()
	seen := 0
	d.jobs.Range(func(e client.Entry) bool {
		seen++
		if running > 0 {
			d.mu.Lock()
			_, busy := d.running[e.Path]
			d.mu.Unlock()
			if busy {
				return true
			}
		}
		job, err := d.parsed.job(e)
		if err != nil {
			d.quiet.Warn(d.log, "bad entry "+e.Path.String(), "a runner entry cannot be used", "job", d.jobsAt.Join(e.Path).String(), "err", err)
			return true
		}
		se, hasState := d.states.Get(e.Path)
		var st State
		if hasState {
			st = d.parsed.state(se)
		}
		due := job.Due(st)
		switch {
		case st.Node == d.cfg.Node:
			due = now // it ran here when this runner ended: run it again
		case st.Node != "" && (d.cfg.Where.Mode != Any || d.members.alive(st.Node)):
			return true // another runner has it
		case st.Node != "":
			d.log.Info("taking over a job from a runner that is gone", "job", e.Path.String(), "from", st.Node)
			due = now
		}
		if due == 0 {
			return true
		}
		if d.cfg.Where.Mode == Any && d.members.rank(e.Path) > 0 {
			// A live runner ranks first for this job: it claims it. When
			// it dies it drops out of the ranking (after Gone), and the
			// next takes its jobs.
			return true
		}
		if due > now {
			next = min(next, due)
			return true
		}
		starts = append(starts, start{e, se, job, st, hasState})
		return true
	})
	d.parsed.prune(seen)
	for _, s := range starts {
		if ctx.Err() != nil {
			break
		}
		d.start(ctx, s.e, s.job, s.st, s.se, s.hasState)
	}
	return next
}

// parsedCache keeps the jobs and states as parsed from the entries'
// values, so that a look at the schedule parses only what changed. Only
// the schedule's goroutine uses it.
type parsedCache struct {
	jobs   map[path.Path]parsedJob
	states map[path.Path]parsedState
}

type parsedJob struct {
	raw string
	job Job
	err error
}

type parsedState struct {
	raw string
	st  State
}

func (c *parsedCache) job(e client.Entry) (Job, error) {
	if p, ok := c.jobs[e.Path]; ok && p.raw == string(e.Raw) {
		return p.job, p.err
	}
	v, err := e.Value()
	var job Job
	if err == nil {
		job, err = ParseJob(v)
	}
	if c.jobs == nil {
		c.jobs = map[path.Path]parsedJob{}
	}
	c.jobs[e.Path] = parsedJob{string(e.Raw), job, err}
	return job, err
}

func (c *parsedCache) state(e client.Entry) State {
	if p, ok := c.states[e.Path]; ok && p.raw == string(e.Raw) {
		return p.st
	}
	v, _ := e.Value()
	st := ParseState(v)
	if c.states == nil {
		c.states = map[path.Path]parsedState{}
	}
	c.states[e.Path] = parsedState{string(e.Raw), st}
	return st
}

// prune forgets everything once the cache holds far more than the n jobs
// there are (deleted ones): it fills again as it is used.
func (c *parsedCache) prune(n int) {
	if len(c.jobs) > 2*n+64 || len(c.states) > 2*n+64 {
		c.jobs, c.states = nil, nil
	}
}

// start claims the job (its state names this runner, written only if the
// state is still the one read: of two runners that try, one wins) and
// runs it.
func (d *daemon) start(ctx context.Context, e client.Entry, job Job, st State, se client.Entry, hasState bool) {
	claim := st
	claim.Node, claim.Started, claim.Next = d.cfg.Node, Now(), 0
	cond := client.IfNew()
	if hasState {
		cond = client.IfChain(se.Chain)
	}
	sp := d.statesAt.Join(e.Path)
	res, err := d.c.Set(ctx, sp, claim.Value(), cond)
	var ce *client.ConflictError
	if errors.As(err, &ce) {
		d.log.Debug("another runner took the job", "job", e.Path.String())
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("cannot claim a job", "job", e.Path.String(), "err", err)
		}
		return
	}
	jctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	d.running[e.Path] = &activeJob{raw: string(e.Raw), cancel: cancel}
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.run(jctx, e.Path, job, claim, res.Chain)
		cancel(nil)
		d.mu.Lock()
		delete(d.running, e.Path)
		d.mu.Unlock()
		d.poke()
	}()
}

// run runs a claimed job and writes how it ended.
func (d *daemon) run(ctx context.Context, rel path.Path, job Job, st State, chain client.Chain) {
	full := d.jobsAt.Join(rel)
	result, err := d.call(ctx, rel, job)
	st.Node, st.Stopped = "", Now()
	// The state is written even when the runner stops: a moment more.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch {
	case err == nil:
		st.Result, st.Backoffs, st.Error = result, 0, ""
		d.log.Debug("job done", "job", full.String())
		if d.cfg.Errors != nil {
			if err := d.cfg.Errors.Resolve(wctx, full); err != nil {
				d.log.Warn("cannot mark a job's error resolved", "job", full.String(), "err", err)
			}
		}
	case ctx.Err() != nil:
		st.Error = context.Cause(ctx).Error()
		d.log.Info("job stopped", "job", full.String(), "why", st.Error)
	default:
		st.Backoffs = min(st.Backoffs+1, maxBackoffs)
		st.Error = message(err)
		d.log.Warn("Error", "job", full.String(), "node", d.cfg.Node, "err", st.Error)
		if d.cfg.Errors != nil {
			if err := d.cfg.Errors.Record(wctx, full, st.Error, trace(err)); err != nil {
				d.log.Warn("cannot record a job's error", "job", full.String(), "err", err)
			}
		}
	}
	st.Next = job.Due(st)
	_, err = d.c.Set(wctx, d.statesAt.Join(rel), st.Value(), client.IfChain(chain))
	var ce *client.ConflictError
	switch {
	case errors.As(err, &ce):
		d.log.Warn("a job's state changed while it ran here (another runner took it over?)", "job", full.String())
	case err != nil:
		d.log.Warn("cannot write a job's state", "job", full.String(), "err", err)
	}
}

// call runs the job's code with its data as variables and the dkv module.
func (d *daemon) call(ctx context.Context, rel path.Path, job Job) (any, error) {
	code, err := d.source(job.Code)
	if err != nil {
		return nil, err
	}
	s, err := luart.Compile("code "+job.Code.String(), code)
	if err != nil {
		return nil, err
	}
	vars := make([]luart.Var, 0, len(job.Data)+1)
	for _, kv := range job.Data {
		if k, ok := kv.Key.(string); ok && k != "dkv" {
			vars = append(vars, luart.Var{Name: k, Value: kv.Value})
		}
	}
	vars = append(vars, luart.Var{Name: "dkv", Value: d.dkv(rel)})
	return d.runtime(job).Call(ctx, s, vars, d.out)
}

// forever stands for no time limit: luart has always one.
const forever = 100 * 365 * 24 * time.Hour

// runtime returns the runtime of the job's time limit.
func (d *daemon) runtime(job Job) *luart.Runtime {
	set := d.settings.Load()
	lim := d.cfg.Limits
	lim.Timeout = set.Timeout.D()
	if job.Timeout != nil {
		lim.Timeout = forever
		if *job.Timeout > 0 {
			lim.Timeout = time.Duration(*job.Timeout * float64(time.Second))
		}
	}
	if m := set.MaxTimeout.D(); m > 0 && lim.Timeout > m {
		lim.Timeout = m
	}
	d.rtMu.Lock()
	defer d.rtMu.Unlock()
	rt := d.rts[lim.Timeout]
	if rt == nil {
		rt = luart.New(lim)
		rt.SetModules(d.module)
		d.rts[lim.Timeout] = rt
	}
	return rt
}

// source returns the Lua text stored at the code path p.
func (d *daemon) source(p path.Path) (string, error) {
	e, ok := d.code.Get(path.Must("proc").Join(p))
	if !ok {
		return "", fmt.Errorf("no code at %v", CodeRoot.Join(p))
	}
	return codeText(e)
}

// module is require's source of modules: `.distkv code module NAME`.
func (d *daemon) module(name string) (string, bool) {
	p, err := path.Parse(name)
	if err != nil || p.IsRoot() {
		return "", false
	}
	e, ok := d.code.Get(path.Must("module").Join(p))
	if !ok {
		return "", false
	}
	code, err := codeText(e)
	return code, err == nil
}

func codeText(e client.Entry) (string, error) {
	v, err := e.Value()
	if err != nil {
		return "", err
	}
	m, _ := v.(pack.Map)
	c, _ := m.Get("code")
	code, ok := c.(string)
	if !ok {
		return "", fmt.Errorf("the stored code at %v has no code text", e.Path)
	}
	return code, nil
}

// stopAll cancels the running jobs and waits until they wrote their state.
func (d *daemon) stopAll(why error) {
	d.mu.Lock()
	for _, a := range d.running {
		a.cancel(why)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// message is an error's text as the job's state and the log show it: a
// script's own message alone.
func message(err error) string {
	var se *luart.ScriptError
	if errors.As(err, &se) && !se.Panic {
		if se.Position != "" {
			return se.Position + ": " + se.Message
		}
		return se.Message
	}
	return strings.TrimSpace(err.Error())
}

// trace is what the error record keeps of how err came about: a
// script's Lua traceback, else the error's whole text.
func trace(err error) string {
	var se *luart.ScriptError
	if errors.As(err, &se) && se.Trace != "" {
		return se.Trace
	}
	return err.Error()
}

// lockedWriter lets jobs that run at once print whole writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
