package metrics_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/testserver"
	"github.com/distkv-go/distkv/luart"
	"github.com/distkv-go/distkv/metrics"
)

// setup runs a server with a change log, and serves its metrics and
// those of a Lua runtime (the server's types and codecs would run in it).
func setup(t *testing.T) (*server.Server, *luart.Runtime, *client.Client, string) {
	t.Helper()
	rt := luart.New(luart.ValidatorLimits)
	s := testserver.Start(t, server.Config{LogSync: persist.SyncAlways})
	if err := s.StartLog(filepath.Join(t.TempDir(), "log"), false); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(metrics.New(metrics.Sources{Server: s, Lua: rt, Version: "v0.test"}).Handler())
	t.Cleanup(h.Close)
	return s, rt, testserver.Connect(t, s, ""), h.URL
}

// scrape fetches and parses the metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return mfs
}

// documented returns the families docs/metrics.md lists, with their types.
func documented(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([a-z]+) \\|")
	fams := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		fams[m[1]] = m[2]
	}
	if len(fams) == 0 {
		t.Fatal("docs/metrics.md documents no family")
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include want (a counter's, a gauge's, or a histogram's count).
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no sample %s%v", name, want)
	return 0
}

// TestScrape drives a server (gets, sets, a watch, a failed request, a
// job state and an error record) and its Lua runtime (a call that
// passes, one that fails, one that breaks a limit), scrapes it, and
// checks that every family is documented, every documented family is
// scraped with its documented type, and the values moved.
func TestScrape(t *testing.T) {
	_, rt, c, url := setup(t)
	ctx := context.Background()
	before := scrape(t, url)

	// One get or set in 8 of a connection is timed: 16 sets and 8 gets
	// time 3 of them.
	for i := range 16 {
		if _, err := c.Set(ctx, path.P("a"), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		if _, err := c.Get(ctx, path.P("a")); err != nil {
			t.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	events := c.Watch(wctx, path.P("a"), client.WatchOptions{Fetch: true})
	for ev, err := range events {
		if err != nil {
			t.Fatal(err)
		}
		if ev.UpToDate {
			break // the loop's end stops the watch
		}
	}
	stop()
	// A request that fails: set_internal without a value.
	if _, err := c.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: path.P("x")}}); err == nil {
		t.Fatal("set_internal without a value passed")
	}
	// Lua: a call that passes, one that fails, one that breaks a limit.
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{`return value + 1`, true},
		{`error("not a number")`, false},
		{`local s = string.rep("x", 4 * 1024 * 1024)`, false},
	} {
		sc, err := luart.Compile("t", tc.code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Call(ctx, sc, []luart.Var{{Name: "value", Value: int64(1)}}, nil); (err == nil) != tc.ok {
			t.Fatalf("%s: %v", tc.code, err)
		}
	}
	// A running job and an open error, as runners and errlog write them.
	state := pack.Map{{Key: "node", Value: "r1"}, {Key: "started", Value: 10.0}, {Key: "stopped", Value: 0.0}}
	if _, err := c.Set(ctx, path.Must(".distkv", "state", "any", "default", "job"), state); err != nil {
		t.Fatal(err)
	}
	rec := pack.Map{{Key: "path", Value: path.P("job")}, {Key: "subsystem", Value: "runner"}, {Key: "resolved", Value: false}}
	if _, err := c.Set(ctx, path.Must(".distkv", "error", "r1", int64(7)), rec); err != nil {
		t.Fatal(err)
	}

	after := scrape(t, url)
	docs := documented(t)
	var names []string
	for name := range after {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue // Go's collectors, documented as a group
		}
		typ, ok := docs[name]
		if !ok {
			t.Errorf("%s is scraped but not in docs/metrics.md", name)
			continue
		}
		if got := strings.ToLower(after[name].GetType().String()); got != typ {
			t.Errorf("%s is a %s, docs/metrics.md says %s", name, got, typ)
		}
	}
	for name := range docs {
		if after[name] == nil {
			t.Errorf("%s is in docs/metrics.md but not scraped", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if after[name] == nil {
			t.Errorf("%s is not scraped: Go's collectors are missing", name)
		}
	}

	moved := func(name string, min float64, labels ...string) {
		t.Helper()
		if d := value(t, after, name, labels...) - value(t, before, name, labels...); d < min {
			t.Errorf("%s%v moved by %v, want at least %v", name, labels, d, min)
		}
	}
	moved("distkv_requests_total", 5, "action", "set_value", "outcome", "ok")
	moved("distkv_requests_total", 1, "action", "get_value", "outcome", "ok")
	moved("distkv_requests_total", 1, "action", "watch", "outcome", "ok")
	moved("distkv_requests_total", 1, "action", "set_internal", "outcome", "error")
	moved("distkv_request_duration_seconds", 2, "action", "set_value")
	moved("distkv_request_duration_seconds", 1, "action", "get_value")
	moved("distkv_log_records_total", 5)
	moved("distkv_log_written_bytes_total", 1)
	moved("distkv_lua_calls_total", 3)
	moved("distkv_lua_errors_total", 1)
	moved("distkv_lua_limit_hits_total", 1, "limit", "string")
	moved("distkv_runner_jobs", 1, "state", "running")
	moved("distkv_errors", 1, "state", "open")
	moved("distkv_tree_values", 3)
	moved("distkv_tree_value_bytes", 10)
	if n := value(t, after, "distkv_client_connections"); n != 1 {
		t.Errorf("distkv_client_connections = %v, want 1", n)
	}
	if n := value(t, after, "distkv_build_info", "version", "v0.test"); n != 1 {
		t.Errorf("distkv_build_info = %v", n)
	}
	// Label values come from fixed lists: an unknown action is "other".
	if _, err := c.Request(ctx, "no such action", nil); err == nil {
		t.Fatal("an unknown action passed")
	}
	last := scrape(t, url)
	if n := value(t, last, "distkv_requests_total", "action", "other", "outcome", "error"); n != 1 {
		t.Errorf("requests of action other: %v, want 1", n)
	}
	for _, m := range last["distkv_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetValue() == "no such action" {
				t.Error("a client's action became a label value")
			}
		}
	}
}

// TestNilSources: a registry of nothing but Go's collectors still serves.
func TestNilSources(t *testing.T) {
	h := httptest.NewServer(metrics.New(metrics.Sources{}).Handler())
	defer h.Close()
	mfs := scrape(t, h.URL)
	for name := range mfs {
		if strings.HasPrefix(name, "distkv_") {
			t.Errorf("%s without a source", name)
		}
	}
}

// TestDashboard: the sample Grafana dashboard is valid JSON, and every
// query names documented families only.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../scripts/grafana/distkv.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("scripts/grafana/distkv.json: %v", err)
	}
	var exprs []string
	var find func(v any)
	find = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					exprs = append(exprs, s)
				}
				find(x)
			}
		case []any:
			for _, x := range v {
				find(x)
			}
		}
	}
	find(dash)
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	docs := documented(t)
	name := regexp.MustCompile(`\b(distkv|go|process)_[a-z0-9_]+`)
	for _, e := range exprs {
		found := name.FindAllString(e, -1)
		if len(found) == 0 {
			t.Errorf("query %q names no metric", e)
		}
		for _, n := range found {
			if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
				continue
			}
			base := n
			if typ, ok := docs[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")]; ok && typ == "histogram" {
				base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
			}
			if _, ok := docs[base]; !ok {
				t.Errorf("query %q names %s, which docs/metrics.md does not document", e, n)
			}
		}
	}
}
