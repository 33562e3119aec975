package main

// The final comparison of TestChaos, and its report.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
)

// shown bounds the examples a failure report lists per kind.
const shown = 20

// check lets the network settle and compares: copies, acknowledged
// writes, ticks, and the reads during restarts. It reports what it finds.
func (h *chaos) check() {
	t := h.t
	dumps := h.settle()
	h.mu.Lock()
	defer h.mu.Unlock()
	failed := t.Failed()

	var up []*chaosServer
	for _, s := range h.servers {
		if dumps[s] != nil {
			up = append(up, s)
		}
	}
	summary := fmt.Sprintf("%d acknowledged writes, %d kills", len(h.acks), len(h.kills))
	for _, s := range h.servers {
		end := fmt.Sprintf("%d entries at the end", len(dumps[s]))
		if dumps[s] == nil {
			end = "not running at the end"
		}
		summary += fmt.Sprintf("; %s: %d acknowledged, %d unknown (error or no answer), %s", s.name,
			h.count(func(a chaosAck) bool { return a.srv == s.idx }), h.unknown[s.idx], end)
	}
	t.Log(summary)
	if len(h.acks) == 0 {
		t.Error("no write was acknowledged")
	}
	bad := h.checkCopies(up, dumps)
	bad = h.checkAcks(up, dumps) || bad
	bad = h.checkTicks(up, dumps) || bad
	bad = h.checkReads() || bad
	if bad || failed {
		for _, s := range h.servers {
			for g, sp := range s.procs {
				t.Logf("--- %s, generation %d, the end of its log:\n%s", s.name, g, logTail(sp, 25))
			}
		}
	}
}

func (h *chaos) count(f func(chaosAck) bool) int {
	n := 0
	for _, a := range h.acks {
		if f(a) {
			n++
		}
	}
	return n
}

// checkCopies compares the servers' entries, path by path.
func (h *chaos) checkCopies(up []*chaosServer, dumps map[*chaosServer]map[string]client.Entry) bool {
	if len(up) < 2 {
		return false
	}
	paths := map[string]bool{}
	for _, s := range up {
		for p := range dumps[s] {
			paths[p] = true
		}
	}
	var differ []string
	for p := range paths {
		first, ok0 := dumps[up[0]][p]
		for _, s := range up[1:] {
			e, ok := dumps[s][p]
			if ok != ok0 || !bytes.Equal(e.Raw, first.Raw) || e.HasValue != first.HasValue || !slices.Equal(e.Chain, first.Chain) {
				differ = append(differ, p)
				break
			}
		}
	}
	if len(differ) == 0 {
		return false
	}
	slices.Sort(differ)
	var sb strings.Builder
	fmt.Fprintf(&sb, "the copies differ at %d of %d paths", len(differ), len(paths))
	for _, s := range up {
		fmt.Fprintf(&sb, "; %s has %d entries", s.name, len(dumps[s]))
	}
	sb.WriteString(":")
	for _, p := range differ[:min(shown, len(differ))] {
		fmt.Fprintf(&sb, "\n  %s:", p)
		for _, s := range up {
			fmt.Fprintf(&sb, " %s %s;", s.name, entryText(dumps[s], p))
		}
	}
	h.t.Error(sb.String())
	return true
}

// entryText is what a server holds at p, for a report.
func entryText(dump map[string]client.Entry, p string) string {
	e, ok := dump[p]
	switch {
	case !ok:
		return "nothing"
	case !e.HasValue:
		return fmt.Sprintf("no value (chain %v)", e.Chain)
	}
	v, _ := e.Value()
	return fmt.Sprintf("%v (chain %v)", v, e.Chain)
}

// has says whether an entry holds the acknowledged write a, or a later
// write of its writer.
func has(e client.Entry, ok bool, a chaosAck) bool {
	if !ok || !e.HasValue {
		return false
	}
	v, _ := e.Value()
	n, isInt := v.(int64)
	if a.over {
		return isInt && n >= a.value
	}
	return isInt && n == a.value
}

// lossAllowed says whether a may be missing: the variant allows losses,
// a's server was killed within lossWindow after acknowledging it, and a
// was not in a log with sync always.
func (h *chaos) lossAllowed(a chaosAck) bool {
	k := h.killOf(a)
	durable := a.logged && h.servers[a.srv].sync == "always"
	return h.v.lossAllowed && k != nil && !durable && a.at >= k.at-lossWindow
}

