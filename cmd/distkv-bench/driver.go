package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/wire"
)

// The driver shares the machine with the server, so it does as little as
// it can per request: each connection has one goroutine that copies
// pre-encoded requests into a reused buffer (patching seq and the key)
// and writes them with one system call per batch, and one that frames
// replies, finds "seq" and "error" without decoding values and records
// the latency in its own histogram. Nothing is allocated per request.
//
// A connection has P slots, one per request in flight: P requests are
// kept in flight, a sliding window (redis-benchmark -P instead sends P
// and waits for all P replies). A request's seq is (n+1)·P + slot, n
// counting the connection's requests, so seqs rise strictly and a reply
// finds its slot by seq % P. The reader hands slots back in batches, when
// it has handled every reply it has read, so the writer sends in batches
// too (one system call each) rather than one request per wake-up.

// plan says what the requests of a run are.
type plan struct {
	get, set *template // nil: not sent; both: mixed
	ratio    float64   // share of gets when both are given
	keys     uint64    // keys are random in [0, keys) ...
	seqKeys  bool      // ... or conn, conn+C, conn+2C, …: every key once (fill)
	stamp    bool      // the value carries its send time (watch)
}

// loadSpec is one run of the driver.
type loadSpec struct {
	addr     string
	conns    int
	pipeline int
	warmup   time.Duration // requests before measuring starts
	duration time.Duration // how long to measure, unless requests > 0
	requests int64         // measured requests in all; 0: run for duration
	plan     plan
	login    string // a _test user every connection logs in as first; "": none
	seed     uint64
}

// loadStats is what a run measured. Latencies are in ns; times are ns
// on the driver's clock.
type loadStats struct {
	hist     histogram
	ops      int64 // measured replies without error
	okTotal  int64 // replies without error, warm-up included
	errors   int64 // error replies and failures
	firstErr string
	start    int64 // when measuring began
	last     int64 // the last measured reply
}

func (s *loadStats) fail(msg string) {
	s.errors++
	if s.firstErr == "" {
		s.firstErr = msg
	}
}

// reply counts a reply that came at now to a request sent at sent
// (negative: during the warm-up, not measured).
func (s *loadStats) reply(rep *reply, now, sent int64) {
	switch {
	case rep.failed:
		s.fail(rep.errorText())
	case sent >= 0:
		s.hist.record(now - sent)
		s.ops++
		s.last = now
		fallthrough
	default:
		s.okTotal++
	}
}

// maxReply bounds a reply the driver reads.
const maxReply = 64 << 20

// readReplies reads the replies from fr, the greeting skipped, and hands
// each to fn with whether more are buffered already, until fn returns
// false or reading fails; a failure counts in st unless closing is set
// (the connection was closed on purpose).
func readReplies(fr *wire.Framer, closing *atomic.Bool, st *loadStats, fn func(rep *reply, more bool) bool) {
	var r pack.Reader
	var rep reply
	for {
		msg, err := fr.Next()
		if err != nil {
			if !closing.Load() {
				st.fail(fmt.Sprintf("connection: %v", err))
			}
			return
		}
		if err := scanReply(&r, msg, false, &rep); err != nil {
			st.fail(fmt.Sprintf("bad reply: %v", err))
			return
		}
		if rep.seq == 0 {
			continue // the greeting
		}
		if !fn(&rep, fr.Buffered()) {
			return
		}
	}
}

func (s *loadStats) merge(o *loadStats) {
	s.hist.merge(&o.hist)
	s.ops += o.ops
	s.okTotal += o.okTotal
	s.errors += o.errors
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
	s.last = max(s.last, o.last)
}

// elapsed is the measured time: from the start of measuring to the last
// measured reply.
func (s *loadStats) elapsed() time.Duration {
	if s.last <= s.start {
		return 0
	}
	return time.Duration(s.last - s.start)
}

func (s *loadStats) rate() float64 {
	if e := s.elapsed(); e > 0 {
		return float64(s.ops) / e.Seconds()
	}
	return 0
}

// clock gives monotonic nanoseconds since its base.
type clock struct{ base time.Time }

func newClock() clock { return clock{base: time.Now()} }

func (c clock) now() int64 { return int64(time.Since(c.base)) }

// driver runs a loadSpec. Safe for concurrent use: watchers read the
// start of measuring while it runs.
type driver struct {
	spec         loadSpec
	clk          clock
	measuring    atomic.Bool
	stop         atomic.Bool
	measureStart atomic.Int64 // math.MaxInt64 until measuring begins
}

