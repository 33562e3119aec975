package luart

import (
	"context"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// callCtx is the context a state runs a call under. gopher-lua asks
// Done() once per VM instruction, which makes it our instruction hook:
// every pollEvery instructions it checks the deadline and the caller's
// context, so that a loop of cheap instructions cannot outlive its call.
// Only the goroutine running the call touches it, except fail (the
// watchdog) and the atomic fields.
type callCtx struct {
	parent   context.Context
	deadline time.Time
	lim      Limits
	n        uint32
	failed   atomic.Pointer[error] // the first broken limit or canceled context
	stopped  atomic.Bool           // failed is set: Done returns a closed channel
	memBase  uint64                // watchdog's baseline heap; protected by dog.mu
	since    uint64                // dog.ticks when the call began; protected by dog.mu
	watched  bool                  // the watchdog knows this call

	// The context of host functions (see host), and its cancel, which fail
	// calls from the watchdog's goroutine too.
	hostCtx    context.Context
	hostCancel atomic.Pointer[context.CancelFunc]
}

// The first poll comes early, after firstPoll instructions: it hands the
// call to the watchdog, and a doubling string must not have doubled many
// times by then. Calls shorter than that (a typical validator) never pay
// for the watchdog.
const (
	firstPoll = 16
	pollEvery = 256 // instructions between deadline checks
)

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// reset prepares c for a call. The deadline is set at the first poll, not
// here: a short call (most validators) never reads the clock. What runs
// before the first poll is a few instructions and built-ins whose work the
// sandbox caps.
func (c *callCtx) reset(parent context.Context, lim Limits) {
	c.parent, c.lim, c.n, c.watched = parent, lim, 0, false
	c.deadline = time.Time{}
	c.failed.Store(nil)
	c.stopped.Store(false)
}

// Deadline is the call's deadline once the first poll set it.
func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *callCtx) Done() <-chan struct{} {
	if c.n++; c.n == firstPoll || c.n%pollEvery == 0 {
		c.poll()
	}
	if c.stopped.Load() {
		return closedCh
	}
	return nil
}

func (c *callCtx) poll() {
	now := time.Now()
	if !c.watched {
		c.watched = true
		c.deadline = now.Add(c.lim.Timeout)
		if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
			c.deadline = d
		}
		watch(c)
	}
	if now.After(c.deadline) {
		if err := c.parent.Err(); err != nil {
			c.fail(err)
		}
		c.fail(&LimitError{Limit: LimitTimeout, Detail: "call ran longer than " + c.lim.Timeout.String()})
		return
	}
	select {
	case <-c.parent.Done():
		c.fail(c.parent.Err())
	default:
	}
}

// Err is what gopher-lua raises once Done is closed.
func (c *callCtx) Err() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *callCtx) Value(k any) any { return c.parent.Value(k) }

// fail records err as the reason the call stops; the first reason wins.
func (c *callCtx) fail(err error) {
	if c.failed.CompareAndSwap(nil, &err) {
		c.stopped.Store(true)
		if p := c.hostCancel.Load(); p != nil {
			(*p)() // a host function blocked in a request or a sleep returns
		}
	}
}

// The watchdog catches allocation that no built-in can cap: a loop that
// grows a table or doubles a string with "..". Every tick it reads the
// process heap; a call during which the heap grew by more than its
// MaxMemory (measured from the lowest reading since the call started, so a
// garbage collection lowers the baseline) is stopped at its next
// instruction. The heap is the process's, so allocation by other
// goroutines counts too (calls younger than one tick are not judged, so
// the many short calls never pay for a long one).
// The goroutine runs only while calls are in flight and exits by itself
// when the last one ends.
var dog struct {
	mu      sync.Mutex // protects the fields below
	calls   map[*callCtx]struct{}
	running bool
	ticks   uint64
}

const watchTick = time.Millisecond

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func watch(c *callCtx) {
	h := heapBytes()
	dog.mu.Lock()
	c.memBase, c.since = h, dog.ticks
	if dog.calls == nil {
		dog.calls = map[*callCtx]struct{}{}
	}
	dog.calls[c] = struct{}{}
	if !dog.running {
		dog.running = true
		go watchLoop()
	}
	dog.mu.Unlock()
}

func unwatch(c *callCtx) {
	if !c.watched {
		return
	}
	dog.mu.Lock()
	delete(dog.calls, c)
	dog.mu.Unlock()
}

func watchLoop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for range t.C {
		h := heapBytes()
		dog.mu.Lock()
		if len(dog.calls) == 0 {
			dog.running = false
			dog.mu.Unlock()
			return
		}
		dog.ticks++
		for c := range dog.calls {
			if h < c.memBase {
				c.memBase = h
			} else if dog.ticks-c.since < 2 {
				// A call younger than a tick is not judged: the heap grew
				// mostly before it, and short calls are the innocent many.
			} else if grown := h - c.memBase; grown > uint64(c.lim.MaxMemory) {
				c.fail(&LimitError{Limit: LimitMemory, Detail: "heap grew by " + mib(grown) + " during the call, more than " + mib(uint64(c.lim.MaxMemory))})
			}
		}
		dog.mu.Unlock()
	}
}

func mib(n uint64) string {
	return formatFloat(float64(n)/(1<<20)) + " MiB"
}
