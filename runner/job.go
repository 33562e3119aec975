package runner

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Mode says which runners of a group run a job.
type Mode int

const (
	Any    Mode = iota // one runner of the group, whichever
	Single             // the runner of one node
	All                // every runner of the group
)

func (m Mode) String() string {
	switch m {
	case Single:
		return "single"
	case All:
		return "all"
	}
	return "any"
}

// Where names a set of jobs: a mode, a group and, for Single, the node.
type Where struct {
	Mode  Mode
	Group string // "" is DefaultGroup
	Node  string // Single only
}

// DefaultGroup is the group of jobs and runners that name none.
const DefaultGroup = "default"

// The roots of runner entries and their states, as the original lays
// them out: `.distkv run any GROUP JOB…`, `.distkv run at NODE GROUP
// JOB…`, `.distkv run all GROUP JOB…`, and the same below `.distkv state`
// (for All, with the node after the group: every node keeps its own).
var (
	RunRoot   = path.Must(".distkv", "run")
	StateRoot = path.Must(".distkv", "state")
	CodeRoot  = path.Must(".distkv", "code", "proc")
)

func (w Where) group() string {
	if w.Group == "" {
		return DefaultGroup
	}
	return w.Group
}

func (w Where) sub() path.Path {
	switch w.Mode {
	case Single:
		return path.Must("at", w.Node, w.group())
	case All:
		return path.Must("all", w.group())
	}
	return path.Must("any", w.group())
}

// Check says what is wrong with w, if anything.
func (w Where) Check() error {
	if w.Mode == Single && w.Node == "" {
		return errors.New("a single-node job needs its node")
	}
	if w.Mode != Single && w.Node != "" {
		return errors.New("only single-node jobs name a node")
	}
	return nil
}

// Jobs is the path below which w's runner entries live.
func (w Where) Jobs() path.Path { return RunRoot.Join(w.sub()) }

// Members is the path of the heartbeat entries of w's runners.
func (w Where) Members() path.Path {
	return MemberRoot.Join(path.Must(w.group(), w.Mode.String()))
}

// States is the path below which the states of w's jobs live, as node
// keeps them (node matters for All only).
func (w Where) States(node string) path.Path {
	p := StateRoot.Join(w.sub())
	if w.Mode == All {
		p = p.Child(path.Str(node))
	}
	return p
}

// Job is a runner entry: what to run, when, and again when. Times are
// Unix seconds.
type Job struct {
	Code    path.Path // below CodeRoot
	Data    pack.Map  // the job's variables
	Target  float64   // run once it is this time (0: not)
	Repeat  float64   // after a success, run again this much later (0: not)
	Delay   float64   // after a failure, run again this much later, times Backoff^n
	Backoff float64
	// Timeout bounds a run, in seconds: the default is the runner's
	// (luart.JobLimits, 10 minutes), 0 is none (a job that loops over its
	// events for good); Config.MaxTimeout may bound it.
	Timeout *float64
	Info    string // a note for people
}

// Defaults of a job, as the original's.
const (
	DefaultDelay   = 100.0
	DefaultBackoff = 1.1
	maxBackoffs    = 20 // failures counted for the back-off, at most
)

// ParseJob reads a runner entry's value.
func ParseJob(v any) (Job, error) {
	j := Job{Delay: DefaultDelay, Backoff: DefaultBackoff}
	m, ok := v.(pack.Map)
	if !ok {
		return j, fmt.Errorf("a runner entry is a map {code: PATH, target: TIME, …}, not %T", v)
	}
	for _, kv := range m {
		k, _ := kv.Key.(string)
		var err error
		switch k {
		case "code":
			j.Code, err = pathOf(kv.Value)
		case "data":
			if kv.Value != nil {
				d, ok := kv.Value.(pack.Map)
				if !ok {
					err = errors.New("is not a map")
				}
				j.Data = d
			}
		case "target":
			j.Target, err = seconds(kv.Value)
		case "repeat":
			j.Repeat, err = seconds(kv.Value)
		case "delay":
			j.Delay, err = seconds(kv.Value)
		case "backoff":
			j.Backoff, err = seconds(kv.Value)
		case "timeout":
			var t float64
			if t, err = seconds(kv.Value); err == nil && t < 0 {
				err = errors.New("is below 0")
			}
			j.Timeout = &t
		case "info":
			j.Info, _ = kv.Value.(string)
		}
		if err != nil {
			return j, fmt.Errorf("a runner entry's %s %w", k, err)
		}
	}
	if j.Code.IsRoot() {
		return j, errors.New("a runner entry needs code, the path of stored code")
	}
	return j, nil
}

