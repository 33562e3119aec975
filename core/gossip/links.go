package gossip

// Partitioner cuts and restores the links between named nodes of a test
// network: the fake Network and the Switch for embedded Serf nodes. A link
// is one direction: CutOneWay(a, b) loses what a sends to b only. Cutting
// a cut link or healing a healthy one does nothing.
type Partitioner interface {
	// Cut cuts both directions between a and b.
	Cut(a, b string)
	// CutOneWay cuts what from sends to to.
	CutOneWay(from, to string)
	// Heal restores both directions between a and b.
	Heal(a, b string)
	// HealOneWay restores what from sends to to.
	HealOneWay(from, to string)
	// Isolate cuts both directions between name and every other node
	// known now (nodes added later are not cut from it).
	Isolate(name string)
	// HealAll restores every link.
	HealAll()
}

type link struct{ from, to string }

// links is the set of cut links. Not safe for concurrent use: its owner
// holds a lock.
type links map[link]bool

func (l links) cut(from, to string) bool { return l[link{from, to}] }

// open reports whether both directions between a and b work.
func (l links) open(a, b string) bool { return !l.cut(a, b) && !l.cut(b, a) }

func (l links) set(from, to string, cut bool) {
	if cut {
		l[link{from, to}] = true
	} else {
		delete(l, link{from, to})
	}
}
