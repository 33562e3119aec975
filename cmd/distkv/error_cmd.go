package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/errlog"
)

// ErrorCmd is `distkv client error`: the error records of package errlog.
type ErrorCmd struct {
	List    ErrorListCmd    `cmd:"" help:"Print the error records: the open ones, or with -r all."`
	Add     ErrorAddCmd     `cmd:"" help:"Record a failure of PATH in SUBSYSTEM, as runners record theirs."`
	Resolve ErrorResolveCmd `cmd:"" help:"Mark the open error records of PATH resolved."`
	Delete  ErrorDeleteCmd  `cmd:"" help:"Delete the error records of PATH, or with --resolved all resolved ones."`
}

func (ErrorCmd) Help() string {
	return `DistKV remembers failures (a runner's job that fails, a stored type or
codec that fails at run time) under :.distkv.error, one record per failing
path and subsystem, however often and on however many nodes it failed:
how often (count), when (first_seen, last_seen), how bad (severity, 0
fatal ... 7), whether it is resolved, and per node the latest message and
trace. A runner marks its job's record resolved when the job next
succeeds; a failure after that reopens the record.

Examples:
  distkv client error list -d_
  distkv client error list -d_ :.distkv.run.any
  distkv client error list -a :.distkv.run.any.what.me.worry
  distkv client error resolve :.distkv.run.any.what.me.worry run
  distkv client error delete --resolved`
}

// ErrorListCmd is `error list`.
type ErrorListCmd struct {
	AsDict    *string `short:"d" name:"as-dict" placeholder:"KEY" help:"Print a nested mapping: subsystem, then the path's elements, the record under KEY (-d_)."`
	All       bool    `name:"all" help:"(-a) Add every node's trace record (message, trace, …) under 'nodes'."`
	Node      string  `short:"n" placeholder:"NODE" help:"Only the records NODE saw, with NODE's trace record."`
	Subsystem string  `short:"s" placeholder:"NAME" help:"Only the records of this subsystem (and no subsystem level with -d)."`
	Resolved  bool    `short:"r" help:"Also print resolved records."`
	Path      pathArg `arg:"" optional:"" help:"Only the records of paths at or below PATH, printed relative to it. ${path_help}"`
}

func (ErrorListCmd) Help() string {
	return `Each record shows the failing path, the subsystem, severity, resolved
(false, or the tock when it was resolved), count, created, first_seen and
last_seen (Unix seconds; the fields starting with _ show them as local
time) and syspath (where the record is, below :.distkv.error: the node
that first recorded it and a tock). Resolved records are left out unless
-r is given.

Examples:
  distkv client error list -d_
  distkv client error list -d_ :.distkv.run.any    # paths relative to the prefix
  distkv client error list -a                      # with every node's message and trace
  distkv client error list -n $(hostname)          # what this node saw`
}

func (c *ErrorListCmd) Run(ctx context.Context, k *connector, g *globals) error {
	prefix, cl, err := k.at(ctx, c.Path)
	if err != nil {
		return err
	}
	details := c.All || c.Node != ""
	ls, err := errlog.Read(ctx, cl, errlog.ReadOptions{Traces: details})
	if err != nil {
		return err
	}
	for _, bad := range ls.Invalid {
		fmt.Fprintf(g.stderr, "distkv: skipping %v: %v\n", bad.At, bad.Err)
	}
	var list []any
	nest := newNested()
	seen := map[string]bool{} // subsystem and path: the first one stays, later duplicates are not merged yet
	for _, r := range ls.Records {
		rel, ok := r.Path.TrimPrefix(prefix)
		switch {
		case !ok, r.Resolved && !c.Resolved, c.Subsystem != "" && r.Subsystem != c.Subsystem:
			continue
		}
		v := recordMap(r, rel, c.AsDict == nil)
		if details {
			nodes := pack.Map{}
			for _, t := range r.Traces {
				if c.Node == "" || t.Node == c.Node {
					nodes = append(nodes, pack.KV{Key: t.Node, Value: withDates(t.Value)})
				}
			}
			if c.Node != "" && len(nodes) == 0 {
				continue
			}
			v = append(v, pack.KV{Key: "nodes", Value: nodes})
		}
		if c.AsDict == nil {
			list = append(list, v)
			continue
		}
		at := rel
		if c.Subsystem == "" {
			at = path.Must(r.Subsystem).Join(rel)
		}
		if id := at.Encoded(); !seen[id] {
			seen[id] = true
			nest.put(at, *c.AsDict, v)
		}
	}
	switch {
	case c.AsDict != nil && len(seen) > 0:
		return printYAML(g.stdout, nest.tree())
	case list != nil:
		return printYAML(g.stdout, list)
	}
	return nil
}

