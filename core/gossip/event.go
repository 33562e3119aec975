package gossip

import (
	"log/slog"
	"strings"
	"sync/atomic"
)

// eventOverhead bounds what Serf's msgpack encoding of a user event adds to
// its name and payload (type byte, map header, four keys, Lamport time,
// string and binary headers, coalesce flag): 40 bytes at most.
const eventOverhead = 40

// wireName is a user event's name on the wire: the network prefix keeps
// networks that share a Serf cluster (an external agent) apart.
func wireName(root, name string) string { return root + ":" + name }

// parseWireName returns the name of a user event of our network.
func parseWireName(root, wire string) (string, bool) {
	return strings.CutPrefix(wire, root+":")
}

// maxPayload is the largest payload of an event of this name that fits limit.
func maxPayload(root, name string, limit int) int {
	return limit - eventOverhead - len(wireName(root, name))
}

// sink is the buffered Events channel with its drop counter. One goroutine
// (or one lock holder) sends; close is called once that sender has stopped.
type sink struct {
	ch      chan Event
	dropped atomic.Uint64
	log     *slog.Logger
}

func newSink(buffer int, log *slog.Logger) *sink {
	return &sink{ch: make(chan Event, buffer), log: log}
}

// deliver hands e to the consumer or drops it; it never blocks.
func (s *sink) deliver(e Event) {
	select {
	case s.ch <- e:
	default:
		// Log the 1st, 2nd, 4th, 8th... drop: a slow consumer must not flood the log.
		if n := s.dropped.Add(1); n&(n-1) == 0 {
			s.log.Warn("gossip: events channel full, dropping events", "kind", e.Kind, "dropped", n)
		}
	}
}

// rootFilter turns Serf member events into events of our network: members
// whose RootTag differs are not ours. A member that changes its root tag
// away from ours is reported as having left; one that takes our root tag
// by an update is reported as joining. Not safe for concurrent use: it
// belongs to the goroutine that pumps the events.
type rootFilter struct {
	root string
	log  *slog.Logger
	ours map[string]bool // members reported as ours and not reaped
}

func newRootFilter(root string, log *slog.Logger) *rootFilter {
	return &rootFilter{root: root, log: log, ours: map[string]bool{}}
}

// rawMember is a member with all its tags, RootTag included.
type rawMember struct {
	Member
	ok bool // the status is one we report
}

// apply converts one member event into events of our network, one per
// member; members of other networks are dropped.
func (f *rootFilter) apply(kind Kind, ms []rawMember) []Event {
	var out []Event
	for _, m := range ms {
		if !m.ok {
			continue
		}
		k := kind
		if m.Tags[RootTag] != f.root {
			if !f.ours[m.Name] {
				f.log.Debug("gossip: ignoring a member of another network", "member", m.Name, "root", m.Tags[RootTag], "event", kind)
				continue
			}
			delete(f.ours, m.Name)
			k, m.Status = MemberLeave, Left
		} else if kind == MemberReap {
			delete(f.ours, m.Name)
		} else {
			if kind == MemberUpdate && !f.ours[m.Name] {
				k = MemberJoin // it just took our root tag
			}
			f.ours[m.Name] = true
		}
		out = append(out, Event{Kind: k, Members: []Member{m.withoutRoot()}})
	}
	return out
}

func (m rawMember) withoutRoot() Member {
	out := m.Member
	out.Tags = withoutRoot(m.Tags)
	return out
}
