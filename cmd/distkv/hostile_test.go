package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// TestHostileValidators: types whose scripts run away for some values
// (a loop, a memory bomb, deep recursion, a huge error) refuse those
// writes with an error naming the limit, while other clients of the
// same server go on being served, and the server serves on afterwards.
func TestHostileValidators(t *testing.T) {
	var code userCode
	defer code.close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(server.Config{Node: "h", Listen: "127.0.0.1:0", Logger: log, Hooks: code.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code.start(s, log)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	open := func() *client.Client {
		c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := open()
	ctx := context.Background()
	// Each type is harmless for its examples and runs away for 666.
	bodies := map[string]struct{ src, want string }{
		"loop":    {`if value == 666 then while true do end end if value < 0 then error("neg") end`, "time"},
		"memory":  {`if value == 666 then local t = {} while true do t[#t+1] = string.rep("x", 4096) .. #t end end if value < 0 then error("neg") end`, "limit"},
		"rep":     {`if value == 666 then local s = string.rep("x", 1e9) end if value < 0 then error("neg") end`, "limit"},
		"recurse": {`local function f(n) return f(n + 1) + 1 end if value == 666 then f(1) end if value < 0 then error("neg") end`, "depth"},
		"message": {`if value == 666 then error(string.rep("y", 1000000)) end if value < 0 then error("neg") end`, "yyy"},
		"table":   {`if value == 666 then error({}) end if value < 0 then error("neg") end`, "table"},
	}
	for name, b := range bodies {
		rec := pack.Map{{Key: "code", Value: b.src}, {Key: "good", Value: []any{1, 2}}, {Key: "bad", Value: []any{-1}}}
		if _, err := c.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: path.Must("type", name)}, {Key: "value", Value: rec}}); err != nil {
			t.Fatalf("type %s: %v", name, err)
		}
		if _, err := c.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: path.Must("match", name, "#")}, {Key: "value", Value: pack.Map{{Key: "type", Value: path.Must(name)}}}}); err != nil {
			t.Fatalf("match %s: %v", name, err)
		}
	}
	// Another client reads and writes all along.
	other := open()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if _, err := other.Set(ctx, path.Must("plain", int64(i%100)), int64(i)); err != nil {
				failed.Add(1)
			} else {
				served.Add(1)
			}
		}
	}()
	for name, b := range bodies {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := c.Set(ctx, path.Must(name, "x"), int64(666))
			if err != nil && strings.Contains(err.Error(), b.want) {
				t.Logf("%s: %.200v", name, err)
				if len(err.Error()) > 4096 {
					t.Errorf("%s: an error of %d bytes", name, len(err.Error()))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: a runaway check gave %v, want an error with %q", name, err, b.want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := c.Set(ctx, path.Must(name, "x"), int64(5)); err != nil {
			t.Errorf("%s: a good value after the runaway: %v", name, err)
		}
	}
	before := served.Load()
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || served.Load() == before {
		t.Fatalf("the other client: %d served (%d at the end), %d failed", served.Load(), served.Load()-before, failed.Load())
	}
}