func newDriver(spec loadSpec, clk clock) *driver {
	spec.conns = max(spec.conns, 1)
	spec.pipeline = max(spec.pipeline, 1)
	spec.plan.keys = max(spec.plan.keys, 1)
	d := &driver{spec: spec, clk: clk}
	d.measureStart.Store(math.MaxInt64)
	return d
}

func (d *driver) startMeasuring() {
	d.measureStart.Store(d.clk.now())
	d.measuring.Store(true)
}

// run drives the server until the duration is over or the requests are
// done, then waits for the replies in flight. An error means the run
// could not start; failures during the run are counted in the stats.
func (d *driver) run(ctx context.Context) (loadStats, error) {
	conns := make([]*benchConn, 0, d.spec.conns)
	for i := range d.spec.conns {
		c, err := d.dial(ctx, i)
		if err != nil {
			for _, c := range conns {
				c.nc.Close()
			}
			return loadStats{}, err
		}
		conns = append(conns, c)
	}
	counted := d.spec.requests > 0
	if counted {
		per, extra := d.spec.requests/int64(len(conns)), d.spec.requests%int64(len(conns))
		for i, c := range conns {
			c.counted, c.quota = true, per
			if int64(i) < extra {
				c.quota++
			}
		}
	}
	if d.spec.warmup <= 0 {
		d.startMeasuring()
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(2)
		go func() { defer wg.Done(); c.write() }()
		go func() { defer wg.Done(); c.read() }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	wait := func(dur time.Duration) bool { // false: ended early
		t := time.NewTimer(dur)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
		case <-done:
		}
		return false
	}
	if d.spec.warmup > 0 {
		if !wait(d.spec.warmup) {
			d.stop.Store(true)
		}
		d.startMeasuring()
	}
	if !counted {
		wait(d.spec.duration)
		d.stop.Store(true)
	} else {
		select {
		case <-done:
		case <-ctx.Done():
			d.stop.Store(true)
		}
	}
	<-done

	var st loadStats
	st.start = d.measureStart.Load()
	for _, c := range conns {
		st.merge(&c.stats)
		st.merge(&c.wstats)
	}
	return st, nil
}

// dial opens connection i and logs it in if the spec says so: before the
// run starts, so that the login is not measured.
func (d *driver) dial(ctx context.Context, i int) (*benchConn, error) {
	nc, err := net.DialTimeout("tcp", d.spec.addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.spec.addr, err)
	}
	fr := wire.NewFramer(nc, maxReply)
	if d.spec.login != "" {
		// seq 1 is below every seq of the run (2·P and up).
		c := &ctlConn{addr: d.spec.addr, nc: nc, fr: fr}
		if err := c.testLogin(ctx, d.spec.login); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return newBenchConn(d, i, nc, fr), nil
}

// slot is one request in flight. The writer fills it before the request
// goes out; the reader reads it when the reply comes. The socket orders
// the two, but the memory model only knows atomics, hence these.
type slot struct {
	seq  atomic.Uint64
	sent atomic.Int64 // send time; negative (-t-1) for a warm-up request
}

// benchConn is one connection of the driver: a writer and a reader
// goroutine. The reader owns stats until both have ended.
type benchConn struct {
	d       *driver
	id      int
	nc      net.Conn
	fr      *wire.Framer
	counted bool // send quota measured requests, then stop
	quota   int64
	slots   []slot
	free    slotQueue   // slots whose reply came; closed when the reader ends
	closing atomic.Bool // the writer hung up on purpose
	rng     *rand.Rand
	stats   loadStats // the reader's
	wstats  loadStats // the writer's failures
}

func newBenchConn(d *driver, id int, nc net.Conn, fr *wire.Framer) *benchConn {
	return &benchConn{
		d: d, id: id, nc: nc, fr: fr,
		slots: make([]slot, d.spec.pipeline),
		free:  newSlotQueue(d.spec.pipeline),
		rng:   rand.New(rand.NewPCG(d.spec.seed, uint64(id))),
	}
}

// replyTimeout bounds the wait for replies in flight at the end.
const replyTimeout = 30 * time.Second

