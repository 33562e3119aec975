package main

// The crash chaos test (issue 12). Three servers run as processes of the
// real binary; clients write to all of them at a steady rate while random
// servers are killed with SIGKILL and restarted; at the end every copy
// must be the same and every acknowledged write there.
//
// CI runs a few cycles. By hand, run it for minutes, or repeat a run:
//
//	go test ./cmd/distkv -run TestChaos -timeout 0 -chaos.cycles 100 -chaos.rate 1000
//	go test ./cmd/distkv -run TestChaos -chaos.seed 1234
//	go test ./cmd/distkv -run TestChaos -chaos.rate 1000 -v   # prints the counts when it passes
//	go test ./cmd/distkv -run TestChaos -chaos.bin /tmp/distkv-old  # another build
//
// Every key is new (but for a few overwritten ones), so the data grows
// all the time (about 300,000 entries after 30 cycles at the default
// rate, a million after 55), and restarts slow down with it: for 100
// cycles in some 15 minutes, add -chaos.rate 1000.
//
// The seed picks which server logs with which sync policy and the order
// and timing of kills; the writes themselves depend on the scheduler, so a
// repeated seed repeats the plan, not every write.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
)

var (
	chaosCycles = flag.Int("chaos.cycles", 3, "TestChaos: kill/restart cycles")
	chaosSeed   = flag.Uint64("chaos.seed", 0, "TestChaos: random seed (0: a new one, logged)")
	chaosRate   = flag.Int("chaos.rate", 3000, "TestChaos: sets per second over all servers")
	chaosBin    = flag.String("chaos.bin", "", "TestChaos: the distkv binary to test (default: build this tree's)")
)

const (
	// lossWindow: under ack local, a write is acknowledged once the server
	// the client talks to has applied it; it reaches the other servers over
	// TCP streams within milliseconds on loopback, and a stream that broke
	// is repaired from gossip tick announcements within a few hundred
	// milliseconds (the local gossip profile). So a write acknowledged by a
	// server more than 2 s before that server was killed has been passed
	// on, and its loss is a fault; one acknowledged in the last 2 s may be
	// lost with the server, unless the server logs with sync "always" (and
	// its log ran when the write was sent). New peer connections after a
	// restart take up to about a second, which the 2 s cover too.
	lossWindow = 2 * time.Second
	// stableAge: a read during a restart asks for keys acknowledged at
	// least this long before the restart, by a server not killed since:
	// every other server has them, so the restarted one must have them
	// before it answers.
	stableAge = time.Second
	// writersPerServer clients write to each server, each on its own
	// connection.
	writersPerServer = 3
	// overwriteEvery: every so many writes of a writer overwrite one of its
	// few shared keys (with an increasing value) instead of a new key.
	overwriteEvery = 10
	overwriteKeys  = 5
	// settleTime bounds the wait for the copies to agree after the chaos;
	// on loopback they agree within a second when nothing is wrong.
	settleTime = 30 * time.Second
	// startTime bounds a (re)start. A long run makes restarts slow: a
	// server loads its log at some 50,000 records/s here, besides the
	// writes, and a million entries take 20 s.
	startTime = 2 * time.Minute
)

// chaosVariant is an acknowledgement level TestChaos runs with.
type chaosVariant struct {
	name       string
	serverArgs []string        // given to every server
	setOpts    []client.Option // given to every set
	// lossAllowed: acknowledged writes of a killed server may be missing
	// (see lossWindow); else none may be.
	lossAllowed bool
}

// TestChaos kills random servers of a network of three with SIGKILL while
// clients write to all of them, restarts them, and checks that (1) every
// acknowledged write is on every server at the end, except with ack
// local one acknowledged by a server within lossWindow before its kill,
// unless that server logged it with sync "always"; (2) all copies are
// the same; (3) no node name issued a tick twice; (4) a restarted server
// never answers "missing" for a key the others had long before.
func TestChaos(t *testing.T) {
	bin := *chaosBin
	if bin == "" {
		bin = buildBinary(t)
	}
	variants := []chaosVariant{
		{name: "local", lossAllowed: true},
		// With ack peer nothing may be lost: the servers' default, and
		// every set says so too.
		{name: "peer", serverArgs: []string{"-C", "server.ack=peer"}, setOpts: []client.Option{client.AckPeer()}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			seed := *chaosSeed
			if seed == 0 {
				seed = rand.Uint64()
			}
			t.Logf("seed %d (repeat with -chaos.seed %d), %d cycles, %d sets/s", seed, seed, *chaosCycles, *chaosRate)
			h := newChaos(t, bin, v, seed)
			h.run(*chaosCycles)
			h.check()
		})
	}
}

