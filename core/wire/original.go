package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// The records of the original DistKV's save and log files, whose format
// package persist draws: a plain stream of msgpack maps (split it with a
// Framer), each a header, a state record or a change record.

// ErrNotMap is returned by OriginalDecoder.Decode for a record that is not
// a msgpack map: from there on the stream is not the original's format, and
// without framing there is no next record to look for.
var ErrNotMap = errors.New("not a msgpack map")

// OriginalRecord is one decoded record: a header, or an update to apply by
// chain rules (state and change records both become one).
type OriginalRecord struct {
	Header *OriginalHeader // nil for an update
	Update change.Update   // Value shares memory with the record
}

// OriginalHeader is what the original's server knew of every node's ticks
// when it wrote the file.
type OriginalHeader struct {
	Node    string                    // the server that wrote the file
	Tock    uint64                    // its tock
	Nodes   map[string]uint64         // node → its last tick
	Known   map[string]chain.RangeSet // node → ticks superseded since
	Deleted map[string]chain.RangeSet // node → ticks that deleted an entry
}

// OriginalDecoder decodes the records of one stream, in order: a record's
// path may extend the previous record's (depth compression). The zero value
// is ready for use. It is not safe for concurrent use.
type OriginalDecoder struct {
	// Intern, if set, turns node names into strings, so that a long file
	// need not allocate them again and again.
	Intern func([]byte) string

	longer Longer
	lost   bool // the previous record's path could not be read
}

// origFields are a record's values by key, raw: every key is read before
// any is decoded, because depth follows path in the map.
type origFields struct {
	path, depth, value, chain, node, tick, prev, tock []byte
	nodes, known, deleted                             []byte
}

// Decode decodes one record (one map, as a Framer returns it). A record
// that is not a map gives ErrNotMap; any other error concerns this record
// only, and the next one may be decoded.
func (d *OriginalDecoder) Decode(msg []byte) (OriginalRecord, error) {
	var rec OriginalRecord
	var f origFields
	r := pack.NewReader(msg)
	if k, _ := r.Peek(); k != pack.KindMap {
		d.lost = true
		return rec, ErrNotMap
	}
	err := r.ReadMap(func(k []byte) error {
		raw, err := r.Raw()
		switch string(k) {
		case "path":
			f.path = raw
		case "depth":
			f.depth = raw
		case "value":
			f.value = raw
		case "chain":
			f.chain = raw
		case "node":
			f.node = raw
		case "tick":
			f.tick = raw
		case "prev":
			f.prev = raw
		case "tock":
			f.tock = raw
		case "nodes":
			f.nodes = raw
		case "known":
			f.known = raw
		case "deleted":
			f.deleted = raw
		}
		return err
	})
	if err != nil {
		d.lost = true // it may have had a path
		return rec, err
	}
	if f.path == nil {
		if f.nodes == nil && f.known == nil && f.deleted == nil {
			return rec, errors.New("neither an entry (no path) nor a header (no nodes, known or deleted)")
		}
		rec.Header, err = d.header(&f)
		return rec, err
	}
	p, err := d.fullPath(&f)
	if err != nil {
		d.lost = true
		return rec, err
	}
	// The next record's depth counts from this path even if the rest of
	// this record is bad: the writer compressed it so.
	d.lost = false
	rec.Update, err = d.update(&f, p)
	return rec, err
}

