package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/value"
)

// nodeJSON is one server as the server the console runs on sees it.
type nodeJSON struct {
	Name string `json:"name"`
	Tick uint64 `json:"tick"` // its newest change known here
	// Missing are its ticks this server has not seen; RemoteMissing the
	// ones other servers announced they lack (ranges, "3..7").
	Missing       string `json:"missing,omitempty"`
	MissingCount  uint64 `json:"missingCount"`
	RemoteMissing string `json:"remoteMissing,omitempty"`
	State         string `json:"state"` // "complete", or what is missing
}

// Link is another live server as the console's server sees it.
type Link struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`      // its peer listener
	Connected bool   `json:"connected"` // replication is connected to it
}

type networkJSON struct {
	Node      string     `json:"node"` // the server the console talks to
	Tock      uint64     `json:"tock"`
	Conflicts uint64     `json:"conflicts"` // concurrent changes it resolved
	Nodes     []nodeJSON `json:"nodes"`
	Links     []Link     `json:"links"`
}

// network asks the server what `distkv client internal state -n -m`
// shows: every node's newest tick and what this server misses of it.
func (c *Console) network(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	rep, err := s.client.Request(ctx, "get_state", client.Args{{Key: "missing", Value: true}, {Key: "nodes", Value: true}, {Key: "remote_missing", Value: true}})
	if err != nil {
		return err
	}
	out := networkJSON{Node: rep.Node, Tock: rep.Tock, Nodes: []nodeJSON{}, Links: []Link{}}
	if c.cfg.Links != nil {
		out.Links = append(out.Links, c.cfg.Links()...)
	}
	field := func(k string) pack.Map {
		raw, ok := rep.Other[k]
		if !ok {
			return nil
		}
		v, err := value.Decode(raw)
		if err != nil {
			return nil
		}
		m, _ := v.(pack.Map)
		return m
	}
	if v, err := value.Decode(rep.Other["conflicts"]); err == nil {
		out.Conflicts, _ = asUint(v)
	}
	byName := map[string]*nodeJSON{}
	get := func(name string) *nodeJSON {
		if n := byName[name]; n != nil {
			return n
		}
		n := &nodeJSON{Name: name}
		byName[name] = n
		return n
	}
	for _, kv := range field("nodes") {
		name, _ := kv.Key.(string)
		get(name).Tick, _ = asUint(kv.Value)
	}
	for _, kv := range field("missing") {
		name, _ := kv.Key.(string)
		n := get(name)
		n.Missing, n.MissingCount = ranges(kv.Value)
	}
	for _, kv := range field("remote_missing") {
		name, _ := kv.Key.(string)
		get(name).RemoteMissing, _ = ranges(kv.Value)
	}
	for _, n := range byName {
		n.State = "complete"
		if n.MissingCount > 0 {
			n.State = fmt.Sprintf("misses %d ticks", n.MissingCount)
		}
		out.Nodes = append(out.Nodes, *n)
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Name < out.Nodes[j].Name })
	reply(w, http.StatusOK, out)
	return nil
}

// ranges reads a range set as the server sends it (single ticks and
// [lo, hi) pairs) into text and a count.
func ranges(v any) (string, uint64) {
	items, _ := v.([]any)
	var parts []string
	var n uint64
	for _, it := range items {
		if t, ok := asUint(it); ok {
			parts = append(parts, fmt.Sprint(t))
			n++
			continue
		}
		pair, _ := it.([]any)
		if len(pair) != 2 {
			continue
		}
		lo, ok1 := asUint(pair[0])
		hi, ok2 := asUint(pair[1])
		if !ok1 || !ok2 || hi <= lo {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d..%d", lo, hi-1))
		n += hi - lo
	}
	return strings.Join(parts, ", "), n
}

func asUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case int64:
		if v >= 0 {
			return uint64(v), true
		}
	case uint64:
		return v, true
	case int:
		if v >= 0 {
			return uint64(v), true
		}
	}
	return 0, false
}
