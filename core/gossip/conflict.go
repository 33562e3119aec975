package gossip

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/serf/serf"
)

// ConflictError says that another member claims this node's name. It
// wraps ErrNameConflict.
type ConflictError struct {
	Name string         // the name both claim
	Addr netip.AddrPort // the other member's gossip address

	// Lost is set once this node gave the name up: of the Votes members
	// that named a node of this name when asked, only Mine named this one.
	Lost        bool
	Votes, Mine int
}

func (e *ConflictError) Error() string {
	if e.Lost {
		return fmt.Sprintf("the network knows another server named %q (gossip address %s): %d of the %d servers asked named that one",
			e.Name, e.Addr, e.Votes-e.Mine, e.Votes)
	}
	return fmt.Sprintf("another server named %q is running (gossip address %s)", e.Name, e.Addr)
}

func (e *ConflictError) Unwrap() error { return ErrNameConflict }

// nameGuard notices other nodes that claim this node's name.
//
// memberlist refuses a node whose name a live member at another address
// already has, and tells Serf, which logs it and, with its
// EnableNameConflictResolution, asks the other members whom they know by
// that name and shuts down the loser of the vote. A node that nobody else
// can vote for loses that vote, so in a network of two the running server
// would stop when a second one of its name tried to join. Serf's
// resolution is off; the guard hooks in before memberlist's check instead:
// memberlist hands every alive message, and the state of every push-pull,
// to the merge delegate (rootMerge), which calls check. Serf.resolve holds
// the vote, with the one change that no answer keeps the name.
//
// Safe for concurrent use; check never blocks.
type nameGuard struct {
	name   string
	self   netip.AddrPort // where the other members reach this node
	log    *slog.Logger
	claims chan struct{} // capacity 1: a claim for resolve to settle
	lost   chan struct{} // closed once resolve gave the name up

	mu       sync.Mutex // protects the fields below
	err      *ConflictError
	logged   netip.AddrPort // the last claimant logged
	disputed bool           // claimed since the last vote this node did not lose
}

func newNameGuard(name string, self netip.AddrPort, log *slog.Logger) *nameGuard {
	return &nameGuard{name: name, self: self, log: log, claims: make(chan struct{}, 1), lost: make(chan struct{})}
}

// check refuses m if it claims this node's name from another address.
// A member that left is no claim: it is this node's predecessor.
func (g *nameGuard) check(m *serf.Member) error {
	if m.Name != g.name || m.Status == serf.StatusLeft {
		return nil
	}
	addr := addrPort(m.Addr, m.Port)
	if addr == g.self {
		return nil
	}
	g.mu.Lock()
	if g.err == nil {
		g.err = &ConflictError{Name: g.name, Addr: addr}
	}
	g.disputed = true
	logIt := g.logged != addr
	g.logged = addr
	g.mu.Unlock()
	if logIt {
		g.log.Error("gossip: another server claims this server's name; names must be unique", "name", g.name, "other", addr.String())
	}
	select {
	case g.claims <- struct{}{}:
	default:
	}
	return fmt.Errorf("member %s at %s: %w", m.Name, addr, ErrNameConflict)
}

// conflict returns the first claim seen, or the lost vote; nil if none.
func (g *nameGuard) conflict() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		return nil
	}
	return g.err
}

// inDispute reports whether the name is claimed and no vote has settled
// it yet: a leave now could speak for the other node of this name.
func (g *nameGuard) inDispute() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.disputed
}

// settle records a vote this node did not lose: the other members know
// this node by its name, or none of them knows one of that name.
func (g *nameGuard) settle() {
	g.mu.Lock()
	g.disputed = false
	g.mu.Unlock()
}

func (g *nameGuard) setLost(e *ConflictError) {
	g.mu.Lock()
	g.err = e
	g.mu.Unlock()
	close(g.lost)
}

// Serf's conflict query, which every Serf node answers with the member it
// knows by the name in the payload, and the type byte of those answers
// (messageConflictResponseType in serf's messages.go).
const (
	serfConflictQuery    = serf.InternalQueryPrefix + "conflict"
	serfConflictResponse = 6
)

// voteGap spaces the votes: a claimant gossips its claim again and again.
const voteGap = 2 * time.Second

// tally counts the answers of one vote.
type tally struct {
	votes, mine int
	other       netip.AddrPort // the other node named most often
}

// lost applies Serf's rule, a majority of the answers or the name goes,
// except that a vote nobody answered keeps it.
func (t tally) lost() bool { return t.votes > 0 && t.mine < t.votes/2+1 }

// resolve settles claims of this node's name, one vote at a time, until
// the node closes or gives the name up.
func (s *Serf) resolve() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.guard.claims:
		}
		t, err := s.vote()
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("gossip: cannot ask the network whom it knows by this server's name", "err", err)
		case t.lost():
			s.loseName(t)
			return
		default:
			s.guard.settle()
			s.log.Info("gossip: the network knows this server by its name; keeping it", "votes", t.votes, "mine", t.mine)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(voteGap):
		}
	}
}

// vote asks every member whom it knows by this node's name.
func (s *Serf) vote() (tally, error) {
	var t tally
	resp, err := s.serf.Query(serfConflictQuery, []byte(s.cfg.NodeName), nil)
	if err != nil {
		return t, err
	}
	defer resp.Close()
	others := map[netip.AddrPort]int{}
	for {
		select {
		case <-s.ctx.Done():
			return t, ErrClosed
		case r, ok := <-resp.ResponseCh():
			if !ok {
				for a, n := range others {
					if n > others[t.other] {
						t.other = a
					}
				}
				return t, nil
			}
			m, ok := conflictAnswer(r.Payload)
			if !ok || m.Name != s.cfg.NodeName {
				continue // malformed, or it knows no member of this name
			}
			t.votes++
			if a := addrPort(m.Addr, m.Port); a == s.guard.self {
				t.mine++
			} else {
				others[a]++
			}
		}
	}
}

// conflictAnswer decodes an answer to Serf's conflict query.
func conflictAnswer(p []byte) (serf.Member, bool) {
	var m serf.Member
	if len(p) < 1 || p[0] != serfConflictResponse {
		return m, false
	}
	var h codec.MsgpackHandle
	if err := codec.NewDecoder(bytes.NewReader(p[1:]), &h).Decode(&m); err != nil {
		return m, false
	}
	return m, true
}

// loseName gives the name up: Serf stops without a leave, which would
// speak for the other node of this name too.
func (s *Serf) loseName(t tally) {
	e := &ConflictError{Name: s.cfg.NodeName, Addr: t.other, Lost: true, Votes: t.votes, Mine: t.mine}
	s.log.Error("gossip: this server lost its name to another one and leaves the network", "err", e)
	if err := s.serf.Shutdown(); err != nil {
		s.log.Warn("gossip: shutdown", "err", err)
	}
	s.guard.setLost(e)
}

func addrPort(ip []byte, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}