// fullPath undoes the depth compression of a record's path.
func (d *OriginalDecoder) fullPath(f *origFields) (path.Path, error) {
	depth := int64(0)
	if f.depth != nil {
		var err error
		if depth, err = pack.NewReader(f.depth).ReadInt(); err != nil {
			return path.Root, fmt.Errorf("depth: %w", err)
		}
	}
	rest, err := path.Read(pack.NewReader(f.path))
	if err != nil {
		return path.Root, fmt.Errorf("path: %w", err)
	}
	switch {
	case depth < 0:
		return path.Root, fmt.Errorf("negative depth %d", depth)
	case depth > 0 && d.lost:
		return path.Root, fmt.Errorf("depth %d: the previous record's path could not be read", depth)
	}
	// Bounded, so that int cannot wrap where it has 32 bits; Expand
	// refuses a depth beyond the previous path anyway.
	p, err := d.longer.Expand(int(min(depth, math.MaxInt32)), rest)
	if err != nil {
		return path.Root, fmt.Errorf("depth %d: %w", depth, err)
	}
	return p, nil
}

// update decodes the rest of a state or change record.
func (d *OriginalDecoder) update(f *origFields, p path.Path) (change.Update, error) {
	u := change.Update{Path: p, Value: f.value, HasValue: f.value != nil}
	var err error
	if f.tock != nil {
		if u.Tock, err = pack.NewReader(f.tock).ReadUint(); err != nil {
			return u, fmt.Errorf("tock: %w", err)
		}
	}
	if f.chain != nil { // a state record
		if u.Chain, err = readChain(pack.NewReader(f.chain), d.Intern); err != nil {
			return u, fmt.Errorf("chain: %w", err)
		}
	} else if u.Chain, err = d.changeChain(f); err != nil {
		return u, err
	}
	if len(u.Chain) == 0 {
		return u, errors.New("an entry needs a chain (or node and tick)")
	}
	return u, nil
}

// changeChain reads a change record's chain: its node and tick are the
// newest link, prev the older ones.
func (d *OriginalDecoder) changeChain(f *origFields) ([]change.Link, error) {
	if f.node == nil || f.tick == nil {
		return nil, nil
	}
	node, err := pack.NewReader(f.node).ReadStrBytes()
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	tick, err := pack.NewReader(f.tick).ReadUint()
	if err != nil {
		return nil, fmt.Errorf("tick: %w", err)
	}
	var older []change.Link
	if f.prev != nil {
		if older, err = readChain(pack.NewReader(f.prev), d.Intern); err != nil {
			return nil, fmt.Errorf("prev: %w", err)
		}
	}
	name := string(node)
	if d.Intern != nil {
		name = d.Intern(node)
	}
	return append([]change.Link{{Node: name, Tick: tick}}, older...), nil
}

// header decodes a header record.
func (d *OriginalDecoder) header(f *origFields) (*OriginalHeader, error) {
	h := &OriginalHeader{}
	var err error
	if f.node != nil {
		if h.Node, err = pack.NewReader(f.node).ReadString(); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	if f.tock != nil {
		if h.Tock, err = pack.NewReader(f.tock).ReadUint(); err != nil {
			return nil, fmt.Errorf("tock: %w", err)
		}
	}
	if f.nodes != nil {
		h.Nodes = map[string]uint64{}
		r := pack.NewReader(f.nodes)
		err = r.ReadMap(func(k []byte) error {
			tick, err := r.ReadUint()
			h.Nodes[string(k)] = tick
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
	}
	if h.Known, err = readRanges(f.known); err != nil {
		return nil, fmt.Errorf("known: %w", err)
	}
	if h.Deleted, err = readRanges(f.deleted); err != nil {
		return nil, fmt.Errorf("deleted: %w", err)
	}
	return h, nil
}

// readRanges reads a map node → range set, as the original's range sets
// write themselves: single ticks and [lo, hi) pairs (nil: none).
func readRanges(raw []byte) (map[string]chain.RangeSet, error) {
	if raw == nil {
		return nil, nil
	}
	m := map[string]chain.RangeSet{}
	r := pack.NewReader(raw)
	err := r.ReadMap(func(k []byte) error {
		v, err := r.Decode()
		if err != nil {
			return err
		}
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("the ranges of %q are not a list", k)
		}
		rs, err := chain.FromWire(items)
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		m[string(k)] = rs
		return nil
	})
	return m, err
}
