package runner

import (
	"context"
	"fmt"
	"strconv"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// ConfigRoot is where dynamic configuration lives: the entry `.distkv
// config NAME` overrides the configuration section NAME for the clients
// that read it (runners: `runner`).
var ConfigRoot = path.Must(".distkv", "config")

// followSettings keeps d.settings up to date: Config.Settings with the
// keys of the entry `.distkv config runner` over them, from the moment
// the entry changes. ready is closed once the entry as it is now applies. A runner whose ACL does not let it read the entry
// never sees it (the server leaves it out of the watch), and keeps its
// own settings without a word, as the tutorial says.
func (d *daemon) followSettings(ctx context.Context, ready chan<- struct{}) {
	at := ConfigRoot.Child(path.Str("runner"))
	defer func() {
		if ready != nil {
			close(ready)
		}
	}()
	for e, err := range d.c.Watch(ctx, at, client.WatchOptions{Fetch: true}) {
		if err != nil {
			if ctx.Err() == nil {
				d.log.Debug("no dynamic configuration", "err", err)
			}
			return
		}
		if e.UpToDate && ready != nil {
			close(ready)
			ready = nil
		}
		if e.UpToDate || e.Resync || !e.Path.IsRoot() {
			continue
		}
		s := d.cfg.Settings
		if e.HasValue {
			v, err := e.Value()
			if err == nil {
				s, err = overlay(s, v)
			}
			if err != nil {
				d.log.Warn("the dynamic configuration "+at.String()+" cannot be used: the runner keeps its own", "err", err)
				continue
			}
		}
		if s != *d.settings.Load() {
			d.log.Info("runner settings", "timeout", s.Timeout, "max_timeout", s.MaxTimeout, "nodes", s.Nodes, "from", at.String())
		}
		d.settings.Store(&s)
		d.poke()
	}
}

// overlay returns s with the keys of v (a map of runner.* keys without
// the section) over it, checked as a configuration file's would be.
func overlay(s config.Runner, v any) (config.Runner, error) {
	m, ok := v.(pack.Map)
	if !ok {
		return s, fmt.Errorf("it is a %T, not a map of runner settings", v)
	}
	c := config.Default()
	c.Runner = s
	for _, kv := range m {
		k, ok := kv.Key.(string)
		if !ok {
			return s, fmt.Errorf("key %v is not a name", kv.Key)
		}
		var text string
		switch x := kv.Value.(type) {
		case string:
			text = x
		case int64:
			text = strconv.FormatInt(x, 10)
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return s, fmt.Errorf("runner.%s: %v is no setting", k, kv.Value)
		}
		if err := c.Set("runner."+k, text); err != nil {
			return s, err
		}
	}
	if err := c.Validate(); err != nil {
		return s, err
	}
	return c.Runner, nil
}
