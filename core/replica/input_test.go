package replica

import (
	"github.com/distkv-go/distkv/internal/emfile"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/budget"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// heapInUse collects garbage and returns the heap in use.
func heapInUse() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// Before its handshake a connection buffers a few KiB: issue 12 saw 4
// connections that announced 256 MiB each take a server to 1.63 GB. Here
// 50 strangers each send 4000 bytes of a hello that never ends.
func TestStrangersBufferLittle(t *testing.T) {
	net0 := newFakeNet()
	a := net0.add(t, "a", "key")
	a.rep.Start()
	hello := append([]byte{0x81, 0xa2, 'o', 'p', 0xda, 0x0f, 0xf0}, strings.Repeat("x", 4000)...)
	before := heapInUse()
	var conns []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", a.rep.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitTrue(t, "the connections to be accepted", func() bool {
		a.rep.mu.Lock()
		defer a.rep.mu.Unlock()
		return len(a.rep.in) == len(conns)
	})
	// A 4 KiB buffer and the connection's state each; 16 KiB allowed.
	if grown := heapInUse() - before; grown > 50*16<<10 {
		t.Fatalf("50 connections in their handshake take %d KiB", grown>>10)
	}
}

// TestPeerInputBudget: peers that have logged in (anyone, without a key)
// draw on the server's input budget. 10 of them each send 7 MiB of an 8
// MiB push with a budget of 8 MiB: the heap stays within the budget and
// one message, a good peer still replicates, and the memory comes back
// when they close.
func TestPeerInputBudget(t *testing.T) {
	const limit, size = 8 << 20, 8 << 20
	in := budget.New(limit)
	net0 := newFakeNet()
	a := net0.add(t, "a", "key", func(c *Config) { c.Budget = in })
	a.rep.Start()
	m := wire.Begin(nil)
	m.Str("op", "push")
	m.Path("path", path.P("hanging"))
	m.Key("value")
	m.B = pack.AppendString(m.B, strings.Repeat("x", size))
	part := m.End()[:size-1<<20]
	before := heapInUse()
	var conns []net.Conn
	for i := range 10 {
		p := dialRaw(t, a.rep.Addr())
		s, _ := p.login("x"+string(rune('0'+i)), "key")
		p.loggedIn(s, "key")
		conns = append(conns, p.c)
		go p.c.Write(part) // blocks while a does not read; fails when closed
	}
	waitTrue(t, "the budget to be spent", func() bool { return in.Used() > limit })
	if grown := heapInUse() - before; grown > limit+size+10*64<<10+8<<20 {
		t.Fatalf("the heap grew by %d MiB with a budget of %d MiB", grown>>20, limit>>20)
	}
	// Small pushes of a good peer fit the connection's own buffer.
	b := net0.add(t, "b", "key")
	b.rep.Start()
	set(t, b, "good", 1)
	waitTrue(t, "a good peer's change", func() bool {
		_, ok := a.tree.Get(path.P("good"))
		return ok
	})
	for _, c := range conns {
		c.Close()
	}
	waitTrue(t, "the budget to be given back", func() bool { return in.Used() == 0 })
	if grown := heapInUse() - before; grown > 8<<20 {
		t.Fatalf("the heap is %d MiB larger after the connections closed", grown>>20)
	}
}

// The peer listener goes on after "too many open files" (it used to stop
// for good).
func TestPeerListenerSurvivesEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	net0 := newFakeNet()
	a := net0.add(t, "a", "key", func(c *Config) { c.Listener = emfile.New(ln, 5) })
	a.rep.Start()
	p := dialRaw(t, a.rep.Addr())
	p.c.SetDeadline(time.Now().Add(20 * time.Second))
	s, _ := p.login("x", "key")
	p.loggedIn(s, "key")
}