// killOf is the kill that ended the generation that acknowledged a, or nil.
func (h *chaos) killOf(a chaosAck) *chaosKill {
	for i := range h.kills {
		if k := &h.kills[i]; k.srv == a.srv && k.gen == a.gen {
			return k
		}
	}
	return nil
}

// describe says who acknowledged a, when, and when that server was killed.
func (h *chaos) describe(a chaosAck) string {
	s := h.servers[a.srv]
	role := "no log"
	switch {
	case s.sync != "" && a.logged:
		role = "log sync " + s.sync
	case s.sync != "":
		role = "log sync " + s.sync + ", sent before the log ran"
	}
	text := fmt.Sprintf("%s = %d acknowledged by %s (generation %d, %s) at %.3fs as tick %s:%d", a.key, a.value,
		s.name, a.gen, role, a.at.Seconds(), a.link.Node, a.link.Tick)
	if k := h.killOf(a); k != nil && a.at <= k.at {
		text += fmt.Sprintf(", %.3fs before kill #%d of %s (at %.3fs)", (k.at - a.at).Seconds(), slices.Index(h.kills, *k)+1, s.name, k.at.Seconds())
	} else if k != nil {
		text += fmt.Sprintf(", %.3fs after kill #%d of %s had sent SIGKILL (at %.3fs), before the process was gone", (a.at - k.at).Seconds(), slices.Index(h.kills, *k)+1, s.name, k.at.Seconds())
	} else {
		text += fmt.Sprintf(", %s not killed after it", s.name)
	}
	return text
}

// checkAcks looks for every acknowledged write on every server.
func (h *chaos) checkAcks(up []*chaosServer, dumps map[*chaosServer]map[string]client.Entry) bool {
	t := h.t
	allowed := map[string]int{} // per server lacking writes: missing within the rules
	faulty := map[string]int{}  // and outside them
	byAcker := map[string]int{} // missing within the rules, per server that acknowledged
	type loss struct {
		n      int
		oldest time.Duration // the longest time from an acknowledgement to the kill
	}
	perKill := map[*chaosKill]loss{}
	var faults []string
	for _, a := range h.acks {
		p := path.P(a.key).String()
		var lack []string
		for _, s := range up {
			if e, ok := dumps[s][p]; !has(e, ok, a) {
				lack = append(lack, s.name+" has "+entryText(dumps[s], p))
			}
		}
		if len(lack) == 0 {
			continue
		}
		ok := h.lossAllowed(a)
		if ok {
			byAcker[h.servers[a.srv].name]++
			k := h.killOf(a)
			l := perKill[k]
			l.n++
			l.oldest = max(l.oldest, k.at-a.at)
			perKill[k] = l
		}
		for _, s := range up {
			if e, has1 := dumps[s][p]; !has(e, has1, a) {
				if ok {
					allowed[s.name]++
				} else {
					faulty[s.name]++
				}
			}
		}
		if !ok {
			faults = append(faults, h.describe(a)+"; "+strings.Join(lack, ", "))
		}
	}
	var counts []string
	for _, s := range up {
		counts = append(counts, fmt.Sprintf("%s lacks %d (%d within the rules)", s.name, allowed[s.name]+faulty[s.name], allowed[s.name]))
	}
	var ackers []string
	for _, s := range h.servers {
		ackers = append(ackers, fmt.Sprintf("%s %d", s.name, byAcker[s.name]))
	}
	for i := range h.kills {
		if l, ok := perKill[&h.kills[i]]; ok {
			ackers = append(ackers, fmt.Sprintf("kill #%d of %s: %d, acknowledged up to %.3fs before it", i+1, h.servers[h.kills[i].srv].name, l.n, l.oldest.Seconds()))
		}
	}
	t.Logf("acknowledged writes missing: %s; lost within %v before a kill of the server that acknowledged them: %s",
		strings.Join(counts, ", "), lossWindow, strings.Join(ackers, "; "))
	if len(faults) == 0 {
		return false
	}
	rule := "none may be missing"
	if h.v.lossAllowed {
		rule = fmt.Sprintf("only writes acknowledged within %v before a kill of their server, unless logged with sync always, may be missing", lossWindow)
	}
	t.Errorf("%d acknowledged writes missing (%s), e.g.:\n  %s", len(faults), rule, strings.Join(faults[:min(shown, len(faults))], "\n  "))
	return true
}