// chaos is one run of TestChaos.
type chaos struct {
	t       *testing.T
	bin     string
	v       chaosVariant
	rng     *rand.Rand
	start   time.Time
	servers []*chaosServer

	mu      sync.Mutex // protects the fields below
	acks    []chaosAck
	unknown []int // per server: sets that got an error, or no answer
	kills   []chaosKill
	reads   []chaosRead // reads during restarts that went wrong
	nreads  []int       // per kill: reads answered during its restart
}

// chaosServer is one server of the network, across its restarts.
type chaosServer struct {
	node
	idx   int
	sync  string // the log's sync policy; "" runs without a log
	dir   string
	procs []*serverProc // every generation's process, for their logs
	logs  []string      // the log file of every generation (with a log)
	// gen counts the kills of this server so far: generation g is the
	// process started after the g-th kill. It changes once the killed
	// process is gone, so a connection opened while it stays the same
	// talks to that generation's process.
	gen atomic.Int64
	// logged is the newest generation whose log runs: every write sent to
	// it from then on is in its log before it is acknowledged.
	logged atomic.Int64
}

// chaosAck is an acknowledged write.
type chaosAck struct {
	key   string
	value int64
	over  bool // a shared key: a later value of its writer replaces it
	// logged: sent once the generation's log ran (with sync always, it is
	// on disk when acknowledged)
	logged bool
	srv    int           // the server that acknowledged it
	gen    int64         // its generation
	at     time.Duration // when the acknowledgement arrived, since the start
	link   client.Link   // the newest change of the entry, as acknowledged
}

// chaosKill is a kill of a server and its restart.
type chaosKill struct {
	srv      int
	gen      int64         // the generation it ended
	at, dead time.Duration // SIGKILL sent; process gone
	up       time.Duration // the next generation printed "Running."; 0 if it did not
	read     time.Duration // the first answer to a read during the restart; 0: none
}

// chaosRead is a read of an existing key during a restart that did not
// return the acknowledged value.
type chaosRead struct {
	ack  chaosAck
	kill int // index into kills
	at   time.Duration
	got  string
}

func newChaos(t *testing.T, bin string, v chaosVariant, seed uint64) *chaos {
	h := &chaos{t: t, bin: bin, v: v, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), start: time.Now()}
	// One server logs with sync always, one with interval or never, one
	// has no log; which is which comes from the seed.
	roles := []string{"always", []string{"interval", "never"}[h.rng.IntN(2)], ""}
	h.rng.Shuffle(len(roles), func(i, j int) { roles[i], roles[j] = roles[j], roles[i] })
	dir := t.TempDir()
	for i, name := range []string{"one", "two", "three"} {
		s := &chaosServer{node: node{name: name, port: freePort(t), gsp: freePort(t)}, idx: i, sync: roles[i], dir: dir}
		s.logged.Store(-1)
		h.servers = append(h.servers, s)
	}
	h.unknown = make([]int, len(h.servers))
	for _, s := range h.servers {
		role := "no log"
		if s.sync != "" {
			role = "log, sync " + s.sync
		}
		t.Logf("%s: %s", s.name, role)
		if _, err := h.launch(s); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *chaos) since() time.Duration { return time.Since(h.start) }

// launch starts s's current generation and its log. It returns when the
// server printed "Running.".
func (h *chaos) launch(s *chaosServer) (time.Duration, error) {
	gen := s.gen.Load()
	args := append([]string(nil), h.v.serverArgs...)
	if s.sync != "" {
		args = append(args, "-C", "server.log.sync="+s.sync)
	}
	args = append(args, "server")
	switch {
	case s.idx == 0 && gen == 0:
		args = append(args, "-i", "chaos")
	case gen == 0:
		args = append(args, "--join", "127.0.0.1:"+strconv.Itoa(h.servers[0].gsp))
	default:
		for _, o := range h.servers {
			if o != s {
				args = append(args, "--join", "127.0.0.1:"+strconv.Itoa(o.gsp))
			}
		}
		if s.sync != "" {
			// The previous generation's log: it was running, its state
			// written, before that generation was killed.
			args = append(args, "-l", s.logs[len(s.logs)-1])
		}
	}
	sp, err := launchServerProc(h.t, h.bin, s.port, startTime, s.args(append(args, s.name)...)...)
	up := h.since()
	if sp != nil {
		s.procs = append(s.procs, sp)
		s.proc = sp
	}
	if err != nil {
		return 0, fmt.Errorf("%s, generation %d: %w", s.name, gen, err)
	}
	if s.sync != "" {
		// A new file per generation, with the whole state first: a write
		// acknowledged after this request returned is in it.
		name := filepath.Join(s.dir, fmt.Sprintf("%s.g%d.state", s.name, gen))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: s.port})
		if err != nil {
			return 0, fmt.Errorf("%s, generation %d: %w", s.name, gen, err)
		}
		defer cl.Close()
		if _, err := cl.Request(ctx, "log", client.Args{{Key: "path", Value: name}, {Key: "fetch", Value: true}}); err != nil {
			return 0, fmt.Errorf("%s, generation %d: log: %w", s.name, gen, err)
		}
		s.logs = append(s.logs, name)
		s.logged.Store(gen)
	}
	return up, nil
}

