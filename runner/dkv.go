package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/luart"
)

// dkv is the module a job's code gets as the variable dkv. Paths are
// path values or strings in the text form ("one.two", ":.distkv.x").
//
//	dkv.get(p)          the value at p, or nil
//	dkv.set(p, v)       stores v at p
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
			e, err := d.c.Get(ctx, p)
			if err != nil {
				return nil, err
			}
			if !e.HasValue {
				return []any{nil}, nil
			}
			v, err := e.Value()
			return []any{v}, err
		},
		"set": func(ctx context.Context, args []any) ([]any, error) {
			p, err := pathArg(args, 0, "set")
			if err != nil {
				return nil, err
			}
			if len(args) < 2 {
				return nil, errors.New("dkv.set(path, value): no value")
			}
			_, err = d.c.Set(ctx, p, args[1])
			return []any{true}, err
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