// recordMap is what list prints of a record: its fields, the path
// relative to the prefix (left out with -d, where the nesting shows
// it), dates beside times, and where it is stored.
func recordMap(r errlog.Record, rel path.Path, withPath bool) pack.Map {
	var m pack.Map
	for _, kv := range withDates(r.Value) {
		if kv.Key == "path" {
			if !withPath {
				continue
			}
			kv.Value = rel
		}
		m = append(m, kv)
	}
	sys, _ := r.At.TrimPrefix(errlog.Root)
	return append(m, pack.KV{Key: "syspath", Value: sys})
}

// withDates adds "_KEY: date" after each time field of a record, as the
// original's list does.
func withDates(m pack.Map) pack.Map {
	var out pack.Map
	for _, kv := range m {
		out = append(out, kv)
		k, _ := kv.Key.(string)
		switch k {
		case "created", "first_seen", "last_seen", "seen":
		default:
			continue
		}
		if f, ok := kv.Value.(float64); ok && f > 0 && f < 1<<40 {
			sec := int64(f)
			t := time.Unix(sec, int64((f-float64(sec))*1e9))
			out = append(out, pack.KV{Key: "_" + k, Value: t.Format("2006-01-02 15:04:05.000")})
		}
	}
	return out
}

// ErrorAddCmd is `error add`.
type ErrorAddCmd struct {
	Node      string `short:"n" placeholder:"NODE" help:"The node that saw the failure (default: this host's name)."`
	Severity  string `short:"s" default:"error" placeholder:"LEVEL" help:"fatal, error, warning, info, note, debug, trace, or 0 to 7."`
	Message   string `short:"m" placeholder:"TEXT" help:"What went wrong, one line."`
	Trace     string `short:"t" placeholder:"TEXT" help:"A longer trace, e.g. a traceback; - reads it from standard input."`
	Comment   string `short:"c" placeholder:"TEXT" help:"A comment."`
	Data      string `short:"d" placeholder:"LITERAL" help:"What it takes to reproduce it, a literal: {'code': 'the.error'}."`
	Path      string `arg:"" help:"The path that failed, in text form."`
	Subsystem string `arg:"" help:"The subsystem, e.g. run, type, codec, or one of your own."`
}

func (ErrorAddCmd) Help() string {
	return `A record for PATH and SUBSYSTEM is made, or the existing one (open or
resolved) counts one more failure and is open again; the node's trace
record below it holds the message, trace, comment and data. Scripts may
record their own failures so.

Examples:
  distkv client error add -m "disk full" :.distkv.run.any.backup run
  some-job 2>&1 | distkv client error add -m "some-job failed" -t - jobs.some cron`
}

