package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/luart"
)

// dkv is the module a job's code gets as the variable dkv. Paths are
// path values or strings in the text form ("one.two", ":.distkv.x").
//
//	dkv.get(p)          the value at p and its chain, or nil and false
//	dkv.set(p, v [, c]) stores v at p; with a chain c (from get or set) only
//	                    if p's newest change is still c's, with false only if
//	                    p has no value; returns the new chain (a failed
//	                    condition is an error starting "conflict at")
//	dkv.delete(p)       deletes the value at p
//	dkv.log(…)          logs its arguments (at info level)
//	dkv.sleep(s)        waits s seconds (the job's time limit goes on)
//	dkv.node()          this runner's name
//	dkv.path()          the job's own path
//	dkv.group()         {state = "complete"|"partial"|"detached", members = {…}}
//	dkv.time()          the time, Unix seconds
//	dkv.watch(p, o)     sends the changes at and below p as events (see events.go)
//	dkv.timer(s, name)  sends a timer event after s seconds
//	dkv.events()        for msg in dkv.events() do … end: the next event
func (d *daemon) dkv(rel path.Path) luart.Module {
	job := d.jobsAt.Join(rel)
	m := luart.Module{
		"get": func(ctx context.Context, args []any) ([]any, error) {
			p, err := pathArg(args, 0, "get")
			if err != nil {
				return nil, err
			}
			e, err := d.c.Get(ctx, p, client.Chains(1))
			if err != nil {
				return nil, err
			}
			if !e.HasValue {
				return []any{nil, false}, nil
			}
			v, err := e.Value()
			return []any{v, chainValue(e.Chain)}, err
		},
		"set": func(ctx context.Context, args []any) ([]any, error) {
			p, err := pathArg(args, 0, "set")
			if err != nil {
				return nil, err
			}
			if len(args) < 2 {
				return nil, errors.New("dkv.set(path, value [, chain]): no value")
			}
			var opts []client.Option
			if len(args) > 2 && args[2] != nil {
				c, err := chainArg(args[2])
				if err != nil {
					return nil, err
				}
				opts = append(opts, client.IfChain(c))
			}
			res, err := d.c.Set(ctx, p, args[1], opts...)
			var ce *client.ConflictError
			if errors.As(err, &ce) {
				return nil, fmt.Errorf("conflict at %v: %v", p, ce.Err)
			}
			if err != nil {
				return nil, err
			}
			return []any{chainValue(res.Chain)}, nil
		},
		"delete": func(ctx context.Context, args []any) ([]any, error) {
			p, err := pathArg(args, 0, "delete")
			if err != nil {
				return nil, err
			}
			_, err = d.c.Delete(ctx, p)
			return nil, err
		},
		"log": func(_ context.Context, args []any) ([]any, error) {
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = fmt.Sprint(a)
			}
			d.log.Info(strings.Join(parts, " "), "job", job.String())
			return nil, nil
		},
		"sleep": func(ctx context.Context, args []any) ([]any, error) {
			if len(args) < 1 {
				return nil, errors.New("dkv.sleep(seconds): no time")
			}
			s, err := seconds(args[0])
			if err != nil || s < 0 {
				return nil, fmt.Errorf("dkv.sleep(seconds): %v is no number of seconds", args[0])
			}
			sleep(ctx, time.Duration(s*float64(time.Second)))
			return nil, ctx.Err()
		},
		"node":  func(context.Context, []any) ([]any, error) { return []any{d.cfg.Node}, nil },
		"path":  func(context.Context, []any) ([]any, error) { return []any{job}, nil },
		"group": func(context.Context, []any) ([]any, error) { return []any{d.group()}, nil },
		"time":  func(context.Context, []any) ([]any, error) { return []any{Now()}, nil },
	}
	newEvents(d).functions(m)
	return m
}

// group is the group's state as jobs see it.
func (d *daemon) group() pack.Map {
	names := d.members.list()
	list := make([]any, len(names))
	for i, n := range names {
		list[i] = n
	}
	return pack.Map{{Key: "state", Value: d.groupState(len(names))}, {Key: "members", Value: list}}
}

// groupState names how whole the group is, as jobs see it: "complete"
// with Settings.Nodes runners up (or, without it, more than this one),
// "detached" when this runner is alone, else "partial".
func (d *daemon) groupState(n int) string {
	nodes := d.settings.Load().Nodes
	switch {
	case nodes > 0 && n >= nodes, nodes == 0 && n > 1:
		return "complete"
	case n <= 1:
		return "detached"
	}
	return "partial"
}

// chainValue is a chain as jobs see it: {node = NAME, tick = N} of the
// newest change (what a precondition needs).
func chainValue(c client.Chain) any {
	if len(c) == 0 {
		return false
	}
	return pack.Map{{Key: "node", Value: c[0].Node}, {Key: "tick", Value: c[0].Tick}}
}

// chainArg reads a chain a job gives back: false is "no value yet".
func chainArg(v any) (client.Chain, error) {
	if v == false {
		return nil, nil
	}
	m, ok := v.(pack.Map)
	node, _ := m.Get("node")
	tick, _ := m.Get("tick")
	name, _ := node.(string)
	n, err := seconds(tick)
	if !ok || name == "" || err != nil || n < 0 {
		return nil, fmt.Errorf("dkv.set: the chain is what get or set returned, not %v", v)
	}
	return client.Chain{{Node: name, Tick: uint64(n)}}, nil
}

// pathArg reads argument i as a path.
func pathArg(args []any, i int, fn string) (path.Path, error) {
	if i >= len(args) {
		return path.Path{}, fmt.Errorf("dkv.%s: no path", fn)
	}
	switch x := args[i].(type) {
	case path.Path:
		return x, nil
	case string:
		p, err := path.Parse(x)
		if err != nil {
			return p, fmt.Errorf("dkv.%s: %w", fn, err)
		}
		return p, nil
	}
	return path.Path{}, fmt.Errorf("dkv.%s: the path is a %T, not a path or its text", fn, args[i])
}
