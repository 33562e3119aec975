package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/runner"
)

// The families counted from entries of the tree at scrape time.
var (
	jobsDesc = prometheus.NewDesc("distkv_runner_jobs",
		"Runner job states in the tree, by state: running, failed (the last run failed), succeeded (the last run succeeded), idle (never run).",
		[]string{"state"}, nil)
	errorsDesc = prometheus.NewDesc("distkv_errors",
		"Error records in the tree, by state: open or resolved.",
		[]string{"state"}, nil)
)

// The job states distkv_runner_jobs counts.
var jobStates = []string{"running", "failed", "succeeded", "idle"}

// jobState names the state of a job by what its runners last wrote.
func jobState(st runner.State) string {
	switch {
	case st.Node != "":
		return "running"
	case st.Backoffs > 0:
		return "failed"
	case st.Started > 0:
		return "succeeded"
	}
	return "idle"
}

// treeCollector counts the runner states and error records of a
// server's tree: both are entries (package runner's StateRoot, package
// errlog's Root), so the count follows every server's runners and
// errors, wherever they ran.
type treeCollector struct {
	s *server.Server
}

func (c *treeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- errorsDesc
}

func (c *treeCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.Tree()
	jobs := make(map[string]int, len(jobStates))
	walkValues(t, runner.StateRoot, -1, func(raw []byte) {
		v, err := value.Decode(raw)
		if err != nil {
			return // not a state: nothing a runner wrote
		}
		jobs[jobState(runner.ParseState(v))]++
	})
	for _, s := range jobStates {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(jobs[s]), s)
	}

	var open, resolved int
	// Records are at Root NODE TOCK; their trace records one below.
	walkValues(t, errlog.Root, 2, func(raw []byte) {
		rec, err := errlog.ParseRecord(raw)
		switch {
		case err != nil:
		case rec.Resolved:
			resolved++
		default:
			open++
		}
	})
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.GaugeValue, float64(open), "open")
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.GaugeValue, float64(resolved), "resolved")
}

// walkValues calls fn with each value below prefix: at depth (below
// prefix) if depth > 0, else at every depth. The walk lets go of the
// tree's lock between batches, so writers do not wait for a scrape.
func walkValues(t *tree.Tree, prefix path.Path, depth int, fn func([]byte)) {
	opt := tree.WalkOptions{Which: tree.Values, MinDepth: 1, MaxDepth: -1}
	if depth > 0 {
		opt.MinDepth, opt.MaxDepth = depth, depth
	}
	t.Walk(prefix, opt, func(items []tree.Item) bool {
		for i := range items {
			fn([]byte(items[i].Value))
		}
		return true
	})
}
