package console_test

import (
	"testing"

	"github.com/distkv-go/distkv/console"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/runner"
)

func TestRunners(t *testing.T) {
	e := newEnv(t)
	set := func(p path.Path, v any) {
		t.Helper()
		if _, err := e.root.Set(ctxT(t), p, v); err != nil {
			t.Fatal(err)
		}
	}
	job := runner.Job{Code: path.P("lamp.toggle"), Target: 1e9, Repeat: 60, Info: "toggle"}
	set(runner.RunRoot.Join(path.P("any.default.toggle")), job.Value())
	set(runner.StateRoot.Join(path.P("any.default.toggle")), runner.State{Started: 1e9, Stopped: 1e9 + 1, Result: int64(42), Next: 1e9 + 61}.Value())
	set(runner.RunRoot.Join(path.P("all.g.each")), runner.Job{Code: path.P("x")}.Value())
	set(runner.StateRoot.Join(path.P("all.g.nodeA.each")), runner.State{Node: "nodeA", Started: 2e9}.Value())
	set(runner.RunRoot.Join(path.P("at.nodeB.g.bad")), "not a job")

	out := e.browser().must(200, "GET", "/api/runners", nil)
	jobs := out["jobs"].([]any)
	if len(jobs) != 3 {
		t.Fatalf("jobs: %v", jobs)
	}
	byPath := map[string]map[string]any{}
	for _, j := range jobs {
		m := j.(map[string]any)
		byPath[m["path"].(string)] = m
	}
	toggle := byPath[runner.RunRoot.Join(path.P("any.default.toggle")).String()]
	st := toggle["states"].([]any)[0].(map[string]any)
	if toggle["mode"] != "any" || toggle["code"] != "lamp.toggle" || toggle["info"] != "toggle" || st["result"] != "42" || st["running"] != false || st["next"] == nil {
		t.Fatalf("toggle: %v", toggle)
	}
	each := byPath[runner.RunRoot.Join(path.P("all.g.each")).String()]
	st = each["states"].([]any)[0].(map[string]any)
	if each["mode"] != "all" || st["for"] != "nodeA" || st["running"] != true || st["runner"] != "nodeA" {
		t.Fatalf("each: %v", each)
	}
	bad := byPath[runner.RunRoot.Join(path.P("at.nodeB.g.bad")).String()]
	if bad["mode"] != "single" || bad["node"] != "nodeB" || bad["error"] == nil {
		t.Fatalf("bad: %v", bad)
	}
}

func TestNetwork(t *testing.T) {
	e := newEnv(t)
	e.set("a", int64(1))
	out := e.browser().must(200, "GET", "/api/network", nil)
	nodes := out["nodes"].([]any)
	if out["node"] != "one" || len(nodes) != 1 {
		t.Fatalf("network: %v", out)
	}
	n := nodes[0].(map[string]any)
	if n["name"] != "one" || n["tick"].(float64) < 1 || n["state"] != "complete" {
		t.Fatalf("node: %v", n)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	l, err := errlog.Open(ctxT(t), e.root, "one")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Record(ctxT(t), errlog.Failure{Path: path.P("job.x"), Subsystem: "run", Severity: 1, Message: "Owch", Trace: "line 1\nline 2", Data: int64(7)}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	out := b.must(200, "GET", "/api/errors", nil)
	recs := out["records"].([]any)
	if len(recs) != 1 {
		t.Fatalf("records: %v", out)
	}
	r := recs[0].(map[string]any)
	tr := r["traces"].([]any)[0].(map[string]any)
	if r["path"] != "job.x" || r["subsystem"] != "run" || r["resolved"] != false || r["count"] != 1.0 || tr["message"] != "Owch" || tr["trace"] != "line 1\nline 2" || tr["data"] != "7" {
		t.Fatalf("record: %v", r)
	}
	b.must(200, "POST", "/api/errors/resolve", map[string]any{"at": r["at"]})
	r = b.must(200, "GET", "/api/errors", nil)["records"].([]any)[0].(map[string]any)
	if r["resolved"] != true {
		t.Fatalf("after resolve: %v", r)
	}
	b.must(404, "POST", "/api/errors/resolve", map[string]any{"at": errlog.Root.Join(path.P("one.:99")).String()})
}

// TestNetworkLinks: the network page lists the links Config.Links gives.
func TestNetworkLinks(t *testing.T) {
	e := newEnv(t)
	links := []console.Link{{Name: "two", Addr: "10.0.0.2:7946", Connected: true}, {Name: "three", Addr: "10.0.0.3:7946"}}
	e.con.Close()
	e.con = console.New(console.Config{Open: open(e.s), Node: "one", Links: func() []console.Link { return links }})
	e.http.Config.Handler = e.con
	out := e.browser().must(200, "GET", "/api/network", nil)
	got, _ := out["links"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["name"] != "two" || got[0].(map[string]any)["connected"] != true ||
		got[1].(map[string]any)["connected"] != false || got[1].(map[string]any)["addr"] != "10.0.0.3:7946" {
		t.Fatalf("links: %v", out["links"])
	}
}