// Value is j as a runner entry's value.
func (j Job) Value() pack.Map {
	m := pack.Map{{Key: "code", Value: j.Code}, {Key: "target", Value: j.Target}}
	if len(j.Data) > 0 {
		m = append(m, pack.KV{Key: "data", Value: j.Data})
	}
	if j.Repeat != 0 {
		m = append(m, pack.KV{Key: "repeat", Value: j.Repeat})
	}
	if j.Delay != DefaultDelay {
		m = append(m, pack.KV{Key: "delay", Value: j.Delay})
	}
	if j.Backoff != DefaultBackoff {
		m = append(m, pack.KV{Key: "backoff", Value: j.Backoff})
	}
	if j.Timeout != nil {
		m = append(m, pack.KV{Key: "timeout", Value: *j.Timeout})
	}
	if j.Info != "" {
		m = append(m, pack.KV{Key: "info", Value: j.Info})
	}
	return m
}

// State is what the runners write about a job: who runs it, when it ran,
// how it ended. Times are Unix seconds.
type State struct {
	Node     string  // the runner running it now; "" when none
	Started  float64 // when the last run started
	Stopped  float64 // when it ended (before Started: it runs)
	Result   any     // what the last successful run returned
	Backoffs int     // failures in a row
	Error    string  // the last failure's message
	Next     float64 // when it runs next, as the runner that wrote it saw it (0: not)
}

// ParseState reads a state entry; nil is the state of a job never run.
func ParseState(v any) State {
	var s State
	m, _ := v.(pack.Map)
	for _, kv := range m {
		k, _ := kv.Key.(string)
		switch k {
		case "node":
			s.Node, _ = kv.Value.(string)
		case "started":
			s.Started, _ = seconds(kv.Value)
		case "stopped":
			s.Stopped, _ = seconds(kv.Value)
		case "result":
			s.Result = kv.Value
		case "backoff":
			b, _ := seconds(kv.Value)
			s.Backoffs = int(b)
		case "error":
			s.Error, _ = kv.Value.(string)
		case "computed":
			s.Next, _ = seconds(kv.Value)
		}
	}
	return s
}

// Value is s as a state entry's value (the original's field names).
func (s State) Value() pack.Map {
	var node any
	if s.Node != "" {
		node = s.Node
	}
	m := pack.Map{{Key: "node", Value: node}, {Key: "started", Value: s.Started}, {Key: "stopped", Value: s.Stopped},
		{Key: "backoff", Value: int64(s.Backoffs)}, {Key: "computed", Value: s.Next}}
	if s.Result != nil {
		m = append(m, pack.KV{Key: "result", Value: s.Result})
	}
	if s.Error != "" {
		m = append(m, pack.KV{Key: "error", Value: s.Error})
	}
	return m
}

// Due says when j runs next in state s (0: not until its entry changes):
// at its target if it has not run since, after a failure once its
// back-off has passed, after a success once its repeat has.
func (j Job) Due(s State) float64 {
	switch {
	case j.Target > 0 && j.Target > s.Started:
		return j.Target
	case s.Backoffs > 0:
		return s.Stopped + j.Delay*math.Pow(j.Backoff, float64(s.Backoffs))
	case j.Repeat > 0 && s.Started > 0:
		return s.Stopped + j.Repeat
	}
	return 0
}

// Now is the time as runner entries and states count it.
func Now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func seconds(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, errors.New("is not a finite number")
		}
		return x, nil
	}
	return 0, fmt.Errorf("is a %T, not a number", v)
}

func pathOf(v any) (path.Path, error) {
	switch x := v.(type) {
	case path.Path:
		return x, nil
	case string:
		return path.Parse(x)
	case []any: // the original stores a code path as a list
		return path.New(x...)
	}
	return path.Path{}, fmt.Errorf("is a %T, not a path", v)
}