// checkTicks looks for a tick that a node name issued for two different
// writes, for a generation whose first tick is not above the ticks its
// predecessor acknowledged, and for entries that share their newest tick.
func (h *chaos) checkTicks(up []*chaosServer, dumps map[*chaosServer]map[string]client.Entry) bool {
	t := h.t
	first := map[client.Link]chaosAck{}
	var reused []string
	type genKey struct {
		srv int
		gen int64
	}
	lo, hi := map[genKey]uint64{}, map[genKey]uint64{}
	for _, a := range h.acks {
		if a.link.Node != h.servers[a.srv].name {
			continue // acknowledged without a chain of its own
		}
		if b, ok := first[a.link]; ok && (b.key != a.key || b.value != a.value) {
			reused = append(reused, fmt.Sprintf("tick %s:%d: %s; and %s", a.link.Node, a.link.Tick, h.describe(b), h.describe(a)))
		} else if !ok {
			first[a.link] = a
		}
		g := genKey{a.srv, a.gen}
		if v, ok := lo[g]; !ok || a.link.Tick < v {
			lo[g] = a.link.Tick
		}
		hi[g] = max(hi[g], a.link.Tick)
	}
	var back []string
	for _, k := range h.kills {
		prev, next := genKey{k.srv, k.gen}, genKey{k.srv, k.gen + 1}
		if _, ok := lo[next]; ok && hi[prev] > 0 && lo[next] <= hi[prev] {
			back = append(back, fmt.Sprintf("%s generation %d acknowledged tick %d after generation %d had acknowledged tick %d (killed at %.3fs)",
				h.servers[k.srv].name, k.gen+1, lo[next], k.gen, hi[prev], k.at.Seconds()))
		}
	}
	// Ticks reused for writes whose acknowledgement did not arrive show
	// in the data: two entries whose newest change has the same tick.
	heads := map[client.Link]string{}
	var twice []string
	for _, s := range up {
		for p, e := range dumps[s] {
			if len(e.Chain) == 0 {
				continue
			}
			if q, ok := heads[e.Chain[0]]; ok && q != p {
				twice = append(twice, fmt.Sprintf("tick %s:%d is the newest change of both %s and %s on %s", e.Chain[0].Node, e.Chain[0].Tick, q, p, s.name))
			}
			heads[e.Chain[0]] = p
		}
		clear(heads)
	}
	if len(reused) == 0 && len(back) == 0 && len(twice) == 0 {
		return false
	}
	slices.Sort(twice)
	t.Errorf("ticks reused: %d ticks acknowledged for two different writes; %d restarts went back; %d entries share their newest tick with another:\n  %s",
		len(reused), len(back), len(twice), strings.Join(slices.Concat(back, reused[:min(shown, len(reused))], twice[:min(shown, len(twice))]), "\n  "))
	return true
}

// checkReads reports reads during restarts that did not find a key the
// other servers had long had.
func (h *chaos) checkReads() bool {
	var per []string
	for i, k := range h.kills {
		n := 0
		for _, r := range h.reads {
			if r.kill == i {
				n++
			}
		}
		first := ""
		if k.read > 0 && k.up > 0 {
			first = fmt.Sprintf(" (the first %+.3fs from Running.)", (k.read - k.up).Seconds())
		}
		per = append(per, fmt.Sprintf("kill #%d of %s: %d reads%s, %d wrong", i+1, h.servers[k.srv].name, h.nreads[i], first, n))
	}
	h.t.Logf("reads during restarts: %s", strings.Join(per, "; "))
	if len(h.reads) == 0 {
		return false
	}
	var ex []string
	for _, r := range h.reads[:min(shown, len(h.reads))] {
		k := h.kills[r.kill]
		when := "before it printed Running."
		if k.up > 0 && r.at >= k.up {
			when = fmt.Sprintf("%.3fs after it printed Running.", (r.at - k.up).Seconds())
		}
		ex = append(ex, fmt.Sprintf("%s at %.3fs (%.3fs after kill #%d, %s) answered %s for %s", h.servers[k.srv].name, r.at.Seconds(),
			(r.at-k.dead).Seconds(), r.kill+1, when, r.got, h.describe(r.ack)))
	}
	h.t.Errorf("%d reads during restarts did not find a key every other server had had for more than %v:\n  %s", len(h.reads), stableAge, strings.Join(ex, "\n  "))
	return true
}