// kill sends SIGKILL to s and waits until the process is gone.
func (h *chaos) kill(s *chaosServer) chaosKill {
	k := chaosKill{srv: s.idx, gen: s.gen.Load(), at: h.since()}
	s.proc.cmd.Process.Signal(syscall.SIGKILL)
	s.proc.cmd.Wait()
	k.dead = h.since()
	s.gen.Add(1)
	return k
}

// dial connects to s's current generation as soon as it accepts
// connections, as a client would, and says which generation it is.
func (h *chaos) dial(ctx context.Context, s *chaosServer) (*client.Client, int64) {
	for ctx.Err() == nil {
		gen := s.gen.Load()
		cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: s.port, Timeout: 2 * time.Second})
		if err == nil && s.gen.Load() == gen {
			return cl, gen
		}
		if err == nil {
			cl.Close() // a kill came between: which process answered?
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, 0
}

// writer sets keys below c.<id> through s, one every `every`, until ctx
// ends: new keys, and every overwriteEvery-th write one of its shared
// keys. The value is the writer's sequence number, so a later write of a
// shared key has a higher value.
func (h *chaos) writer(ctx context.Context, s *chaosServer, id string, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var seq int64
	for ctx.Err() == nil {
		cl, gen := h.dial(ctx, s)
		if cl == nil {
			return
		}
		for ctx.Err() == nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
			seq++
			a := chaosAck{key: fmt.Sprintf("c.%s.k%d", id, seq), value: seq, srv: s.idx, gen: gen, logged: s.logged.Load() == gen}
			if seq%overwriteEvery == 0 {
				a.key, a.over = fmt.Sprintf("c.%s.o%d", id, seq/overwriteEvery%overwriteKeys), true
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := cl.Set(rctx, path.P(a.key), a.value, h.v.setOpts...)
			cancel()
			a.at = h.since()
			if err != nil {
				if ctx.Err() == nil {
					h.mu.Lock()
					h.unknown[s.idx]++
					h.mu.Unlock()
				}
				break
			}
			if len(res.Chain) > 0 {
				a.link = res.Chain[0]
			}
			h.mu.Lock()
			h.acks = append(h.acks, a)
			h.mu.Unlock()
		}
		cl.Close()
	}
}

// stableKeys picks up to n keys that every server but s has had for a
// while: new keys acknowledged at least stableAge before now by a server
// that was not killed since.
func (h *chaos) stableKeys(s *chaosServer, n int) []chaosAck {
	before := h.since() - stableAge
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []chaosAck
	for _, a := range h.acks {
		if !a.over && a.srv != s.idx && a.at < before && h.servers[a.srv].gen.Load() == a.gen {
			keys = append(keys, a)
		}
	}
	h.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:min(n, len(keys))]
}

// probe reads keys on s from the moment it accepts connections until ctx
// ends, and records every answer that is not the acknowledged value.
func (h *chaos) probe(ctx context.Context, s *chaosServer, keys []chaosAck, kill int) {
	if len(keys) == 0 {
		return
	}
	i := 0
	for ctx.Err() == nil {
		cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: s.port, Timeout: time.Second})
		if err != nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			a := keys[i%len(keys)]
			i++
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			e, err := cl.Get(rctx, path.P(a.key))
			cancel()
			if err != nil {
				break // a connection to a server that died, or ctx ended
			}
			v, _ := e.Value()
			h.mu.Lock()
			h.nreads[kill]++
			if h.kills[kill].read == 0 {
				h.kills[kill].read = h.since()
			}
			if !e.HasValue || v != a.value {
				got := "missing"
				if e.HasValue {
					got = fmt.Sprintf("%v (chain %v)", v, e.Chain)
				}
				h.reads = append(h.reads, chaosRead{ack: a, kill: kill, at: h.since(), got: got})
			}
			h.mu.Unlock()
		}
		cl.Close()
	}
}

