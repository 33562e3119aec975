package errlog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// ReadOptions select what Read returns.
type ReadOptions struct {
	Traces bool // also read the trace records (Record.Traces, Listing.Orphans)
}

// Listing is what Read found below Root.
type Listing struct {
	// Records are ordered by subsystem and path; of two records of one
	// (path, subsystem), not merged yet, the one that stays comes first.
	Records []Record
	Invalid []Invalid   // entries where a record belongs that hold none
	Orphans []path.Path // with Traces: trace records below no record
}

// Invalid is an entry below Root, at the depth of records, that is none.
type Invalid struct {
	At  path.Path
	Err error
}

// Read reads the error records (with o.Traces their trace records too)
// in one walk of Root. It needs no Log.
func Read(ctx context.Context, c *client.Client, o ReadOptions) (Listing, error) {
	var out Listing
	maxDepth := 2
	if o.Traces {
		maxDepth = 3
	}
	var last *Record // the record the trace records that follow belong to
	for e, err := range c.GetTree(ctx, Root, client.TreeOptions{MinDepth: 2, MaxDepth: maxDepth, Chains: 1}) {
		if err != nil {
			return out, fmt.Errorf("errlog: read %v: %w", Root, err)
		}
		at := Root.Join(e.Path)
		if e.Path.Len() == 2 {
			last = nil
			rec, err := parseRecord(e.Raw)
			if err != nil {
				out.Invalid = append(out.Invalid, Invalid{At: at, Err: err})
				continue
			}
			rec.At, rec.Chain, rec.tock = at, e.Chain, e.Tock
			out.Records = append(out.Records, rec)
			last = &out.Records[len(out.Records)-1]
			continue
		}
		node, _ := e.Path.Last().StrValue()
		if last == nil || at.Parent() != last.At {
			out.Orphans = append(out.Orphans, at)
			continue
		}
		t, err := parseTrace(e.Raw)
		if err != nil {
			t = NodeTrace{Message: err.Error()}
		}
		t.Node, t.At = node, at
		last.Traces = append(last.Traces, t)
	}
	slices.SortStableFunc(out.Records, func(a, b Record) int {
		if c := strings.Compare(a.Subsystem, b.Subsystem); c != 0 {
			return c
		}
		if c := path.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		switch {
		case before(&a, &b):
			return -1
		case before(&b, &a):
			return 1
		}
		return 0
	})
	return out, nil
}

// ResolveRecord marks rec resolved unless it is: "resolved" becomes the
// server's tock. A record changed meanwhile is re-read and resolved
// again; one deleted meanwhile stays deleted.
func ResolveRecord(ctx context.Context, c *client.Client, rec Record) error {
	rep, err := c.Request(ctx, wire.GetTock, nil)
	if err != nil {
		return fmt.Errorf("errlog: resolve %v: %w", rec.At, err)
	}
	tock := max(rep.Tock, 1)
	for try := range maxTries {
		if rec.Resolved {
			return nil
		}
		_, err := c.Set(ctx, rec.At, resolved(rec, tock), client.IfChain(rec.Chain))
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("errlog: resolve %v: %w", rec.At, err)
		}
		e, err := c.Get(ctx, rec.At, client.Chains(1))
		if err != nil {
			return fmt.Errorf("errlog: resolve %v: %w", rec.At, err)
		}
		if !e.HasValue {
			return nil
		}
		at := rec.At
		if rec, err = parseRecord(e.Raw); err != nil {
			return fmt.Errorf("errlog: resolve %v: %w", at, err)
		}
		rec.At, rec.Chain = at, e.Chain
		if err := pause(ctx, try); err != nil {
			return fmt.Errorf("errlog: resolve %v: %w", rec.At, err)
		}
	}
	return fmt.Errorf("errlog: resolve %v: %w", rec.At, ErrContention)
}

// Delete deletes the entry at (a record or a trace record) and everything
// below it, and returns how many values it deleted.
func Delete(ctx context.Context, c *client.Client, at path.Path) (int, error) {
	if !at.HasPrefix(Root) || at.Len() <= Root.Len() {
		return 0, fmt.Errorf("errlog: delete %v: not below %v", at, Root)
	}
	n, err := c.DeleteTree(ctx, at)
	if err != nil {
		return n, fmt.Errorf("errlog: delete %v: %w", at, err)
	}
	return n, nil
}
