package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Result is one run's figures, or (Run 0) the median of several.
type Result struct {
	Workload string  `json:"workload"`
	Run      int     `json:"run"` // 1-based; 0: the median of Runs runs
	Runs     int     `json:"runs"`
	Conns    int     `json:"conns"`
	Pipeline int     `json:"pipeline"`
	Log      bool    `json:"log"` // the change log was on
	Ops      int64   `json:"ops"` // measured requests; deliveries (watch); entries (fill, load)
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"ops_per_sec"` // requests, deliveries (watch), sets (fill)
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	Errors   int64   `json:"errors"`
	// ACL: the rules of the ACL every connection was bound to (--acl).
	ACL int `json:"acl,omitempty"`
	// Types: every set was checked by int.percent (--types); Codec:
	// every value went through float.str (--codec).
	Types      bool   `json:"types,omitempty"`
	Codec      bool   `json:"codec,omitempty"`
	FirstError string `json:"first_error,omitempty"`

	// CPU used while the driver ran, in cores (1: one core busy): this
	// tool's (with --in-process the server's too) and the server's.
	ToolCores   float64 `json:"tool_cores,omitempty"`
	ServerCores float64 `json:"server_cores,omitempty"`

	Watchers   int     `json:"watchers,omitempty"`
	SetsPerSec float64 `json:"sets_per_sec,omitempty"` // watch: the setters' rate

	RSSBytes     int64 `json:"rss_bytes,omitempty"`      // fill: the server's VmRSS after filling
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"` // and its VmHWM

	// memtypes: the server's VmRSS before the types and codecs were
	// stored (RSSBytes: after), and how long storing them took.
	EmptyRSSBytes int64   `json:"empty_rss_bytes,omitempty"`
	StoreSeconds  float64 `json:"store_seconds,omitempty"`

	LoadSeconds float64 `json:"load_seconds,omitempty"` // load: start to "Running."
	FileBytes   int64   `json:"file_bytes,omitempty"`   // load: the save file's size

	// The cluster workloads (replicate, latency, join).
	Servers int     `json:"servers,omitempty"`
	Rate    float64 `json:"rate,omitempty"` // latency: the writes/s asked for
	// latency: the writes' acknowledgement latency (P50us… are the
	// propagation's)
	AckP50us        float64      `json:"ack_p50_us,omitempty"`
	AckP99us        float64      `json:"ack_p99_us,omitempty"`
	AckP999us       float64      `json:"ack_p999_us,omitempty"`
	ConvergeSeconds float64      `json:"converge_seconds,omitempty"` // replicate: from the last acknowledged write until every node held every write
	JoinSeconds     float64      `json:"join_seconds,omitempty"`     // join: the last server's start to "Running."
	Nodes           []NodeResult `json:"nodes,omitempty"`

	// login: the 90th percentile of a login's wall time, and the
	// server's CPU per login.
	P90us               float64 `json:"p90_us,omitempty"`
	ServerCPUPerLoginMs float64 `json:"server_cpu_ms_per_login,omitempty"`

	// console: the first page until the root's rows showed, and the
	// bytes it transferred; a node of Ops children until its first 100
	// rows showed, then four more pages by scrolling, and the rows the
	// page held then.
	PageMs    float64 `json:"page_ms,omitempty"`
	PageBytes int64   `json:"page_bytes,omitempty"`
	NodeMs    float64 `json:"node_ms,omitempty"`
	ScrollMs  float64 `json:"scroll_ms,omitempty"`
	RowsShown int64   `json:"rows_shown,omitempty"`

	// The runner workloads (jobdelay, jobs); Nodes are the runners, each
	// with the CPU of the server it talks to when it has one of its own. jobdelay: P50us, P90us, P99us
	// and MaxUs are the delay from a job's due time to its first
	// instruction, Ops the jobs that ran, Missed those that did not and
	// Twice those that ran more than once (both count as errors too).
	// jobs: Ops the runs counted, PerSec their rate, Twice the runs that
	// started less than Repeat after the job's run before (so overlapped
	// it), over the whole run; errors too.
	Runners int     `json:"runners,omitempty"`
	Jobs    int     `json:"jobs,omitempty"`   // jobs created
	Repeat  float64 `json:"repeat,omitempty"` // jobs: each job's repeat, seconds
	MaxUs   float64 `json:"max_us,omitempty"`
	// jobdelay: from the due time to the runner starting its claim (the
	// state's started); the rest of the delay is the claim's round trip
	// and the start of the Lua call.
	ClaimP50us        float64 `json:"claim_p50_us,omitempty"`
	ClaimP99us        float64 `json:"claim_p99_us,omitempty"`
	Missed            int64   `json:"missed,omitempty"`
	Twice             int64   `json:"twice,omitempty"`
	RunnerCores       float64 `json:"runner_cores,omitempty"`          // the runner daemons' CPU, all together
	ServerCPUPerRunUs float64 `json:"server_cpu_us_per_run,omitempty"` // jobs: the servers' CPU over the runs
	RunnerCPUPerRunUs float64 `json:"runner_cpu_us_per_run,omitempty"` // jobs: the runners' likewise
	MachineCores      float64 `json:"machine_cores,omitempty"`         // every process's CPU, this tool's, the servers' and the runners' too
	RunnerWarnings    int64   `json:"runner_warnings,omitempty"`       // lines the runners logged at WARN or above
	FirstWarning      string  `json:"first_warning,omitempty"`

	Redis *RedisResult `json:"redis,omitempty"`
}

