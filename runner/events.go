package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/luart"
)

// maxEvents bounds the events a job has not taken yet; past it, the job's
// next dkv.events step fails (it fell behind; it runs again later and
// watches afresh).
const maxEvents = 1000

// events is the event queue of one run of a job: what its watches, timers
// and the group send, for dkv.events().
type events struct {
	d  *daemon
	ch chan pack.Map

	mu        sync.Mutex
	overflow  bool
	pending   int    // watches with fetch not yet up to date
	group     string // the group state last sent
	listening bool   // dkv.events() was called: group changes are sent
}

func newEvents(d *daemon) *events {
	return &events{d: d, ch: make(chan pack.Map, maxEvents)}
}

func (ev *events) send(m pack.Map) {
	select {
	case ev.ch <- m:
	default:
		ev.mu.Lock()
		ev.overflow = true
		ev.mu.Unlock()
	}
}

// functions are the event functions of the dkv module.
func (ev *events) functions(m luart.Module) {
	m["watch"] = ev.watch
	m["timer"] = ev.timer
	m["events"] = ev.iterate
}

// watch(p [, {fetch = bool, depth = n}]) sends a change event for every
// change at and below p: {type = "change", path = P, value = V} (no value:
// deleted). With fetch, the current entries come first, then a "ready"
// event once every watch with fetch has sent its entries.
func (ev *events) watch(ctx context.Context, args []any) ([]any, error) {
	p, err := pathArg(args, 0, "watch")
	if err != nil {
		return nil, err
	}
	var o client.WatchOptions
	if len(args) > 1 && args[1] != nil {
		opts, ok := args[1].(pack.Map)
		if !ok {
			return nil, errors.New("dkv.watch(path, {fetch = true, depth = n}): the options are a table")
		}
		for _, kv := range opts {
			switch kv.Key {
			case "fetch":
				o.Fetch, _ = kv.Value.(bool)
			case "depth":
				d, err := seconds(kv.Value)
				if err != nil || d < 0 {
					return nil, fmt.Errorf("dkv.watch: depth %v", kv.Value)
				}
				o.MaxDepth = int(d)
			default:
				return nil, fmt.Errorf("dkv.watch: unknown option %v", kv.Key)
			}
		}
	}
	if o.Fetch {
		ev.mu.Lock()
		ev.pending++
		ev.mu.Unlock()
	}
	go func() {
		for e, err := range ev.d.c.Watch(ctx, p, o) {
			if err != nil {
				if ctx.Err() == nil {
					ev.send(pack.Map{{Key: "type", Value: "error"}, {Key: "path", Value: p}, {Key: "error", Value: err.Error()}})
				}
				return
			}
			if e.Resync {
				continue
			}
			if e.UpToDate {
				ev.mu.Lock()
				ev.pending--
				ready := ev.pending == 0
				ev.mu.Unlock()
				if ready {
					ev.send(pack.Map{{Key: "type", Value: "ready"}})
				}
				continue
			}
			m := pack.Map{{Key: "type", Value: "change"}, {Key: "path", Value: p.Join(e.Path)}}
			if e.HasValue {
				v, err := e.Value()
				if err != nil {
					continue
				}
				m = append(m, pack.KV{Key: "value", Value: v})
			} else {
				m = append(m, pack.KV{Key: "deleted", Value: true})
			}
			ev.send(m)
		}
	}()
	return nil, nil
}

// timer(s [, name]) sends {type = "timer", name = name} after s seconds.
func (ev *events) timer(ctx context.Context, args []any) ([]any, error) {
	if len(args) < 1 {
		return nil, errors.New("dkv.timer(seconds [, name]): no time")
	}
	s, err := seconds(args[0])
	if err != nil || s < 0 {
		return nil, fmt.Errorf("dkv.timer: %v is no number of seconds", args[0])
	}
	var name any
	if len(args) > 1 {
		name = args[1]
	}
	go func() {
		sleep(ctx, time.Duration(s*float64(time.Second)))
		if ctx.Err() == nil {
			ev.send(pack.Map{{Key: "type", Value: "timer"}, {Key: "name", Value: name}})
		}
	}()
	return nil, nil
}

// iterate is dkv.events(): an iterator for a generic for that waits for
// the next event. The first is the group's state ({type = "group", state
// = …, members = {…}}), and another comes whenever it changes. The loop
// ends when the job is cancelled (the job then ends).
func (ev *events) iterate(ctx context.Context, _ []any) ([]any, error) {
	ev.mu.Lock()
	first := !ev.listening
	ev.listening = true
	ev.mu.Unlock()
	if first {
		ev.groupChanged()
		go func() {
			t := time.NewTicker(Ping / 2)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					ev.groupChanged()
				}
			}
		}()
	}
	next := luart.Func(func(ctx context.Context, _ []any) ([]any, error) {
		ev.mu.Lock()
		over := ev.overflow
		ev.mu.Unlock()
		if over {
			return nil, fmt.Errorf("more than %d events waited: the job fell behind", maxEvents)
		}
		select {
		case m := <-ev.ch:
			return []any{m}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	return []any{next}, nil
}

// groupChanged sends the group's state if it differs from the last sent.
func (ev *events) groupChanged() {
	g := ev.d.group()
	state, _ := g.Get("state")
	ev.mu.Lock()
	changed := state != ev.group
	ev.group, _ = state.(string)
	ev.mu.Unlock()
	if changed {
		ev.send(append(pack.Map{{Key: "type", Value: "group"}}, g...))
	}
}
