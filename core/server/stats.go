package server

import (
	"errors"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/latency"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/replica"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// This file holds the counters a monitoring system reads (package
// metrics turns them into Prometheus metrics; core knows of none).
//
// The request path must not pay for them: a get costs the server about
// 1.5 µs of CPU. So the requests a connection's reader goroutine ends
// are counted in the connection's own counters (written by that
// goroutine alone, without atomic read-modify-writes, on cache lines no
// other core writes), which Stats sums and which are folded into the
// server's when the connection ends; and only one get_value or set_value
// in timeEvery of a connection is timed, since two clock reads cost
// about as much as the rest of the counting together. The requests that
// end elsewhere (streams, changes whose acknowledgement waited) are
// counted in the server's counters. Everything else is counted where it
// happens or read at Stats time.

// timeEvery: one get_value or set_value in timeEvery of a connection is
// timed (the latency histograms are a sample).
const timeEvery = 8

// Outcome is how a request ended, as Stats count them.
type Outcome uint8

// The outcomes.
const (
	OutcomeOK     Outcome = iota // it did what it was asked
	OutcomeError                 // it failed (a bad request, a failed precondition, an unconfirmed change, …)
	OutcomeDenied                // the gate refused it (access denied, not logged in) or a login failed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "error", "denied"}

func (o Outcome) String() string { return outcomeNames[o] }

// outcomeOf says how a request that returned err ended.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, wire.ErrAccess), errors.Is(err, wire.ErrAuthRequired), errors.Is(err, wire.ErrLogin):
		return OutcomeDenied
	}
	return OutcomeError
}

// ActionOther is the action Stats count requests for unknown actions
// under, so that what a client sends cannot add labels.
const ActionOther = "other"

// statOther is its index in counters.requests; an action's is its place
// in wire.Actions (action.stat).
var statOther = len(wire.Actions)

// requestCounters count requests and time gets and sets: the server's,
// and each connection's own (see above). Safe for concurrent use.
type requestCounters struct {
	requests [][numOutcomes]atomic.Uint64 // by action (wire.Actions, then other) and outcome
	get, set latency.Histogram
}

func newRequestCounters() *requestCounters {
	return &requestCounters{requests: make([][numOutcomes]atomic.Uint64, len(wire.Actions)+1)}
}

// counters are the server's running counts. Safe for concurrent use.
type counters struct {
	*requestCounters
	watches atomic.Int64
	log     persist.Stats // every change log's, one after the other
}

func newCounters() *counters { return &counters{requestCounters: newRequestCounters()} }

// count counts a request that ended with err.
func (c *requestCounters) count(stat int, err error) {
	c.requests[stat][outcomeOf(err)].Add(1)
}

// countOwned counts a request that ended with err in the counters of a
// connection, which its reader goroutine alone writes.
func (c *requestCounters) countOwned(stat int, err error) {
	n := &c.requests[stat][outcomeOf(err)]
	n.Store(n.Load() + 1)
}

// fold adds a connection's counters to c's.
func (c *requestCounters) fold(conn *requestCounters) {
	for i := range conn.requests {
		for o := range numOutcomes {
			if n := conn.requests[i][o].Load(); n != 0 {
				c.requests[i][o].Add(n)
			}
		}
	}
	c.get.Merge(conn.get.Snapshot())
	c.set.Merge(conn.set.Snapshot())
}

// Stats is what a server did and holds, for monitoring.
type Stats struct {
	// Requests counts the requests that ended, by action (every action of
	// wire.Actions, then ActionOther) and outcome, zeros included. A
	// stream counts when it ends; a change whose acknowledgement waits
	// (for the disk, for a peer) when it is answered.
	Requests []RequestCount
	// Get and Set are how long get_value and set_value took, from the
	// gate until the reply was queued; a set that waits for the disk or
	// a peer before its acknowledgement goes out does not count that wait.
	// They are a sample: one request in 8 of each connection is timed.
	Get, Set latency.Snapshot
	Conns    int // client connections open
	Watches  int // watch streams running
	Tree     tree.Stats
	Log      LogStats
	// Replica is replication's counters; zero without a cluster
	// (Clustered false).
	Replica   replica.Stats
	Clustered bool
}

// RequestCount is how many requests for Action ended with Outcome.
type RequestCount struct {
	Action  string
	Outcome Outcome
	N       uint64
}

// LogStats count what the change logs (StartLog, `log`) wrote, across
// every file the server logged to since it started. Saves are not counted.
type LogStats struct {
	Records uint64 // records appended (changes, and each file's header and state)
	Bytes   uint64 // bytes written to the files
	Fsyncs  latency.Snapshot
}

// Stats returns the counts. It walks nothing: each part is a counter
// kept as things happen, or a look at a few fields under their lock.
func (s *Server) Stats() Stats {
	c := s.stats
	st := Stats{
		Requests: make([]RequestCount, 0, len(c.requests)*int(numOutcomes)),
		Watches:  int(c.watches.Load()),
		Tree:     s.tree.Stats(),
		Log: LogStats{
			Records: c.log.Records.Load(),
			Bytes:   c.log.Bytes.Load(),
			Fsyncs:  c.log.Fsyncs.Snapshot(),
		},
		Clustered: s.cfg.Cluster != nil,
	}
	for i := range c.requests {
		action := ActionOther
		if i < len(wire.Actions) {
			action = wire.Actions[i]
		}
		for o := range numOutcomes {
			st.Requests = append(st.Requests, RequestCount{Action: action, Outcome: o})
		}
	}
	// The server's counters and the connections' are read under s.mu,
	// under which an ending connection's are folded into the server's:
	// so each count is seen once.
	s.mu.Lock()
	for _, from := range s.countersLocked() {
		st.Get = st.Get.Add(from.get.Snapshot())
		st.Set = st.Set.Add(from.set.Snapshot())
		for i := range from.requests {
			for o := range numOutcomes {
				st.Requests[i*int(numOutcomes)+int(o)].N += from.requests[i][o].Load()
			}
		}
	}
	st.Conns = len(s.conns)
	rep := s.rep
	s.mu.Unlock()
	if rep != nil {
		st.Replica = rep.Stats()
	}
	return st
}

// countersLocked lists the server's request counters and every
// connection's; s.mu is held.
func (s *Server) countersLocked() []*requestCounters {
	all := make([]*requestCounters, 0, len(s.conns)+1)
	all = append(all, s.stats.requestCounters)
	for cn := range s.conns {
		all = append(all, cn.stats)
	}
	return all
}
