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
// metrics turns them into Prometheus metrics; core knows of none). The
// request path pays an atomic add per request, and get_value and
// set_value two clock reads and a latency.Histogram; everything else is
// counted where it happens or read at Stats time.

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

// counters are the server's running counts. Safe for concurrent use.
type counters struct {
	requests [][numOutcomes]atomic.Uint64 // by action (wire.Actions, then other) and outcome
	get, set latency.Histogram
	watches  atomic.Int64
	log      persist.Stats // every change log's, one after the other
}

func newCounters() *counters {
	return &counters{requests: make([][numOutcomes]atomic.Uint64, len(wire.Actions)+1)}
}

// count counts a request that ended with err.
func (c *counters) count(stat int, err error) {
	c.requests[stat][outcomeOf(err)].Add(1)
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
		Get:      c.get.Snapshot(),
		Set:      c.set.Snapshot(),
		Watches:  int(c.watches.Load()),
		Tree:     s.tree.Stats(),
		Log: LogStats{
			Records: c.log.Records.Load(),
			Bytes:   c.log.Bytes.Load(),
			Fsyncs:  c.log.Fsyncs.Snapshot(),
		},
	}
	for i := range c.requests {
		action := ActionOther
		if i < len(wire.Actions) {
			action = wire.Actions[i]
		}
		for o := range numOutcomes {
			st.Requests = append(st.Requests, RequestCount{Action: action, Outcome: o, N: c.requests[i][o].Load()})
		}
	}
	s.mu.Lock()
	st.Conns = len(s.conns)
	rep := s.rep
	s.mu.Unlock()
	st.Clustered = s.cfg.Cluster != nil
	if rep != nil {
		st.Replica = rep.Stats()
	}
	return st
}