// NodeResult is one server's figures in a cluster workload.
type NodeResult struct {
	Name string `json:"name"`
	// replicate: when the node held every write, from the first write.
	HeldSeconds float64 `json:"held_seconds,omitempty"`
	// join: from its start until it served with the network's data.
	JoinSeconds float64 `json:"join_seconds,omitempty"`
	// latency: the changes its watcher received and their propagation
	// latency.
	Ops    int64   `json:"ops,omitempty"`
	P50us  float64 `json:"p50_us,omitempty"`
	P99us  float64 `json:"p99_us,omitempty"`
	P999us float64 `json:"p999_us,omitempty"`
	// Cores is its CPU use during the run (0: unknown, or in process).
	Cores float64 `json:"cores,omitempty"`
	// jobdelay, jobs: the CPU use of the runner on this server (Ops:
	// the runs it printed).
	RunnerCores float64 `json:"runner_cores,omitempty"`
}

// setStats takes the count, rate, percentiles and errors of st.
func (r *Result) setStats(st *loadStats) {
	r.Ops = st.ops
	r.Seconds = st.elapsed().Seconds()
	r.PerSec = st.rate()
	r.setLatency(&st.hist)
	r.Errors += st.errors
	if r.FirstError == "" {
		r.FirstError = st.firstErr
	}
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// percentiles returns the p50, p99 and p99.9 of h in µs.
func percentiles(h *histogram) (p50, p99, p999 float64) {
	return us(h.quantile(0.50)), us(h.quantile(0.99)), us(h.quantile(0.999))
}

// setLatency takes the percentiles of h.
func (r *Result) setLatency(h *histogram) {
	r.P50us, r.P99us, r.P999us = percentiles(h)
}

// median returns the median of each figure over runs (at least one).
func median(runs []Result) Result {
	m := runs[0]
	m.Run, m.Runs = 0, len(runs)
	f := func(get func(*Result) float64) float64 {
		v := make([]float64, len(runs))
		for i := range runs {
			v[i] = get(&runs[i])
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	i := func(get func(*Result) int64) int64 {
		return int64(f(func(r *Result) float64 { return float64(get(r)) }))
	}
	m.Ops = i(func(r *Result) int64 { return r.Ops })
	m.Seconds = f(func(r *Result) float64 { return r.Seconds })
	m.PerSec = f(func(r *Result) float64 { return r.PerSec })
	m.P50us = f(func(r *Result) float64 { return r.P50us })
	m.P99us = f(func(r *Result) float64 { return r.P99us })
	m.P999us = f(func(r *Result) float64 { return r.P999us })
	m.P90us = f(func(r *Result) float64 { return r.P90us })
	m.ServerCPUPerLoginMs = f(func(r *Result) float64 { return r.ServerCPUPerLoginMs })
	m.SetsPerSec = f(func(r *Result) float64 { return r.SetsPerSec })
	m.ToolCores = f(func(r *Result) float64 { return r.ToolCores })
	m.ServerCores = f(func(r *Result) float64 { return r.ServerCores })
	m.RSSBytes = i(func(r *Result) int64 { return r.RSSBytes })
	m.PeakRSSBytes = i(func(r *Result) int64 { return r.PeakRSSBytes })
	m.EmptyRSSBytes = i(func(r *Result) int64 { return r.EmptyRSSBytes })
	m.StoreSeconds = f(func(r *Result) float64 { return r.StoreSeconds })
	m.LoadSeconds = f(func(r *Result) float64 { return r.LoadSeconds })
	m.FileBytes = i(func(r *Result) int64 { return r.FileBytes })
	m.Rate = f(func(r *Result) float64 { return r.Rate })
	m.AckP50us = f(func(r *Result) float64 { return r.AckP50us })
	m.AckP99us = f(func(r *Result) float64 { return r.AckP99us })
	m.AckP999us = f(func(r *Result) float64 { return r.AckP999us })
	m.ConvergeSeconds = f(func(r *Result) float64 { return r.ConvergeSeconds })
	m.JoinSeconds = f(func(r *Result) float64 { return r.JoinSeconds })
	m.MaxUs = f(func(r *Result) float64 { return r.MaxUs })
	m.PageMs = f(func(r *Result) float64 { return r.PageMs })
	m.PageBytes = i(func(r *Result) int64 { return r.PageBytes })
	m.NodeMs = f(func(r *Result) float64 { return r.NodeMs })
	m.ScrollMs = f(func(r *Result) float64 { return r.ScrollMs })
	m.RowsShown = i(func(r *Result) int64 { return r.RowsShown })
	m.ClaimP50us = f(func(r *Result) float64 { return r.ClaimP50us })
	m.ClaimP99us = f(func(r *Result) float64 { return r.ClaimP99us })
	m.RunnerCores = f(func(r *Result) float64 { return r.RunnerCores })
	m.MachineCores = f(func(r *Result) float64 { return r.MachineCores })
	m.ServerCPUPerRunUs = f(func(r *Result) float64 { return r.ServerCPUPerRunUs })
	m.RunnerCPUPerRunUs = f(func(r *Result) float64 { return r.RunnerCPUPerRunUs })
	m.Nodes = nil
	for k := range runs[0].Nodes {
		n := func(get func(*NodeResult) float64) float64 {
			return f(func(r *Result) float64 {
				if k >= len(r.Nodes) {
					return 0
				}
				return get(&r.Nodes[k])
			})
		}
		m.Nodes = append(m.Nodes, NodeResult{
			Name:        runs[0].Nodes[k].Name,
			HeldSeconds: n(func(r *NodeResult) float64 { return r.HeldSeconds }),
			JoinSeconds: n(func(r *NodeResult) float64 { return r.JoinSeconds }),
			Ops:         int64(n(func(r *NodeResult) float64 { return float64(r.Ops) })),
			P50us:       n(func(r *NodeResult) float64 { return r.P50us }),
			P99us:       n(func(r *NodeResult) float64 { return r.P99us }),
			P999us:      n(func(r *NodeResult) float64 { return r.P999us }),
			Cores:       n(func(r *NodeResult) float64 { return r.Cores }),
			RunnerCores: n(func(r *NodeResult) float64 { return r.RunnerCores }),
		})
	}
	m.Errors, m.FirstError = 0, ""
	m.Missed, m.Twice, m.RunnerWarnings, m.FirstWarning = 0, 0, 0, ""
	for _, r := range runs {
		m.Errors += r.Errors
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		m.Missed += r.Missed
		m.Twice += r.Twice
		m.RunnerWarnings += r.RunnerWarnings
		if m.FirstWarning == "" {
			m.FirstWarning = r.FirstWarning
		}
	}
	if runs[0].Redis != nil {
		rr := *runs[0].Redis
		red := func(get func(*RedisResult) float64) float64 {
			return f(func(r *Result) float64 {
				if r.Redis == nil {
					return 0
				}
				return get(r.Redis)
			})
		}
		rr.GetPerSec = red(func(r *RedisResult) float64 { return r.GetPerSec })
		rr.SetPerSec = red(func(r *RedisResult) float64 { return r.SetPerSec })
		rr.GetP50ms = red(func(r *RedisResult) float64 { return r.GetP50ms })
		rr.SetP50ms = red(func(r *RedisResult) float64 { return r.SetP50ms })
		rr.Ratio = red(func(r *RedisResult) float64 { return r.Ratio })
		rr.BenchCores = red(func(r *RedisResult) float64 { return r.BenchCores })
		rr.ServerCores = red(func(r *RedisResult) float64 { return r.ServerCores })
		m.Redis = &rr
	}
	return m
}

// print writes r as one line (and, for errors and Redis, an indented
// second one), or as one JSON object.
func (r *Result) print(w io.Writer, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var sb strings.Builder
	switch {
	case r.Runners > 0:
		fmt.Fprintf(&sb, "%s %d runners", r.Workload, r.Runners)
		if r.Servers != r.Runners {
			fmt.Fprintf(&sb, " on %d server(s)", r.Servers)
		}
	default:
		fmt.Fprintf(&sb, "%-6s %dx%d", r.Workload, r.Conns, r.Pipeline)
	}
	if r.Servers > 0 && r.Runners == 0 {
		fmt.Fprintf(&sb, " %d servers", r.Servers)
	}
	if r.Log {
		sb.WriteString(" log")
	}
	if r.ACL > 0 {
		fmt.Fprintf(&sb, " acl %d", r.ACL)
	}
	if r.Types {
		sb.WriteString(" types")
	}
	if r.Codec {
		sb.WriteString(" codec")
	}
	if r.Run == 0 {
		fmt.Fprintf(&sb, "  median of %d:", r.Runs)
	} else {
		fmt.Fprintf(&sb, "  run %d/%d:", r.Run, r.Runs)
	}
	lat := fmt.Sprintf("p50 %s  p99 %s  p99.9 %s", ms(r.P50us), ms(r.P99us), ms(r.P999us))
	switch r.Workload {
	case "watch":
		fmt.Fprintf(&sb, " %.0f deliveries/s to %d watchers (sets %.0f/s), delivery latency %s  (%d in %.2f s, %d errors)",
			r.PerSec, r.Watchers, r.SetsPerSec, lat, r.Ops, r.Seconds, r.Errors)
	case "fill":
		fmt.Fprintf(&sb, " %d entries in %.2f s (%.0f sets/s, %s), server RSS %s (peak %s), %d errors",
			r.Ops, r.Seconds, r.PerSec, lat, mb(r.RSSBytes), mb(r.PeakRSSBytes), r.Errors)
	case "memtypes":
		fmt.Fprintf(&sb, " %d types and %d codecs stored in %.2f s: server RSS %s, empty %s, so %s more (peak %s), %d errors",
			r.Ops, r.Ops, r.StoreSeconds, mb(r.RSSBytes), mb(r.EmptyRSSBytes), mb(r.RSSBytes-r.EmptyRSSBytes), mb(r.PeakRSSBytes), r.Errors)
	case "load":
		fmt.Fprintf(&sb, " %d entries (%s save file) loaded, server running after %.3f s, %d errors",
			r.Ops, mb(r.FileBytes), r.LoadSeconds, r.Errors)
	case "replicate":
		fmt.Fprintf(&sb, " %.0f replicated writes/s: %d writes in %.2f s from the first write until every node held them (acknowledged at %.0f/s, ack latency %s; all held %.3f s after the last ack), %d errors",
			r.PerSec, r.Ops, r.Seconds, r.SetsPerSec, lat, r.ConvergeSeconds, r.Errors)
	case "latency":
		fmt.Fprintf(&sb, " %d writes at %.0f/s (asked %.0f/s), propagation latency to the other servers %s, ack latency p50 %s  p99 %s  p99.9 %s, %d errors",
			r.Ops, r.PerSec, r.Rate, lat, ms(r.AckP50us), ms(r.AckP99us), ms(r.AckP999us), r.Errors)
	case "join":
		fmt.Fprintf(&sb, " %d entries: the server joining last ran with all of them after %.3f s, its RSS %s (bench1 filled at %.0f sets/s), %d errors",
			r.Ops, r.JoinSeconds, mb(r.RSSBytes), r.SetsPerSec, r.Errors)
	case "login":
		cpu := "n/a"
		if r.ServerCPUPerLoginMs > 0 {
			cpu = fmt.Sprintf("%.1f ms", r.ServerCPUPerLoginMs)
		}
		fmt.Fprintf(&sb, " %d logins, one at a time, each on a new connection: p50 %s  p90 %s  p99 %s, server CPU %s per login",
			r.Ops, ms(r.P50us), ms(r.P90us), ms(r.P99us), cpu)
	case "console":
		fmt.Fprintf(&sb, " first page: the root's rows after %.0f ms, %.1f kB transferred; a node of %d children: its first rows after %.0f ms, 400 more (4 pages) in %.0f ms (%d rows in the page)",
			r.PageMs, float64(r.PageBytes)/1000, r.Ops, r.NodeMs, r.ScrollMs, r.RowsShown)
	case "jobdelay":
		fmt.Fprintf(&sb, " %d of %d jobs ran (%d missed, %d ran twice); due time to first instruction p50 %s  p90 %s  p99 %s  max %s (to the claim p50 %s  p99 %s), %d errors",
			r.Ops, r.Jobs, r.Missed, r.Twice, ms(r.P50us), ms(r.P90us), ms(r.P99us), ms(r.MaxUs), ms(r.ClaimP50us), ms(r.ClaimP99us), r.Errors)
	case "jobs":
		fmt.Fprintf(&sb, " %.0f runs/s (%d in %.2f s) of %d jobs repeating after %g s; CPU per run: servers %.0f µs, runners %.0f µs; %d runs overlapped one before, %d errors",
			r.PerSec, r.Ops, r.Seconds, r.Jobs, r.Repeat, r.ServerCPUPerRunUs, r.RunnerCPUPerRunUs, r.Twice, r.Errors)
	default:
		fmt.Fprintf(&sb, " %.0f ops/s  %s  (%d in %.2f s, %d errors)", r.PerSec, lat, r.Ops, r.Seconds, r.Errors)
	}
	if r.ToolCores > 0 {
		fmt.Fprintf(&sb, "  cpu: tool %.2f", r.ToolCores)
		if r.ServerCores > 0 {
			if r.Servers > 0 {
				fmt.Fprintf(&sb, ", servers %.2f", r.ServerCores)
			} else {
				fmt.Fprintf(&sb, ", server %.2f", r.ServerCores)
			}
		}
		if r.RunnerCores > 0 {
			fmt.Fprintf(&sb, ", runners %.2f", r.RunnerCores)
		}
		if r.MachineCores > 0 {
			fmt.Fprintf(&sb, "; machine %.2f", r.MachineCores)
		}
	}
	sb.WriteByte('\n')
	for _, n := range r.Nodes {
		if r.Runners > 0 {
			fmt.Fprintf(&sb, "       %s: ran %d, cpu %.2f", n.Name, n.Ops, n.RunnerCores)
			if r.Servers == r.Runners {
				fmt.Fprintf(&sb, ", its server's %.2f", n.Cores)
			}
			sb.WriteByte('\n')
			continue
		}
		if n.HeldSeconds == 0 && n.JoinSeconds == 0 && n.Ops == 0 && n.Cores == 0 {
			continue
		}
		fmt.Fprintf(&sb, "       %s:", n.Name)
		if n.HeldSeconds > 0 {
			fmt.Fprintf(&sb, " held every write after %.3f s", n.HeldSeconds)
		}
		if n.JoinSeconds > 0 {
			fmt.Fprintf(&sb, " joined, running with all data after %.3f s", n.JoinSeconds)
		}
		if n.Ops > 0 {
			fmt.Fprintf(&sb, " %d changes, propagation p50 %s  p99 %s  p99.9 %s", n.Ops, ms(n.P50us), ms(n.P99us), ms(n.P999us))
		}
		if n.Cores > 0 {
			fmt.Fprintf(&sb, "  cpu %.2f", n.Cores)
		}
		sb.WriteByte('\n')
	}
	if r.FirstError != "" {
		fmt.Fprintf(&sb, "       first error: %s\n", r.FirstError)
	}
	if r.RunnerWarnings > 0 {
		fmt.Fprintf(&sb, "       the runners logged %d warnings, the first: %s\n", r.RunnerWarnings, r.FirstWarning)
	}
	if rr := r.Redis; rr != nil {
		fmt.Fprintf(&sb, "       redis %dx%d: get %.0f/s (p50 %.3f ms), set %.0f/s (p50 %.3f ms)",
			r.Conns, r.Pipeline, rr.GetPerSec, rr.GetP50ms, rr.SetPerSec, rr.SetP50ms)
		if rr.BenchCores > 0 {
			fmt.Fprintf(&sb, "  cpu: redis-benchmark %.2f, redis-server %.2f", rr.BenchCores, rr.ServerCores)
		}
		if rr.Ratio > 0 {
			fmt.Fprintf(&sb, "; distkv/redis %s = %.2f", r.Workload, rr.Ratio)
		}
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func ms(us float64) string { return fmt.Sprintf("%.3f ms", us/1e3) }

func mb(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}
