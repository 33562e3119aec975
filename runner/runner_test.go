package runner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/internal/testserver"
)

func startServer(t *testing.T) *server.Server {
	return testserver.Start(t, server.Config{Node: "one"})
}

func connect(t *testing.T, s *server.Server) *client.Client { return testserver.Connect(t, s, "") }

func setCode(t *testing.T, c *client.Client, name, src string) {
	t.Helper()
	if _, err := c.Set(context.Background(), CodeRoot.Join(path.P(name)), pack.Map{{Key: "code", Value: src}}); err != nil {
		t.Fatal(err)
	}
}

func setJob(t *testing.T, c *client.Client, w Where, name string, j Job) {
	t.Helper()
	if _, err := c.Set(context.Background(), w.Jobs().Join(path.P(name)), j.Value()); err != nil {
		t.Fatal(err)
	}
}

func state(t *testing.T, c *client.Client, w Where, node, name string) State {
	t.Helper()
	e, err := c.Get(context.Background(), w.States(node).Join(path.P(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !e.HasValue {
		return State{}
	}
	v, _ := e.Value()
	return ParseState(v)
}

// recorder is an Errors that remembers.
type recorder struct {
	mu       sync.Mutex
	recorded []string
	traces   []string
	resolved []string
}

func (r *recorder) Record(_ context.Context, p path.Path, msg, trace string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recorded = append(r.recorded, p.String()+": "+msg)
	r.traces = append(r.traces, trace)
	return nil
}

func (r *recorder) Resolve(_ context.Context, p path.Path) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resolved = append(r.resolved, p.String())
	return nil
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestOneShot: the tutorial's the.answer runs once, prints, and its state
// holds the result; a failing job is recorded and backs off, then
// resolved when it succeeds.
func TestOneShot(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx := context.Background()
	w := Where{}
	setCode(t, c, "the.answer", "print(\"Forty-Two!\")\nreturn 42")
	setJob(t, c, w, "a.question", Job{Code: path.P("the.answer"), Target: Now(), Delay: DefaultDelay, Backoff: DefaultBackoff})
	var out bytes.Buffer
	errs := &recorder{}
	cfg := Config{Client: c, Out: &out, Log: testLog(t), Errors: errs, Once: true}
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Forty-Two!\n" {
		t.Fatalf("output %q", out.String())
	}
	st := state(t, c, w, "one", "a.question")
	if st.Node != "" || st.Result != int64(42) || st.Started == 0 || st.Stopped < st.Started || st.Next != 0 {
		t.Fatalf("state %+v", st)
	}
	// Not again, unless its time is set again.
	out.Reset()
	if err := Run(ctx, cfg); err != nil || out.Len() != 0 {
		t.Fatalf("ran again: %q %v", out.String(), err)
	}

	setCode(t, c, "the.error", `error("Owch")`)
	setJob(t, c, w, "what.me.worry", Job{Code: path.P("the.error"), Target: Now(), Delay: 0.01, Backoff: 1})
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	st = state(t, c, w, "one", "what.me.worry")
	if st.Backoffs == 0 || !strings.Contains(st.Error, "Owch") {
		t.Fatalf("state after the error: %+v", st)
	}
	if len(errs.recorded) == 0 || !strings.Contains(errs.recorded[0], "what.me.worry: ") || !strings.HasSuffix(errs.recorded[0], "Owch") {
		t.Fatalf("recorded %v", errs.recorded)
	}
	if !strings.HasPrefix(errs.traces[0], "stack traceback:") || !strings.Contains(errs.traces[0], "the.error:1: in main chunk") {
		t.Fatalf("trace %q", errs.traces[0])
	}
	setCode(t, c, "the.error", `return "fine"`)
	time.Sleep(50 * time.Millisecond) // past the back-off
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if st = state(t, c, w, "one", "what.me.worry"); st.Backoffs != 0 || st.Result != "fine" || st.Error != "" {
		t.Fatalf("state after the fix: %+v", st)
	}
	if len(errs.resolved) == 0 || errs.resolved[len(errs.resolved)-1] != ":.distkv.run.any.default.what.me.worry" {
		t.Fatalf("resolved %v", errs.resolved)
	}
}

// TestCancel: a job that runs forever stops when its entry is deleted,
// and its state says why.
func TestCancel(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Where{}
	setCode(t, c, "forever", `dkv.set("started", true) while true do dkv.sleep(0.01) end`)
	setJob(t, c, w, "loop", Job{Code: path.P("forever"), Target: Now(), Delay: DefaultDelay, Backoff: DefaultBackoff})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Client: c, Log: testLog(t)}) }()
	waitFor(t, "the job to start", func() bool {
		e, _ := c.Get(ctx, path.P("started"))
		return e.HasValue
	})
	if _, err := c.Delete(ctx, w.Jobs().Join(path.P("loop"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to stop", func() bool {
		st := state(t, c, w, "one", "loop")
		return st.Node == "" && strings.Contains(st.Error, "deleted")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRepeatAcrossRunners: two runners of one group share a repeated
// job: it runs again and again, never twice at once, and after one runner
// stops the other goes on alone.
func TestRepeatAcrossRunners(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx := context.Background()
	w := Where{}
	setCode(t, c, "tick", `
		if dkv.get("busy") then error("overlap") end
		dkv.set("busy", true)
		dkv.sleep(0.02)
		dkv.set("runs", (dkv.get("runs") or 0) + 1)
		dkv.delete("busy")`)
	setJob(t, c, w, "tick", Job{Code: path.P("tick"), Target: Now(), Repeat: 0.1, Delay: 0.1, Backoff: 1})
	errs := &recorder{}
	var cancels []context.CancelFunc
	var wg sync.WaitGroup
	for _, node := range []string{"r1", "r2"} {
		rctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		wg.Go(func() {
			if err := Run(rctx, Config{Client: connect(t, s), Node: node, Log: testLog(t), Errors: errs}); err != nil {
				t.Errorf("%s: %v", node, err)
			}
		})
	}
	runs := func() int64 {
		e, _ := c.Get(ctx, path.P("runs"))
		v, _ := e.Value()
		n, _ := v.(int64)
		return n
	}
	waitFor(t, "10 runs", func() bool { return runs() >= 10 })
	cancels[0]()
	n := runs()
	waitFor(t, "10 more runs by the runner left", func() bool { return runs() >= n+10 })
	cancels[1]()
	wg.Wait()
	if len(errs.recorded) != 0 {
		t.Fatalf("errors: %v", errs.recorded)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testserver.WaitFor(t, what, ok)
}

// TestEvents: the tutorial's "listen to A and write to B" as a job that
// runs until its entry goes: it reacts to changes, timers and its ready
// event.
func TestEvents(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Where{}
	if _, err := c.Set(ctx, path.P("a"), int64(1)); err != nil {
		t.Fatal(err)
	}
	setCode(t, c, "double", `
		dkv.watch("a", {fetch = true})
		dkv.timer(0.05, "tick")
		for msg in dkv.events() do
			if msg.type == "change" and msg.value ~= nil then
				dkv.set("b", msg.value * factor)
			elseif msg.type == "ready" then
				dkv.set("ready", true)
			elseif msg.type == "timer" then
				dkv.set("timer", msg.name)
			elseif msg.type == "group" then
				dkv.set("group", msg.state)
			end
		end`)
	forever := 0.0 // no time limit
	setJob(t, c, w, "double", Job{Code: path.P("double"), Target: Now(), Timeout: &forever, Data: pack.Map{{Key: "factor", Value: int64(2)}}, Delay: DefaultDelay, Backoff: DefaultBackoff})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Client: c, Log: testLog(t)}) }()
	value := func(p string) any {
		e, _ := c.Get(ctx, path.P(p))
		v, _ := e.Value()
		return v
	}
	waitFor(t, "b = 2", func() bool { return value("b") == int64(2) })
	waitFor(t, "ready, the timer, the group", func() bool {
		return value("ready") == true && value("timer") == "tick" && value("group") == "detached"
	})
	if _, err := c.Set(ctx, path.P("a"), int64(21)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b = 42", func() bool { return value("b") == int64(42) })
	if _, err := c.Delete(ctx, w.Jobs().Join(path.P("double"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to stop", func() bool { return strings.Contains(state(t, c, w, "one", "double").Error, "deleted") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTimeout: a job's own time limit, and the runner's bound on it.
func TestTimeout(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx := context.Background()
	w := Where{}
	setCode(t, c, "slow", `dkv.sleep(2) return "done"`)
	short, none := 0.1, 0.0
	setJob(t, c, w, "short", Job{Code: path.P("slow"), Target: Now(), Timeout: &short, Delay: DefaultDelay, Backoff: DefaultBackoff})
	setJob(t, c, w, "bounded", Job{Code: path.P("slow"), Target: Now(), Timeout: &none, Delay: DefaultDelay, Backoff: DefaultBackoff})
	start := time.Now()
	set := config.Default().Runner
	set.MaxTimeout = config.Duration(200 * time.Millisecond)
	if err := Run(ctx, Config{Client: c, Log: testLog(t), Once: true, Settings: set}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("the jobs ran %v", d)
	}
	for _, name := range []string{"short", "bounded"} {
		if st := state(t, c, w, "one", name); !strings.Contains(st.Error, "time limit") && !strings.Contains(st.Error, "longer than") {
			t.Errorf("%s: %+v", name, st)
		}
	}
}

// TestDynamicConfig: `.distkv config runner` overrides the runner's
// settings while it runs.
func TestDynamicConfig(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Where{}
	setCode(t, c, "slow", `dkv.sleep(30)`)
	none := 0.0
	setConfig := func(v pack.Map) {
		t.Helper()
		if _, err := c.Set(ctx, ConfigRoot.Child(path.Str("runner")), v); err != nil {
			t.Fatal(err)
		}
	}
	setConfig(pack.Map{{Key: "max_timeout", Value: "100ms"}, {Key: "nodes", Value: int64(1)}})
	setJob(t, c, w, "slow", Job{Code: path.P("slow"), Target: Now(), Timeout: &none, Delay: DefaultDelay, Backoff: DefaultBackoff})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Client: c, Log: testLog(t)}) }()
	waitFor(t, "the job cut at 100ms", func() bool { return strings.Contains(state(t, c, w, "one", "slow").Error, "100ms") })
	// A change takes effect while the runner runs: the job, started again
	// and again, is cut at the new bound.
	setConfig(pack.Map{{Key: "max_timeout", Value: "300ms"}})
	waitFor(t, "the job cut at 300ms", func() bool {
		if st := state(t, c, w, "one", "slow"); st.Node == "" {
			if strings.Contains(st.Error, "300ms") {
				return true
			}
			setJob(t, c, w, "slow", Job{Code: path.P("slow"), Target: Now(), Timeout: &none, Delay: DefaultDelay, Backoff: DefaultBackoff})
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})
	// A bad value is refused and the runner keeps what it had.
	setConfig(pack.Map{{Key: "timeout", Value: "-1s"}})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOverlay(t *testing.T) {
	base := config.Default().Runner
	got, err := overlay(base, pack.Map{{Key: "timeout", Value: int64(30)}, {Key: "max_timeout", Value: "1h"}, {Key: "nodes", Value: int64(3)}})
	if err != nil || got.Timeout.D() != 30*time.Second || got.MaxTimeout.D() != time.Hour || got.Nodes != 3 {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []any{"x", pack.Map{{Key: "nope", Value: int64(1)}}, pack.Map{{Key: "timeout", Value: "-1s"}}, pack.Map{{Key: "nodes", Value: []any{}}}} {
		if got, err := overlay(base, bad); err == nil || got != base {
			t.Errorf("%v: %+v %v", bad, got, err)
		}
	}
}

// TestChains: a job updates an entry with its chain as precondition; a
// stale chain is a conflict the job can catch.
func TestChains(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx := context.Background()
	w := Where{}
	if _, err := c.Set(ctx, path.P("counter"), int64(41)); err != nil {
		t.Fatal(err)
	}
	setCode(t, c, "inc", `
		local v, chain = dkv.get("counter")
		local new = dkv.set("counter", v + 1, chain)
		local ok, err = pcall(dkv.set, "counter", 100, chain)
		local _, none = dkv.get("fresh")
		dkv.set("fresh", "made", none)
		local again = pcall(dkv.set, "fresh", "twice", none)
		return {ok, string.find(err, "conflict at counter") ~= nil, again, new.node}`)
	setJob(t, c, w, "inc", Job{Code: path.P("inc"), Target: Now(), Delay: DefaultDelay, Backoff: DefaultBackoff})
	if err := Run(ctx, Config{Client: c, Log: testLog(t), Once: true}); err != nil {
		t.Fatal(err)
	}
	st := state(t, c, w, "one", "inc")
	if got := fmt.Sprint(st.Result); got != "[false true false one]" || st.Error != "" {
		t.Fatalf("result %v, error %q", got, st.Error)
	}
	e, _ := c.Get(ctx, path.P("counter"))
	if v, _ := e.Value(); v != int64(42) {
		t.Fatalf("counter %v", v)
	}
}

// TestSpread: jobs that fall due at once spread over the group's runners.
func TestSpread(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Where{}
	setCode(t, c, "who", `print(dkv.node())`)
	outs := map[string]*bytes.Buffer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range []string{"r1", "r2", "r3"} {
		out := &bytes.Buffer{}
		outs[node] = out
		wg.Go(func() {
			Run(ctx, Config{Client: connect(t, s), Node: node, Log: testLog(t), Out: lockedBuffer{out, &mu}})
		})
	}
	waitFor(t, "the runners to see each other", func() bool {
		n := 0
		for range c.GetTree(ctx, Where{}.Members(), client.TreeOptions{MinDepth: 1}) {
			n++
		}
		return n == 3
	})
	time.Sleep(Ping + 100*time.Millisecond) // each has read the others' entries (not a timing assertion)
	for i := range 30 {
		setJob(t, c, w, fmt.Sprintf("j%d", i), Job{Code: path.P("who"), Target: Now(), Delay: DefaultDelay, Backoff: DefaultBackoff})
	}
	count := func() (map[string]int, int) {
		mu.Lock()
		defer mu.Unlock()
		m, all := map[string]int{}, 0
		for n, b := range outs {
			m[n] = strings.Count(b.String(), "\n")
			all += m[n]
		}
		return m, all
	}
	waitFor(t, "30 runs", func() bool { _, all := count(); return all >= 30 })
	cancel()
	wg.Wait()
	m, all := count()
	if all != 30 {
		t.Fatalf("%d runs of 30 jobs: %v", all, m)
	}
	for n, k := range m {
		if k < 3 {
			t.Errorf("runner %s ran %d of 30 jobs: %v", n, k, m)
		}
	}
	t.Logf("runs per runner: %v", m)
}

type lockedBuffer struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestSameName: of two runners of one group with the same name, the one
// started later stops with an error that says so.
func TestSameName(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- Run(ctx, Config{Client: connect(t, s), Node: "twin", Log: testLog(t)}) }()
	c := connect(t, s)
	waitFor(t, "the first runner's heartbeat", func() bool { // so that it is the older one
		e, _ := c.Get(ctx, Where{}.Members().Child(path.Str("twin")))
		return e.HasValue
	})
	second := make(chan error, 1)
	go func() { second <- Run(ctx, Config{Client: connect(t, s), Node: "twin", Log: testLog(t)}) }()
	select {
	case err := <-second:
		if err == nil || !strings.Contains(err.Error(), "another runner named twin") {
			t.Fatalf("the second runner: %v", err)
		}
	case err := <-first:
		t.Fatalf("the first runner stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("neither runner noticed the other")
	}
	select {
	case err := <-first:
		t.Fatalf("the first runner stopped too: %v", err)
	case <-time.After(2 * Ping):
	}
}

// TestStopIsNotLoss: when the daemon's context ends, its mirrors end too,
// with ErrClosed. The main loop may wake for a mirror's change before it
// sees ctx.Done; that must read as a stop, not as a lost server (CI saw
// TestEvents fail with "lost the server: connection closed").
func TestStopIsNotLoss(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	m, err := c.Mirror(ctx, path.P("x"), client.MirrorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	m.Close()
	if m.Err() == nil {
		t.Fatal("a mirror whose context ended has no error")
	}
	d := &daemon{jobs: m, states: m, code: m}
	if err := d.lost(ctx); err != nil {
		t.Fatalf("a stopped runner reports %v", err)
	}
	if err := d.lost(context.Background()); err == nil || !strings.Contains(err.Error(), "lost the server") {
		t.Fatalf("a mirror that ended while the runner runs: %v", err)
	}
}