// run writes to every server while it kills and restarts random servers
// `cycles` times, then stops the writers.
func (h *chaos) run(cycles int) {
	t := h.t
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	nw := writersPerServer * len(h.servers)
	every := time.Duration(float64(time.Second) * float64(nw) / float64(max(*chaosRate, 1)))
	for _, s := range h.servers {
		for w := range writersPerServer {
			wg.Go(func() { h.writer(ctx, s, fmt.Sprintf("%s.w%d", s.name, w), every) })
		}
	}
	pause := func(min, max time.Duration) { time.Sleep(min + time.Duration(h.rng.Int64N(int64(max-min)))) }
	pause(1500*time.Millisecond, 2500*time.Millisecond) // data to lose; not a timing assertion
	for c := range cycles {
		s := h.servers[h.rng.IntN(len(h.servers))]
		k := h.kill(s)
		h.mu.Lock()
		h.kills = append(h.kills, k)
		h.nreads = append(h.nreads, 0)
		h.mu.Unlock()
		pause(100*time.Millisecond, 1500*time.Millisecond)
		// The keys to read include those the others took while s was
		// down: s must have them before it answers.
		keys := h.stableKeys(s, 300)
		pctx, pstop := context.WithCancel(ctx)
		var pwg sync.WaitGroup
		pwg.Go(func() { h.probe(pctx, s, keys, c) })
		up, err := h.launch(s)
		if err == nil {
			h.mu.Lock()
			h.kills[c].up = up
			h.mu.Unlock()
			time.Sleep(time.Second) // reads right after the restart, too
		}
		pstop()
		pwg.Wait()
		if err != nil {
			stop()
			wg.Wait()
			t.Errorf("cycle %d: %v", c+1, err)
			h.check() // what was lost so far, on the servers still running
			t.FailNow()
		}
		t.Logf("cycle %d: killed %s (generation %d) at %.2fs, running again at %.2fs", c+1, s.name, k.gen, k.at.Seconds(), h.kills[c].up.Seconds())
		pause(time.Second, 3*time.Second)
	}
	stop()
	wg.Wait()
}

// running are the servers whose current process runs.
func (h *chaos) running() []*chaosServer {
	var up []*chaosServer
	for _, s := range h.servers {
		if s.proc != nil && s.proc.cmd.ProcessState == nil {
			up = append(up, s)
		}
	}
	return up
}

// settle waits until the running servers hold the same data, or
// settleTime passes, and returns each one's entries below c.
func (h *chaos) settle() map[*chaosServer]map[string]client.Entry {
	up := h.running()
	deadline := time.Now().Add(settleTime)
	for {
		dumps := map[*chaosServer]map[string]client.Entry{}
		var texts []string
		for _, s := range up {
			d, text, err := dumpServer(s)
			if err != nil {
				h.t.Errorf("%s: read its data: %v", s.name, err)
				continue
			}
			dumps[s], texts = d, append(texts, text)
		}
		same := len(texts) == len(up)
		for _, text := range texts {
			same = same && text == texts[0]
		}
		if same || time.Now().After(deadline) {
			if !same {
				h.t.Errorf("the copies still differ %v after the writes stopped", settleTime)
			}
			return dumps
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dumpServer reads every entry below c on s, by full path, and in
// treeDump's text form.
func dumpServer(s *chaosServer) (map[string]client.Entry, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: s.port})
	if err != nil {
		return nil, "", err
	}
	defer cl.Close()
	below := path.P("c")
	entries, err := treeEntries(ctx, cl, below)
	if err != nil {
		return nil, "", err
	}
	byPath := make(map[string]client.Entry, len(entries))
	var text []byte
	for _, e := range entries {
		byPath[below.Join(e.Path).String()] = e
		text = fmt.Appendf(text, "%v %x %v\n", e.Path, e.Raw, e.Chain)
	}
	return byPath, string(text), nil
}

// logTail is the end of a process's stderr.
func logTail(sp *serverProc, lines int) string {
	log := sp.log()
	end := len(log)
	for n := 0; end > 0 && n <= lines; {
		end--
		if log[end] == '\n' {
			n++
		}
	}
	if end > 0 {
		return "…\n" + log[end+1:]
	}
	return log
}
