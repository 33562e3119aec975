package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
)

// exampleServer starts a server on a free port, as `distkv server` would,
// and returns the client config to reach it.
func exampleServer() (client.Config, func()) {
	s, err := server.New(server.Config{Node: "example", Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	if err := s.Start(); err != nil {
		panic(err)
	}
	port := s.Addr().(*net.TCPAddr).Port
	return client.Config{Host: "127.0.0.1", Port: port}, func() { s.Close() }
}

// The tutorial's "Python API": set a value, update it with its chain, and
// see a stale chain fail.
func Example() {
	cfg, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.Open(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	p := path.P("one.two.three")
	if _, err := c.Set(ctx, p, []any{"Test", 42, false}); err != nil {
		panic(err)
	}
	res, err := c.Get(ctx, p)
	if err != nil {
		panic(err)
	}
	v, _ := res.Value()
	n := v.([]any)[1].(int64)
	ret, err := c.Set(ctx, p, []any{"Test", n + 1, false}, client.IfChain(res.Chain))
	if err != nil {
		panic(err)
	}
	fmt.Println("new chain differs:", ret.Chain[0] != res.Chain[0])

	// res.Chain is stale now: somebody (we) changed the entry.
	_, err = c.Set(ctx, p, "overwrite", client.IfChain(res.Chain))
	var conflict *client.ConflictError
	fmt.Println("conflict:", errors.As(err, &conflict))
	// Output:
	// new chain differs: true
	// conflict: true
}

// Watching for changes: the current state, the up-to-date marker, then
// changes as they happen. Paths are relative to the watched one.
func ExampleClient_Watch() {
	cfg, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := client.Open(ctx, cfg)
	defer c.Close()
	c.Set(ctx, path.P("one.two.three"), int64(1))

	for ev, err := range c.Watch(ctx, path.P("one.two"), client.WatchOptions{Fetch: true}) {
		if err != nil {
			panic(err)
		}
		if ev.UpToDate {
			fmt.Println("up to date")
			// Somebody changes something.
			go c.Delete(ctx, path.P("one.two.three"))
			continue
		}
		if ev.HasValue {
			v, _ := ev.Value()
			fmt.Printf("%v= %v\n", ev.Path, v)
		} else {
			fmt.Printf("%v: deleted\n", ev.Path)
			break
		}
	}
	// Output:
	// three= 1
	// up to date
	// three: deleted
}

// Active objects: a subtree kept in memory, with a hook on every change.
func ExampleClient_Mirror() {
	cfg, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.Open(ctx, cfg)
	defer c.Close()
	c.Set(ctx, path.P("one.two.three"), []any{"Test", 42, false})

	changed := make(chan string, 1)
	m, err := c.Mirror(ctx, path.P("one"), client.MirrorOptions{
		OnChange: func(e client.Entry) {
			v, _ := e.Value()
			changed <- fmt.Sprintf("%v= %v", e.Path, v)
		},
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	// At this point the subtree is in memory.
	e, _ := m.Get(path.P("two.three"))
	v, _ := e.Value()
	fmt.Println("mirrored:", v)

	c.Set(ctx, path.P("one.two.three"), []any{"Test", 43, false})
	fmt.Println(<-changed)
	// Output:
	// mirrored: [Test 42 false]
	// two.three= [Test 43 false]
}