func (c *ErrorAddCmd) Run(ctx context.Context, k *connector, g *globals) error {
	f := errlog.Failure{Subsystem: c.Subsystem, Message: c.Message, Comment: c.Comment, Trace: c.Trace}
	var err error
	if f.Path, err = path.Parse(c.Path); err != nil {
		return err
	}
	if f.Severity, err = errlog.ParseSeverity(c.Severity); err != nil {
		return fmt.Errorf("-s: %w", err)
	}
	if c.Data != "" {
		if f.Data, err = literal.Parse(c.Data); err != nil {
			return fmt.Errorf("-d: %w", err)
		}
	}
	if c.Trace == "-" {
		b, err := io.ReadAll(g.stdin)
		if err != nil {
			return fmt.Errorf("-t -: %w", err)
		}
		f.Trace = string(b)
	}
	node := c.Node
	if node == "" {
		if node, err = os.Hostname(); err != nil {
			return fmt.Errorf("this host's name (give -n NODE): %w", err)
		}
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	l, err := errlog.Open(ctx, cl, node)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Record(ctx, f)
}

// ErrorResolveCmd is `error resolve`.
type ErrorResolveCmd struct {
	Path      string `arg:"" help:"The failed path, in text form, as 'error list' prints it (with no prefix)."`
	Subsystem string `arg:"" optional:"" help:"The subsystem; default: every subsystem's record of PATH."`
}

func (ErrorResolveCmd) Help() string {
	return `A record is named by the failed path and subsystem, as 'error list'
shows them, rather than by where it is stored (its syspath): that is
what a failure is, whichever node recorded it, and the storage name of a
failure changes when records that two nodes made for it at once merge.
A failure after resolving reopens the record.

Examples:
  distkv client error resolve :.distkv.run.any.what.me.worry run
  distkv client error resolve :.distkv.run.any.what.me.worry`
}

func (c *ErrorResolveCmd) Run(ctx context.Context, k *connector) error {
	recs, cl, err := k.records(ctx, c.Path, c.Subsystem, func(r errlog.Record) bool { return !r.Resolved })
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no open error record of %s", describe(c.Path, c.Subsystem))
	}
	for _, r := range recs {
		if err := errlog.ResolveRecord(ctx, cl, r); err != nil {
			return err
		}
	}
	return nil
}

// ErrorDeleteCmd is `error delete`.
type ErrorDeleteCmd struct {
	Resolved  bool   `name:"resolved" help:"Delete every resolved record at or below PATH (default: all), and trace records left without a record."`
	Path      string `arg:"" optional:"" help:"The failed path, in text form, as 'error list' prints it (with no prefix)."`
	Subsystem string `arg:"" optional:"" help:"The subsystem; default: every subsystem's record of PATH."`
}

func (ErrorDeleteCmd) Help() string {
	return `Deletes the records of PATH (open or resolved) with their trace records,
named as 'error resolve' names them. A failure after that makes a new
record. With --resolved it tidies up: every resolved record at or below
PATH goes.

Examples:
  distkv client error delete :.distkv.run.any.what.me.worry run
  distkv client error delete --resolved`
}

func (c *ErrorDeleteCmd) Run(ctx context.Context, k *connector) error {
	if !c.Resolved {
		if c.Path == "" {
			return fmt.Errorf("name the failed PATH (or give --resolved)")
		}
		recs, cl, err := k.records(ctx, c.Path, c.Subsystem, func(errlog.Record) bool { return true })
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("no error record of %s", describe(c.Path, c.Subsystem))
		}
		for _, r := range recs {
			if _, err := errlog.Delete(ctx, cl, r.At); err != nil {
				return err
			}
		}
		return nil
	}
	prefix := path.Root
	if c.Path != "" {
		var err error
		if prefix, err = path.Parse(c.Path); err != nil {
			return err
		}
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	ls, err := errlog.Read(ctx, cl, errlog.ReadOptions{Traces: true})
	if err != nil {
		return err
	}
	var doomed []path.Path
	for _, r := range ls.Records {
		if r.Resolved && r.Path.HasPrefix(prefix) && (c.Subsystem == "" || r.Subsystem == c.Subsystem) {
			doomed = append(doomed, r.At)
		}
	}
	for _, at := range append(doomed, ls.Orphans...) {
		if _, err := errlog.Delete(ctx, cl, at); err != nil {
			return err
		}
	}
	return nil
}

// records reads the records of the failed path text (exactly) and
// subsystem ("": any) that keep accepts.
func (k *connector) records(ctx context.Context, text, subsystem string, keep func(errlog.Record) bool) ([]errlog.Record, *client.Client, error) {
	p, err := path.Parse(text)
	if err != nil {
		return nil, nil, err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	ls, err := errlog.Read(ctx, cl, errlog.ReadOptions{})
	if err != nil {
		return nil, nil, err
	}
	var out []errlog.Record
	for _, r := range ls.Records {
		if r.Path == p && (subsystem == "" || r.Subsystem == subsystem) && keep(r) {
			out = append(out, r)
		}
	}
	return out, cl, nil
}

func describe(p, subsystem string) string {
	if subsystem == "" {
		return p
	}
	return strings.Join([]string{p, subsystem}, " in ")
}
