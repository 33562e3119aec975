package runner

import (
	"context"
	"hash/fnv"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// The runners of a group find each other by heartbeats in the tree: every
// Ping each writes its entry below Where.Members, and follows the
// others'. A runner whose entry has not changed for Gone (by the clock of
// the one looking, so clocks need not agree) is taken for dead; one that
// stops deletes its entry. Entries rather than msg_send: messages travel
// by gossip, which a lone server does not have, and may be lost, and a
// lost heartbeat would make another runner start a job that still runs.
const (
	Ping = time.Second
	Gone = 5 * time.Second
)

// MemberRoot is the root of the heartbeat entries: `.distkv runner GROUP
// any|single|all NODE`, one set per group and kind of runner (the runners
// of one node's three kinds are three runners).
var MemberRoot = path.Must(".distkv", "runner")

// members tracks the live runners of a group.
type members struct {
	c    *client.Client
	at   path.Path // the group's heartbeat entries
	self string
	log  *slog.Logger
	poke func() // called when the set of live members changes

	// id tells this runner's heartbeats from those of another runner of
	// the same name, and since (when it started) which of two such yields:
	// the later one, whose dup is closed.
	id      string
	since   float64
	dup     chan struct{}
	dupOnce sync.Once

	mirror *client.Mirror
	mu     sync.Mutex // protects changed and live
	// changed is when each runner's entry last changed, by this clock; a
	// runner whose entry was there already when this one started counts
	// from then.
	changed map[string]time.Time
	live    map[string]bool // the members as last reported (see expire)
}

// startMembers writes this runner's heartbeat and follows the group's.
func startMembers(ctx context.Context, c *client.Client, at path.Path, self string, log *slog.Logger, poke func()) (*members, error) {
	m := &members{c: c, at: at, self: self, log: log, poke: poke,
		id: strconv.FormatUint(rand.Uint64(), 36), since: Now(), dup: make(chan struct{}),
		changed: map[string]time.Time{}, live: map[string]bool{}}
	if err := m.beat(ctx); err != nil {
		return nil, err
	}
	seen := func(e client.Entry) {
		name, ok := e.Path.Last().Value().(string)
		if !ok || e.Path.Len() != 1 {
			return
		}
		if name == self {
			return // this runner's own heartbeat (another's of its name: see changedOwn)
		}
		m.mu.Lock()
		if e.HasValue {
			m.changed[name] = time.Now()
		} else {
			delete(m.changed, name)
		}
		m.mu.Unlock()
		m.expire()
	}
	var err error
	changed := func(e client.Entry) {
		if name, _ := e.Path.Last().Value().(string); name == self && e.Path.Len() == 1 && e.HasValue {
			m.changedOwn(e)
			return
		}
		seen(e)
	}
	m.mirror, err = c.Mirror(ctx, m.at, client.MirrorOptions{OnState: seen, OnChange: changed})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// run writes heartbeats until ctx ends, then deletes this runner's entry.
func (m *members) run(ctx context.Context) {
	t := time.NewTicker(Ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mirror.Close()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			m.c.Delete(dctx, m.at.Child(path.Str(m.self)))
			cancel()
			return
		case <-t.C:
		}
		if err := m.beat(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("cannot write the runner's heartbeat", "err", err)
		}
		m.expire()
	}
}

func (m *members) beat(ctx context.Context) error {
	_, err := m.c.Set(ctx, m.at.Child(path.Str(m.self)), pack.Map{{Key: "pinged", Value: Now()}, {Key: "id", Value: m.id}, {Key: "since", Value: m.since}})
	return err
}

// changedOwn looks at a change of the heartbeat entry of this runner's
// name: one written by another runner of the same name means two runners
// would take each other's jobs for their own. The one started later stops
// (its dup closes). An entry that was there at the start is not looked
// at: it may be this runner's before a restart.
func (m *members) changedOwn(e client.Entry) {
	v, _ := e.Value()
	h, _ := v.(pack.Map)
	idv, _ := h.Get("id")
	id, _ := idv.(string)
	sv, _ := h.Get("since")
	since, _ := seconds(sv)
	if id == "" || id == m.id {
		return
	}
	if since < m.since || since == m.since && id < m.id {
		m.dupOnce.Do(func() { close(m.dup) })
	}
}

// expire works out who is alive now and, if that changed, says so.
func (m *members) expire() {
	now := time.Now()
	m.mu.Lock()
	live := map[string]bool{m.self: true}
	for n, t := range m.changed {
		if now.Sub(t) <= Gone {
			live[n] = true
		}
	}
	var joined, left []string
	for n := range live {
		if !m.live[n] {
			joined = append(joined, n)
		}
	}
	for n := range m.live {
		if !live[n] {
			left = append(left, n)
		}
	}
	m.live = live
	m.mu.Unlock()
	for _, n := range joined {
		if n != m.self {
			m.log.Info("a runner is up", "runner", n)
		}
	}
	for _, n := range left {
		m.log.Info("a runner is gone (no heartbeat)", "runner", n, "for", Gone)
	}
	if len(joined)+len(left) > 0 {
		m.poke()
	}
}

// alive reports whether node's runner is up, as far as this one knows.
func (m *members) alive(node string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if node == m.self {
		return true
	}
	t, ok := m.changed[node]
	return ok && time.Since(t) <= Gone
}

// list returns the live runners, sorted.
func (m *members) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.live))
}

// rank is this runner's place among the live ones for a job (0: first):
// every runner orders the members by a hash of the job's path and the
// member's name, so that jobs spread over the group evenly and all agree
// who goes first, without talking.
func (m *members) rank(job path.Path) int {
	mine := rankScore(job, m.self)
	r := 0
	for _, n := range m.list() {
		if n != m.self && rankScore(job, n) > mine {
			r++
		}
	}
	return r
}

// rankScore is node's score for job: the highest goes first. FNV-1a
// mixes its last bytes poorly: of names that differ only in their last
// character (host1, host2, host3) two bits of the job's hash would pick
// the first, one name for half the jobs. The finalizer of splitmix64
// spreads every bit over the whole score.
func rankScore(job path.Path, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(job.Encoded()))
	h.Write([]byte{0})
	h.Write([]byte(node))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
