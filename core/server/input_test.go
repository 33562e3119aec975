package server_test

import (
	"context"
	"fmt"
	"github.com/distkv-go/distkv/internal/emfile"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
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

// unfinishedSet returns all but the last 1 MiB of a set_value request of
// size bytes.
func unfinishedSet(size int) []byte {
	m := wire.Begin(nil)
	m.Uint("seq", 1)
	m.Str("action", "set_value")
	m.Path("path", path.P("hanging"))
	m.Str("value", strings.Repeat("x", size))
	return m.End()[:size-1<<20]
}

// hang opens n connections that each send part and keep it at that.
func hang(t *testing.T, addr string, n int, part []byte) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		conns = append(conns, nc)
		go nc.Write(part) // blocks while the server does not read; fails when closed
	}
	return conns
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInputBudget is the attack of issue 12 at a smaller scale: 30
// connections each holding an unfinished 63 MiB request took a server
// to 2.66 GB. Here 10 connections each send 7 MiB of an 8 MiB request to
// a server with an input budget of 8 MiB: its heap stays within the
// budget and one message, other clients' requests are answered, a large
// request waits and completes once the hanging ones close, and the
// memory is returned.
func TestInputBudget(t *testing.T) {
	const budget, size = 8 << 20, 8 << 20
	s := startServer(t, server.Config{InputBudget: budget})
	ctx := ctxT(t)
	part := unfinishedSet(size)
	before := heapInUse()
	conns := hang(t, s.Addr().String(), 10, part)
	waitFor(t, "the budget to be spent", func() bool { return server.InputUsed(s) > budget })
	// The connections hold the budget and one message beyond it at most,
	// and 64 KiB each; 8 MiB of slack.
	if grown := heapInUse() - before; grown > budget+size+10*64<<10+8<<20 {
		t.Fatalf("the heap grew by %d MiB with a budget of %d MiB", grown>>20, budget>>20)
	}

	// Small requests of another client are answered meanwhile.
	c := connect(t, s)
	if _, err := c.Set(ctx, path.P("small"), "fits"); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, path.P("small")); err != nil || decode(t, e) != "fits" {
		t.Fatalf("get: %+v %v", e, err)
	}
	// A large one waits for budget, and completes when the others close.
	big := make(chan error, 1)
	go func() {
		_, err := c.Set(ctx, path.P("big"), strings.Repeat("y", 2<<20))
		big <- err
	}()
	for _, nc := range conns {
		nc.Close()
	}
	if err := <-big; err != nil {
		t.Fatalf("large set after the others closed: %v", err)
	}
	waitFor(t, "the budget to be given back", func() bool { return server.InputUsed(s) == 0 })
	// The tree holds 2 MiB more now; 8 MiB of slack.
	if grown := heapInUse() - before; grown > 10<<20 {
		t.Fatalf("the heap is %d MiB larger after the connections closed", grown>>20)
	}
}

// Messages that together need more than the budget all complete: they
// never wait for each other (one at a time goes past the budget).
func TestInputBudgetLargeMessages(t *testing.T) {
	s := startServer(t, server.Config{InputBudget: 8 << 20})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		c := connect(t, s)
		wg.Go(func() {
			// 6 MiB each; one of 20 MiB, more than the budget.
			size := 6 << 20
			if i == 0 {
				size = 20 << 20
			}
			if _, err := c.Set(ctx, path.Must("big", int64(i)), strings.Repeat("z", size)); err != nil {
				errs <- fmt.Errorf("set %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "the budget to be given back", func() bool { return server.InputUsed(s) == 0 })
}

// The client listener goes on after "too many open files".
func TestClientListenerSurvivesEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, server.Config{Listener: emfile.New(ln, 5)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := s.Addr().(*net.TCPAddr)
	c, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: addr.Port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Set(ctx, path.P("after"), "emfile"); err != nil {
		t.Fatal(err)
	}
}

// heapHeld is the heap memory the process holds from the system: in use,
// garbage not yet collected, and free memory not given back.
func heapHeld() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapSys - m.HeapReleased)
}

// After connections that held large unfinished requests close, the
// server gives the memory back to the system by itself, within seconds
// (issue 12: 2.66 GB were not returned after the connections closed).
func TestMemoryReturned(t *testing.T) {
	s := startServer(t, server.Config{})
	part := unfinishedSet(16 << 20)
	heapInUse()
	before := heapHeld()
	conns := hang(t, s.Addr().String(), 10, part)
	waitFor(t, "the requests to arrive", func() bool { return server.InputUsed(s) > 140<<20 })
	for _, nc := range conns {
		nc.Close()
	}
	waitFor(t, "the budget to be given back", func() bool { return server.InputUsed(s) == 0 })
	// No collection forced here: the server has to see to it.
	waitFor(t, "the memory to be given back", func() bool { return heapHeld()-before < 32<<20 })
}
