package gossip

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
)

// Gossip is membership and small notices among the servers of one network.
//
// Implementations are safe for concurrent use. None of the methods blocks on
// the consumer of Events.
type Gossip interface {
	// LocalName is this node's member name.
	LocalName() string

	// Members returns the current members of this node's network, this node
	// included: alive ones first, then leaving, failed and left ones, each
	// group sorted by name. The slice and its tag maps are the caller's.
	Members() []Member

	// Events returns the channel of membership changes and user events. It is
	// the same channel on every call and is closed by Close. Sending to it
	// never blocks the gossip layer: when its buffer is full the event is
	// dropped and Dropped increases. Correctness must never rest on an event
	// arriving (see the package documentation).
	Events() <-chan Event

	// Dropped is the number of events dropped so far because the consumer of
	// Events was slow.
	Dropped() uint64

	// Broadcast sends a user event to every member that can be reached,
	// this node included, without coalescing. It returns once the event is
	// queued; delivery is best effort. A payload larger than MaxPayload(name)
	// is refused with ErrTooLarge.
	Broadcast(name string, payload []byte) error

	// MaxPayload is the largest payload Broadcast accepts for an event of
	// this name; negative if the name alone is too long.
	MaxPayload(name string) int

	// Join contacts the given members ("host:port", or "host" for port
	// DefaultPort) and merges their network into ours. It returns how many
	// could be contacted; the error wraps ErrNoJoin if none could.
	Join(addrs []string) (int, error)

	// SetTags replaces this node's tags and spreads them to the others. The
	// key RootTag is reserved.
	SetTags(tags map[string]string) error

	// NameConflict returns a *ConflictError (wrapping ErrNameConflict) once
	// a node at another address has claimed this node's name while alive,
	// nil before. Such a node is not let in: each side sees itself under the
	// name. A left member of the name is this node's predecessor, no claim.
	NameConflict() error

	// NameLost is closed when this node has given its name up: the other
	// members, when asked, named another node of its name, and this node
	// stopped gossiping (NameConflict then says so). Nil for an
	// implementation that never gives a name up.
	NameLost() <-chan struct{}

	// Close leaves the network gracefully and stops. It is idempotent: later
	// calls return the first call's result. Events is closed when it returns.
	Close() error
}

// DefaultPort is Serf's gossip port, used by Join for addresses without a port.
const DefaultPort = 7946

// DefaultRoot is the network name used when none is configured.
const DefaultRoot = ":distkv"

// RootTag is the member tag carrying the network name. It is set and checked
// by this package: members whose tag differs are not of our network. Member
// values never show it and SetTags refuses it.
const RootTag = "root"

// Member is one server of the network as seen by this node.
type Member struct {
	Name   string
	Addr   netip.AddrPort    // gossip address
	Tags   map[string]string // without RootTag
	Status Status
}

// Clone returns a copy that shares nothing with m.
func (m Member) Clone() Member {
	m.Tags = maps.Clone(m.Tags)
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	return m
}

// Status is a member's state as seen by this node.
type Status int

// The member states, in the order Members lists them.
const (
	Alive   Status = iota // reachable
	Leaving               // announced it is leaving
	Failed                // unreachable; it may come back
	Left                  // left gracefully
)

func (s Status) String() string {
	switch s {
	case Alive:
		return "alive"
	case Leaving:
		return "leaving"
	case Failed:
		return "failed"
	case Left:
		return "left"
	}
	return "unknown"
}

// Event is a membership change or a user event.
type Event struct {
	Kind Kind

	// Members are the members concerned by a membership event; nil for user
	// events. Serf does not coalesce them here: usually one member.
	Members []Member

	// Name, Payload and LTime describe a user event: its name (without the
	// network prefix used on the wire), its payload and the sender's Lamport
	// time for user events. Empty for membership events.
	Name    string
	Payload []byte
	LTime   uint64
}

// Kind says what an Event is about.
type Kind int

// The kinds of events.
const (
	MemberJoin   Kind = iota // members joined, or came back after a failure
	MemberLeave              // members left gracefully (or left our network)
	MemberFailed             // members became unreachable
	MemberUpdate             // members changed their tags
	MemberReap               // members were forgotten after a long absence (never from the fake)
	User                     // a user event (Broadcast)
)

func (k Kind) String() string {
	switch k {
	case MemberJoin:
		return "member-join"
	case MemberLeave:
		return "member-leave"
	case MemberFailed:
		return "member-failed"
	case MemberUpdate:
		return "member-update"
	case MemberReap:
		return "member-reap"
	case User:
		return "user"
	}
	return "unknown"
}

// sortMembers orders members as Members documents: by status, then name.
func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Name, b.Name))
	})
}
