package errlog_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/internal/testserver"
)

// start runs a server on a free loopback port until the test ends.
func start(t *testing.T) *server.Server { return testserver.Start(t, server.Config{}) }

func connect(t *testing.T, s *server.Server) *client.Client { return testserver.Connect(t, s, "") }

// mustOpen opens a Log for node on a connection of its own.
func mustOpen(t *testing.T, s *server.Server, node string) *errlog.Log {
	t.Helper()
	l, err := errlog.Open(context.Background(), connect(t, s), node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustRecord(t *testing.T, l *errlog.Log, f errlog.Failure) {
	t.Helper()
	if err := l.Record(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, c *client.Client) errlog.Listing {
	t.Helper()
	ls, err := errlog.Read(context.Background(), c, errlog.ReadOptions{Traces: true})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// only returns the one record there is, or fails.
func only(t *testing.T, c *client.Client) errlog.Record {
	t.Helper()
	ls := read(t, c)
	if len(ls.Records) != 1 {
		t.Fatalf("want one record, have %d: %+v", len(ls.Records), ls.Records)
	}
	return ls.Records[0]
}

// eventually waits until f returns nil: other Logs see changes through
// their watches, asynchronously.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	testserver.Eventually(t, f)
}

func nodes(r errlog.Record) string {
	var ns []string
	for _, tr := range r.Traces {
		ns = append(ns, tr.Node)
	}
	return strings.Join(ns, ",")
}

var owch = errlog.Failure{
	Path: path.P(":.distkv.run.any.what.me.worry"), Subsystem: "run", Severity: errlog.Error,
	Message: "Owch", Trace: "stack traceback:\n\t[string \"the.error\"]:1: in main chunk", Data: pack.Map{{Key: "code", Value: path.P("the.error")}},
}

func TestRecordTwice(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	mustRecord(t, a, owch)
	first := only(t, c)
	mustRecord(t, a, owch)
	r := only(t, c)
	if r.Count != 2 || r.Resolved || r.At != first.At || r.Node() != "a" || r.Severity != errlog.Error {
		t.Errorf("after two failures: %+v (first: %v)", r, first.At)
	}
	if r.Path != owch.Path || r.Subsystem != "run" {
		t.Errorf("path %v subsystem %q", r.Path, r.Subsystem)
	}
	if !first.FirstSeen.Equal(r.FirstSeen) || r.LastSeen.Before(r.FirstSeen) || r.Created.IsZero() {
		t.Errorf("times: created %v first %v last %v", r.Created, r.FirstSeen, r.LastSeen)
	}
	if len(r.Traces) != 1 {
		t.Fatalf("trace records: %+v", r.Traces)
	}
	tr := r.Traces[0]
	if tr.Node != "a" || tr.Message != "Owch" || tr.Trace != owch.Trace || tr.Tock == 0 || tr.Seen.IsZero() {
		t.Errorf("trace record: %+v", tr)
	}
	if m, ok := tr.Data.(pack.Map); !ok || len(m) != 1 || m[0].Value != path.P("the.error") {
		t.Errorf("data: %#v", tr.Data)
	}
	if got, ok := a.Find(owch.Path, "run"); !ok || got.At != r.At {
		t.Errorf("Find: %+v, %v", got, ok)
	}
	if _, ok := a.Find(owch.Path, "type"); ok {
		t.Error("Find found another subsystem's record")
	}
}

// A second node, and a node started anew, find the record in the tree;
// resolving and failing again reopens the same record.
func TestOneRecordAcrossNodes(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	mustRecord(t, a, owch)
	mustRecord(t, a, owch)
	at := only(t, c).At

	b := mustOpen(t, s, "b")
	mustRecord(t, b, owch)
	r := only(t, c)
	if r.At != at || r.Count != 3 || nodes(r) != "a,b" {
		t.Fatalf("after a second node: %v count %d traces %s", r.At, r.Count, nodes(r))
	}

	if err := b.Resolve(context.Background(), owch.Path, "run"); err != nil {
		t.Fatal(err)
	}
	if r = only(t, c); !r.Resolved || r.Count != 3 {
		t.Fatalf("after Resolve: %+v", r)
	}
	if v, _ := r.Value.Get("resolved"); v == false || v == nil {
		t.Errorf("resolved holds %#v, want the tock", v)
	}
	eventually(t, func() error {
		if r, ok := a.Find(owch.Path, "run"); !ok || !r.Resolved {
			return errors.New("a does not see the resolution")
		}
		return nil
	})

	a.Close()
	a2 := mustOpen(t, s, "a") // a restarted
	mustRecord(t, a2, owch)
	if r = only(t, c); r.At != at || r.Resolved || r.Count != 4 {
		t.Fatalf("after failing again: %v resolved %v count %d", r.At, r.Resolved, r.Count)
	}
}

func TestResolveWithoutRecord(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	if err := a.Resolve(context.Background(), owch.Path, "run"); err != nil {
		t.Fatal(err)
	}
	if ls := read(t, c); len(ls.Records) != 0 {
		t.Errorf("Resolve without a record made one: %+v", ls.Records)
	}
	mustRecord(t, a, owch)
	if err := a.Resolve(context.Background(), owch.Path, "run"); err != nil {
		t.Fatal(err)
	}
	r := only(t, c)
	if err := a.Resolve(context.Background(), owch.Path, "run"); err != nil {
		t.Fatal(err)
	}
	if again := only(t, c); again.Chain[0] != r.Chain[0] {
		t.Error("resolving a resolved record changed it")
	}
}

// Records of other paths and subsystems are records of their own.
func TestDistinct(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	mustRecord(t, a, owch)
	other := owch
	other.Subsystem = "type"
	mustRecord(t, a, other)
	other.Path = path.P("some.where")
	mustRecord(t, a, other)
	ls := read(t, c)
	if len(ls.Records) != 3 {
		t.Fatalf("records: %+v", ls.Records)
	}
	var got []string
	for _, r := range ls.Records {
		got = append(got, r.Subsystem+" "+r.Path.String())
	}
	if want := "run :.distkv.run.any.what.me.worry,type :.distkv.run.any.what.me.worry,type some.where"; strings.Join(got, ",") != want {
		t.Errorf("order: %s", strings.Join(got, ","))
	}
	if err := a.Record(context.Background(), errlog.Failure{Path: owch.Path}); !errors.Is(err, errlog.ErrNoSubsystem) {
		t.Errorf("without a subsystem: %v", err)
	}
}

// The severity is the worst since the record opened.
func TestSeverity(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	f := owch
	for _, sev := range []errlog.Severity{errlog.Warning, errlog.Error, errlog.Debug} {
		f.Severity = sev
		mustRecord(t, a, f)
	}
	if r := only(t, c); r.Severity != errlog.Error {
		t.Errorf("severity %v, want error", r.Severity)
	}
	if err := a.Resolve(context.Background(), f.Path, f.Subsystem); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, a, f)
	if r := only(t, c); r.Severity != errlog.Debug {
		t.Errorf("severity after reopening %v, want debug", r.Severity)
	}
}

func TestTraceLimits(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	a := mustOpen(t, s, "a")
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	f := owch
	f.Trace = strings.Join(lines, "\n")
	f.Message = strings.Repeat("ä", 20000)
	f.Data = struct{ X chan int }{} // outside the value model
	mustRecord(t, a, f)
	tr := only(t, c).Traces[0]
	got := strings.Split(tr.Trace, "\n")
	if len(got) != 41 || got[9] != "line 9" || got[10] != "…" || got[11] != "line 70" || got[40] != "line 99" {
		t.Errorf("trace cut to %d lines: %q", len(got), got)
	}
	if len(tr.Message) > 16<<10 || !strings.HasSuffix(tr.Message, "ä…") {
		t.Errorf("message of %d bytes, ends %q", len(tr.Message), tr.Message[len(tr.Message)-8:])
	}
	if d, ok := tr.Data.(string); !ok || !strings.Contains(d, "<nil>") {
		t.Errorf("data outside the model: %#v", tr.Data)
	}
}

// Entries below Root that are no records are left alone and reported.
func TestInvalidEntries(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	ctx := context.Background()
	for p, v := range map[string]any{
		":.distkv.error.x:1":   "junk",
		":.distkv.error.x:2":   pack.Map{{Key: "subsystem", Value: "run"}},
		":.distkv.error.x:3":   pack.Map{{Key: "path", Value: int64(3)}, {Key: "subsystem", Value: "run"}},
		":.distkv.error.x:4.y": pack.Map{{Key: "seen", Value: 1.5}},
	} {
		if _, err := c.Set(ctx, path.P(p), v); err != nil {
			t.Fatal(err)
		}
	}
	a := mustOpen(t, s, "a")
	mustRecord(t, a, owch)
	ls := read(t, c)
	if len(ls.Records) != 1 || len(ls.Invalid) != 3 || len(ls.Orphans) != 1 || ls.Orphans[0] != path.P(":.distkv.error.x:4.y") {
		t.Fatalf("listing: %+v", ls)
	}
	for _, bad := range ls.Invalid {
		if !errors.Is(bad.Err, errlog.ErrNotRecord) {
			t.Errorf("%v: %v", bad.At, bad.Err)
		}
	}
}

// The tool's side: resolve and delete records found by Read.
func TestResolveRecordAndDelete(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	ctx := context.Background()
	a := mustOpen(t, s, "a")
	mustRecord(t, a, owch)
	r := only(t, c)
	mustRecord(t, a, owch) // r's chain is old now
	if err := errlog.ResolveRecord(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	if r = only(t, c); !r.Resolved || r.Count != 2 {
		t.Fatalf("after ResolveRecord: %+v", r)
	}
	if n, err := errlog.Delete(ctx, c, r.At); err != nil || n != 2 {
		t.Fatalf("Delete: %d, %v", n, err)
	}
	if _, err := errlog.Delete(ctx, c, path.P("elsewhere")); err == nil {
		t.Error("Delete outside Root")
	}
	eventually(t, func() error {
		if _, ok := a.Find(owch.Path, "run"); ok {
			return errors.New("the index still holds the deleted record")
		}
		return nil
	})
	mustRecord(t, a, owch) // a new record
	if r2 := only(t, c); r2.At == r.At || r2.Count != 1 {
		t.Errorf("after deletion: %+v", r2)
	}
}

// Two nodes that record the same new failure at the same time end with
// one record that counts every failure.
func TestConcurrent(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	logs := []*errlog.Log{mustOpen(t, s, "a"), mustOpen(t, s, "b")}
	const each, workers = 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, len(logs)*workers)
	for _, l := range logs {
		for range workers {
			wg.Go(func() {
				for range each {
					if err := l.Record(context.Background(), owch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	eventually(t, func() error {
		ls := read(t, c)
		if len(ls.Records) != 1 {
			return fmt.Errorf("%d records", len(ls.Records))
		}
		if r := ls.Records[0]; r.Count != int64(each*workers*len(logs)) || nodes(r) != "a,b" {
			return fmt.Errorf("count %d, traces of %s", r.Count, nodes(r))
		}
		if len(ls.Orphans) != 0 {
			return fmt.Errorf("orphans %v", ls.Orphans)
		}
		return nil
	})
}

// Duplicates made while two nodes could not see each other's records (a
// network split, say) merge once they can.
func TestMergeDuplicates(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	ctx := context.Background()
	// What a split leaves: two records of one failure, by a and b.
	rec := func(node string, tock int64, count int64, first float64, resolved any) {
		at := errlog.Root.Join(path.Must(node, tock))
		v := pack.Map{{Key: "path", Value: owch.Path}, {Key: "subsystem", Value: "run"}, {Key: "severity", Value: int64(1)},
			{Key: "resolved", Value: resolved}, {Key: "created", Value: first}, {Key: "count", Value: count},
			{Key: "first_seen", Value: first}, {Key: "last_seen", Value: first + 10}, {Key: "extra", Value: node}}
		if _, err := c.Set(ctx, at, v); err != nil {
			t.Fatal(err)
		}
		tr := pack.Map{{Key: "seen", Value: first + 10}, {Key: "tock", Value: tock}, {Key: "message", Value: "from " + node}}
		if _, err := c.Set(ctx, at.Child(path.Str(node)), tr); err != nil {
			t.Fatal(err)
		}
	}
	rec("a", 100, 5, 1000, int64(7)) // first seen: stays, but resolved
	rec("b", 50, 3, 2000, false)     // open: reopens the merged one
	mustOpen(t, s, "x")              // not theirs: leaves them alone
	if ls := read(t, c); len(ls.Records) != 2 {
		t.Fatalf("x merged: %+v", ls.Records)
	}
	b := mustOpen(t, s, "b")
	eventually(t, func() error {
		ls := read(t, c)
		if len(ls.Records) != 1 {
			return fmt.Errorf("%d records", len(ls.Records))
		}
		r := ls.Records[0]
		if r.At != path.P(":.distkv.error.a:100") || r.Count != 8 || r.Resolved || nodes(r) != "a,b" {
			return fmt.Errorf("merged: %v count %d resolved %v traces %s", r.At, r.Count, r.Resolved, nodes(r))
		}
		if !r.FirstSeen.Equal(time.Unix(1000, 0)) || !r.LastSeen.Equal(time.Unix(2010, 0)) {
			return fmt.Errorf("times %v %v", r.FirstSeen, r.LastSeen)
		}
		if v, _ := r.Value.Get("extra"); v != "a" {
			return fmt.Errorf("the winner's own fields: %v", v)
		}
		if len(ls.Orphans) != 0 {
			return fmt.Errorf("orphans %v", ls.Orphans)
		}
		return nil
	})
	mustRecord(t, b, owch)
	if r := only(t, c); r.Count != 9 {
		t.Errorf("after merging, b counts on: %d", r.Count)
	}
}

func TestOpenErrors(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	if _, err := errlog.Open(context.Background(), c, ""); err == nil {
		t.Error("Open without a node name")
	}
	l, err := errlog.Open(context.Background(), c, "a")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l.Close()
	if err := l.Record(context.Background(), owch); !errors.Is(err, errlog.ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
	l = mustOpen(t, s, "b")
	if l.Err() != nil {
		t.Fatal(l.Err())
	}
	c.Close()
	if _, err := errlog.Open(context.Background(), c, "a"); err == nil {
		t.Error("Open on a closed client")
	}
}

// A Log whose client closes says so, and its calls fail.
func TestClientClosed(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	l, err := errlog.Open(context.Background(), c, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.Close()
	eventually(t, func() error {
		if !errors.Is(l.Err(), client.ErrClosed) {
			return fmt.Errorf("Err: %v", l.Err())
		}
		return nil
	})
	if err := l.Record(context.Background(), owch); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Record: %v", err)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]errlog.Severity{"fatal": errlog.Fatal, "Error": errlog.Error, "6": errlog.Trace, "7": errlog.Severity(7), "note": errlog.Note} {
		if got, err := errlog.ParseSeverity(in); err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"8", "-1", "bad", ""} {
		if _, err := errlog.ParseSeverity(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if errlog.Warning.String() != "warning" || errlog.Severity(9).String() != "severity(9)" {
		t.Error("String")
	}
}

// Close stops every goroutine of the Log, a merge in progress too.
func TestCloseStopsGoroutines(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	// A duplicate of b's, which b merges once it sees both.
	for _, at := range []string{":.distkv.error.a:1", ":.distkv.error.b:2"} {
		v := pack.Map{{Key: "path", Value: owch.Path}, {Key: "subsystem", Value: "run"}, {Key: "first_seen", Value: float64(len(at))}}
		if _, err := c.Set(context.Background(), path.P(at), v); err != nil {
			t.Fatal(err)
		}
	}
	l, err := errlog.Open(context.Background(), connect(t, s), "b")
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, l, owch)
	l.Close()
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "errlog.(*Log)") {
		t.Errorf("goroutines left after Close:\n%s", stacks)
	}
}
