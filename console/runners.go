package console

import (
	"context"
	"net/http"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/runner"
)

// maxJobs bounds the jobs the runners page lists.
const maxJobs = 1000

// jobJSON is a runner entry and the states of its runs (package runner).
type jobJSON struct {
	Path   string      `json:"path"` // the runner entry
	Mode   string      `json:"mode"` // any, single (at NODE) or all
	Group  string      `json:"group"`
	Node   string      `json:"node,omitempty"` // single: the node that runs it
	Code   string      `json:"code,omitempty"`
	Info   string      `json:"info,omitempty"`
	Target string      `json:"target,omitempty"`
	Repeat float64     `json:"repeat,omitempty"` // seconds
	Error  string      `json:"error,omitempty"`  // the entry is no valid job
	States []stateJSON `json:"states"`           // one; for all-node jobs one per node
}

type stateJSON struct {
	Runner   string `json:"runner,omitempty"` // the runner that runs it now
	Running  bool   `json:"running"`
	Started  string `json:"started,omitempty"`
	Stopped  string `json:"stopped,omitempty"`
	Result   string `json:"result,omitempty"` // a literal
	Error    string `json:"error,omitempty"`
	Backoffs int    `json:"backoffs,omitempty"`
	Next     string `json:"next,omitempty"`
	For      string `json:"for,omitempty"` // all-node jobs: whose state
}

type runnersJSON struct {
	Jobs      []jobJSON `json:"jobs"`
	Truncated bool      `json:"truncated,omitempty"`
}

func unixStamp(sec float64) string {
	if sec <= 0 {
		return ""
	}
	return stamp(time.Unix(0, int64(sec*1e9)))
}

// runners lists the runner entries below `.distkv run` with their states
// below `.distkv state`.
func (c *Console) runners(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	states := map[string][]stateJSON{} // by the job's path below RunRoot, encoded
	for e, err := range s.client.GetTree(ctx, runner.StateRoot, client.TreeOptions{MinDepth: 3}) {
		if err != nil {
			return err
		}
		rel, owner := stateKey(e.Path)
		v, err := e.Value()
		if err != nil {
			continue
		}
		st := runner.ParseState(v)
		sj := stateJSON{Runner: st.Node, Running: st.Node != "" && st.Started > st.Stopped, Started: unixStamp(st.Started), Stopped: unixStamp(st.Stopped),
			Error: st.Error, Backoffs: st.Backoffs, Next: unixStamp(st.Next), For: owner}
		if st.Result != nil {
			sj.Result = literal.Format(st.Result)
		}
		states[rel.Encoded()] = append(states[rel.Encoded()], sj)
	}
	out := runnersJSON{Jobs: []jobJSON{}}
	for e, err := range s.client.GetTree(ctx, runner.RunRoot, client.TreeOptions{MinDepth: 3}) {
		if err != nil {
			return err
		}
		if len(out.Jobs) == maxJobs {
			out.Truncated = true
			break
		}
		j := jobJSON{Path: runner.RunRoot.Join(e.Path).String(), States: []stateJSON{}}
		where, ok := whereOf(e.Path)
		if !ok {
			continue
		}
		j.Mode, j.Group, j.Node = where.Mode.String(), where.Group, where.Node
		v, err := e.Value()
		if err == nil {
			var job runner.Job
			if job, err = runner.ParseJob(v); err == nil {
				j.Code, j.Info, j.Target, j.Repeat = job.Code.String(), job.Info, unixStamp(job.Target), job.Repeat
			}
		}
		if err != nil {
			j.Error = err.Error()
		}
		if st, ok := states[e.Path.Encoded()]; ok {
			j.States = st
		}
		out.Jobs = append(out.Jobs, j)
	}
	reply(w, http.StatusOK, out)
	return nil
}

// whereOf reads the mode, group and node of a job's path below RunRoot.
func whereOf(rel path.Path) (runner.Where, bool) {
	var el []string
	for e := range rel.Elems() {
		s, ok := e.StrValue()
		if !ok {
			s = e.String()
		}
		el = append(el, s)
		if len(el) == 3 {
			break
		}
	}
	switch {
	case len(el) >= 3 && el[0] == "any":
		return runner.Where{Mode: runner.Any, Group: el[1]}, true
	case len(el) >= 3 && el[0] == "all":
		return runner.Where{Mode: runner.All, Group: el[1]}, true
	case len(el) >= 3 && el[0] == "at":
		return runner.Where{Mode: runner.Single, Node: el[1], Group: el[2]}, true
	}
	return runner.Where{}, false
}

// stateKey maps a state's path below StateRoot to its job's below
// RunRoot; for all-node jobs it takes out the node after the group and
// returns it as owner.
func stateKey(rel path.Path) (job path.Path, owner string) {
	first, _ := rel.Split()
	if s, _ := first.StrValue(); s != "all" || rel.Len() < 4 {
		return rel, ""
	}
	node := rel.Prefix(3).Last()
	owner, _ = node.StrValue()
	rest, _ := rel.TrimPrefix(rel.Prefix(3))
	return rel.Prefix(2).Join(rest), owner
}