func (c *benchConn) write() {
	defer func() {
		c.closing.Store(true)
		c.nc.Close()
	}()
	d, p := c.d, c.d.spec.pipeline
	held := make([]uint32, 0, p) // free slots
	for i := range p {
		held = append(held, uint32(i))
	}
	size := 0
	for _, t := range []*template{d.spec.plan.get, d.spec.plan.set} {
		if t != nil {
			size = max(size, len(t.b))
		}
	}
	buf := make([]byte, 0, p*size)
	var n uint64    // requests sent
	var nkey uint64 // keys used (fill)
	left := c.quota
	for !d.stop.Load() && !(c.counted && left == 0 && d.measuring.Load()) {
		var ok bool
		if held, ok = c.free.take(held, len(held) == 0, nil); !ok {
			return // the reader ended: the connection failed
		}
		measuring := d.measuring.Load()
		k := len(held)
		if c.counted && measuring {
			k = min(k, int(left))
			left -= int64(k)
			if k == 0 {
				continue
			}
		}
		now := d.clk.now()
		sent := now
		if !measuring {
			sent = -now - 1
		}
		buf = buf[:0]
		for _, idx := range held[:k] {
			n++
			seq := (n+1)*uint64(p) + uint64(idx)
			t := d.spec.plan.set
			if d.spec.plan.get != nil && (t == nil || c.rng.Float64() < d.spec.plan.ratio) {
				t = d.spec.plan.get
			}
			var key uint64
			if d.spec.plan.seqKeys {
				key = uint64(c.id) + nkey*uint64(d.spec.conns)
				nkey++
			} else {
				key = c.rng.Uint64N(d.spec.plan.keys)
			}
			start := len(buf)
			buf = t.appendTo(buf, seq, key)
			if d.spec.plan.stamp && t.valOff >= 0 {
				stampValue(buf[start+t.valOff:start+t.valOff+valueLen], now, n)
			}
			s := &c.slots[idx]
			s.seq.Store(seq)
			s.sent.Store(sent)
		}
		held = append(held[:0], held[k:]...)
		if _, err := c.nc.Write(buf); err != nil {
			c.wstats.fail(fmt.Sprintf("write: %v", err))
			return
		}
	}
	// Wait for the replies in flight.
	deadline := time.Now().Add(replyTimeout)
	t := time.NewTimer(replyTimeout)
	defer t.Stop()
	for len(held) < p {
		var ok bool
		if held, ok = c.free.take(held, true, t.C); !ok {
			return
		}
		if len(held) < p && !time.Now().Before(deadline) {
			c.wstats.fail(fmt.Sprintf("%d replies did not come within %v", p-len(held), replyTimeout))
			return
		}
	}
}

func (c *benchConn) read() {
	defer c.free.close()
	// Slots go back in batches, once the replies read so far are done:
	// the writer then sends a batch with one system call.
	freed := make([]uint32, 0, c.d.spec.pipeline)
	p := uint64(c.d.spec.pipeline)
	st := &c.stats
	readReplies(c.fr, &c.closing, st, func(rep *reply, more bool) bool {
		s := &c.slots[rep.seq%p]
		if rep.seq < 2*p || s.seq.Load() != rep.seq {
			st.fail(fmt.Sprintf("a reply with unknown seq %d", rep.seq))
			return true
		}
		st.reply(rep, c.d.clk.now(), s.sent.Load())
		freed = append(freed, uint32(rep.seq%p))
		if !more || len(freed) == cap(freed) {
			c.free.put(freed)
			freed = freed[:0]
		}
		return true
	})
}

// slotQueue hands free slots from a connection's reader to its writer.
// Safe for concurrent use by one putter and one taker.
type slotQueue struct {
	ready chan struct{} // holds a token after a put or close

	mu     sync.Mutex // protects the fields below
	free   []uint32
	closed bool
}

func newSlotQueue(n int) slotQueue {
	return slotQueue{ready: make(chan struct{}, 1), free: make([]uint32, 0, n)}
}

func (q *slotQueue) put(slots []uint32) {
	q.mu.Lock()
	q.free = append(q.free, slots...)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *slotQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take appends the free slots to dst. With wait, it blocks until it has
// appended at least one, the queue is closed (ok false), or timeout fires.
func (q *slotQueue) take(dst []uint32, wait bool, timeout <-chan time.Time) (_ []uint32, ok bool) {
	had := len(dst)
	for {
		q.mu.Lock()
		dst = append(dst, q.free...)
		q.free = q.free[:0]
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return dst, false
		}
		if len(dst) > had || !wait {
			return dst, true
		}
		select {
		case <-q.ready:
		case <-timeout:
			return dst, true
		}
	}
}
