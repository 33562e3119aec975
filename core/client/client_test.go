package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/freeport"
)

// startServer runs a server with the values of data (path text → Go
// value) on 127.0.0.1:port (0: any free port) until it is closed or the
// test ends.
func startServer(t *testing.T, cfg server.Config, port int, data map[string]any) *server.Server {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "test"
	}
	cfg.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range data {
		raw, err := pack.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Tree().Set(path.P(p), string(raw), tree.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func portOf(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

func open(t *testing.T, port int, cfg Config) *Client {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", port
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor waits until cond holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// noLeaks checks, once the test's clients are closed, that no goroutine
// of this package is left.
func noLeaks(t *testing.T) {
	t.Cleanup(func() {
		var left string
		ok := func() bool {
			buf := make([]byte, 1<<20)
			all := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
			for _, g := range all[1:] { // all[0] is this one
				if strings.Contains(g, "distkv/core/client.") {
					left = g
					return false
				}
			}
			return true
		}
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("a goroutine is left:\n%s", left)
			}
		}
	})
}

func mustGet(t *testing.T, ctx context.Context, c *Client, p string) any {
	t.Helper()
	e, err := c.Get(ctx, path.P(p))
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	v, err := e.Value()
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return v
}

// A watch whose consumer does not read stops at the server once
// Config.Queue messages wait unacknowledged (flow control), so the
// client's queue never holds more; once more changes wait at the server
// than its queue holds, the watch ends with an overflow error, and
// requests on the same connection go on meanwhile.
func TestSlowConsumerOverflow(t *testing.T) {
	noLeaks(t)
	s := startServer(t, server.Config{Queue: 50}, 0, nil)
	ctx := ctxT(t)
	const queue = 8
	c := open(t, portOf(s), Config{Queue: queue})
	writer := open(t, portOf(s), Config{})

	st, err := c.Stream(ctx, "watch", Args{{Key: "path", Value: path.P("busy")}})
	if err != nil {
		t.Fatal(err)
	}
	held := func() (n, size int, closed bool) {
		st.q.mu.Lock()
		defer st.q.mu.Unlock()
		return st.q.n, len(st.q.buf), st.q.closed
	}
	// Keep the server busy until the watch ends.
	for i := 0; ; i++ {
		if _, _, closed := held(); closed {
			break
		}
		if i > 100_000 {
			t.Fatal("no overflow")
		}
		if _, err := writer.Set(ctx, path.P("busy").Join(path.P(fmt.Sprint("k", i))), int64(i)); err != nil {
			t.Fatal(err)
		}
		if n, size, _ := held(); n > queue || size > queue {
			t.Fatalf("the queue holds %d messages in room for %d, bound %d", n, size, queue)
		}
		// The same connection answers while the consumer is stuck.
		if v := mustGet(t, ctx, c, fmt.Sprint("busy.k", i)); v != int64(i) {
			t.Fatalf("get: %v", v)
		}
	}
	var err2 error
	for {
		_, ok, err := st.Next()
		if !ok {
			err2 = err
			break
		}
	}
	if !errors.Is(err2, wire.ErrOverflow) {
		t.Fatalf("the end: %v; want an overflow", err2)
	}
	// A new watch works.
	events := watchInto(t, ctx, c, "quiet", WatchOptions{Fetch: true})
	expect(t, events, "uptodate")
	if _, err := writer.Set(ctx, path.P("quiet.new"), "x"); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "new=x")
}

// A snapshot (a tree walk, the state a watch fetches) larger than the
// queue comes paced by flow control: the client never holds more than
// Config.Queue messages of it, and the consumer gets all of it.
func TestSnapshotPaced(t *testing.T) {
	noLeaks(t)
	const n, queue = 100, 8
	data := map[string]any{}
	for i := range n {
		data[fmt.Sprintf("big.k%03d", i)] = int64(i)
	}
	s := startServer(t, server.Config{}, 0, data)
	ctx := ctxT(t)
	c := open(t, portOf(s), Config{Queue: queue})
	held := func(st *Stream) int {
		st.q.mu.Lock()
		defer st.q.mu.Unlock()
		return st.q.n
	}
	for _, args := range []Args{
		{{Key: "path", Value: path.P("big")}},
		{{Key: "path", Value: path.P("big")}, {Key: "fetch", Value: true}},
	} {
		action := "get_tree"
		if len(args) > 1 {
			action = "watch"
		}
		st, err := c.Stream(ctx, action, args)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; {
			if h := held(st); h > queue {
				t.Fatalf("%s: the client holds %d messages, queue %d", action, h, queue)
			}
			rep, ok, err := st.Next()
			if !ok || err != nil {
				t.Fatalf("%s: item %d: %v %v", action, i, ok, err)
			}
			if rep.HasPath {
				if rep.Path.String() != fmt.Sprintf("k%03d", i) {
					t.Fatalf("%s: item %d: %v", action, i, rep.Path)
				}
				i++
			}
		}
		st.Stop()
	}
}

// fakeConn is a connection of a fake server: it speaks the protocol by
// hand, to check what the client sends.
type fakeConn struct {
	nc  net.Conn
	fr  *wire.Framer
	req wire.Request // the last message next read
}

// fakeServer accepts connections and runs serve on each (i counts them)
// until the test ends; serve's errors come out of the channel.
func fakeServer(t *testing.T, serve func(i int, fc *fakeConn) error) (port int, errs <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 10)
	go func() {
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			fc := &fakeConn{nc: nc, fr: wire.NewFramer(nc, 1<<20)}
			ch <- serve(i, fc)
			nc.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// greet sends the greeting and reads the client's hello.
func (fc *fakeConn) greet(qlen int) error {
	err := fc.send(func(m *wire.Msg) {
		m.Uint("seq", 0)
		m.Str("node", "fake")
		m.Uint("tick", 1)
		m.Uint("tock", 1)
		m.Uint("qlen", uint64(qlen))
	})
	if err != nil {
		return err
	}
	if err := fc.next(); err != nil || fc.req.Seq != 0 || !fc.req.HasQlen {
		return fmt.Errorf("hello: %+v, %v", fc.req, err)
	}
	return nil
}

func (fc *fakeConn) next() error {
	msg, err := fc.fr.Next()
	if err != nil {
		return err
	}
	return wire.DecodeRequest(msg, &fc.req)
}

func (fc *fakeConn) send(enc func(m *wire.Msg)) error {
	m := wire.Begin(nil)
	enc(&m)
	_, err := fc.nc.Write(m.End())
	return err
}

// The client announces its qlen and acknowledges what its consumer took:
// a server that holds a stream at qlen unacknowledged messages (as the
// original does) gets it through, and the client's queue, as long as
// qlen, holds it all.
func TestFlowControlAcks(t *testing.T) {
	const n, queue = 100, 6
	var qlen int
	var acks []uint64
	port, errs := fakeServer(t, func(_ int, fc *fakeConn) error {
		if err := fc.greet(10); err != nil {
			return err
		}
		qlen = fc.req.Qlen
		if err := fc.next(); err != nil || fc.req.Action != "get_tree" {
			return fmt.Errorf("request: %+v, %v", fc.req, err)
		}
		seq := fc.req.Seq
		var wseq, acked uint64
		send := func(enc func(m *wire.Msg)) error {
			for wseq-acked >= uint64(qlen) {
				if err := fc.next(); err != nil {
					return fmt.Errorf("waiting for an ack of %d: %w", wseq, err)
				}
				if r := fc.req; r.State != "ack" || r.Seq != seq || r.Ack <= acked || r.Ack > wseq {
					return fmt.Errorf("not an ack of seq %d: %+v", seq, r)
				}
				acked = fc.req.Ack
				acks = append(acks, acked)
			}
			wseq++
			return fc.send(func(m *wire.Msg) {
				m.Uint("seq", seq)
				m.Uint("wseq", wseq)
				enc(m)
			})
		}
		if err := send(func(m *wire.Msg) { m.Str("state", "start") }); err != nil {
			return err
		}
		for i := range n {
			err := send(func(m *wire.Msg) {
				m.Raw("value", string(pack.AppendInt(nil, int64(i))))
				m.PathArray("path", path.P(fmt.Sprintf("k%03d", i)))
				m.Uint("depth", 0)
			})
			if err != nil {
				return err
			}
		}
		return send(func(m *wire.Msg) { m.Str("state", "end") })
	})
	c := open(t, port, Config{Queue: queue})
	if g := c.Greeting(); g.Node != "fake" || g.Qlen != 10 {
		t.Fatalf("greeting %+v", g)
	}
	got := 0
	for e, err := range c.GetTree(ctxT(t), path.P("x"), TreeOptions{}) {
		if err != nil {
			t.Fatalf("after %d items: %v", got, err)
		}
		if want := path.P(fmt.Sprintf("k%03d", got)); e.Path != want {
			t.Fatalf("item %d: %v, want %v", got, e.Path, want)
		}
		got++
	}
	if got != n {
		t.Fatalf("%d items, want %d", got, n)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if qlen != queue {
		t.Fatalf("the client announced qlen %d, want %d (its queue; the server offers 10)", qlen, queue)
	}
	// n+2 messages went out, qlen at a time: the acks took them all but
	// the last window.
	if len(acks) == 0 || acks[len(acks)-1] < n+2-queue {
		t.Fatalf("acks %v", acks)
	}
}

// A stream whose queue overflows is stopped at the server.
func TestOverflowStops(t *testing.T) {
	noLeaks(t)
	const queue = 4
	port, errs := fakeServer(t, func(_ int, fc *fakeConn) error {
		if err := fc.greet(10); err != nil {
			return err
		}
		if err := fc.next(); err != nil || fc.req.Action != "watch" {
			return fmt.Errorf("request: %+v, %v", fc.req, err)
		}
		seq := fc.req.Seq
		// A server that does not pace by acknowledgements.
		for i := range 2 * queue {
			err := fc.send(func(m *wire.Msg) {
				m.Uint("seq", seq)
				if i == 0 {
					m.Str("state", "start")
					return
				}
				m.Raw("value", string(pack.AppendInt(nil, int64(i))))
				m.PathArray("path", path.P(fmt.Sprint("k", i)))
				m.Uint("depth", 0)
			})
			if err != nil {
				return err
			}
		}
		if err := fc.next(); err != nil || fc.req.Action != "stop" || fc.req.Task != seq {
			return fmt.Errorf("want a stop of %d: %+v, %v", seq, fc.req, err)
		}
		return nil
	})
	c := open(t, port, Config{Queue: queue})
	st, err := c.Stream(ctxT(t), "watch", Args{{Key: "path", Value: path.P("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Next(); !errors.Is(err, ErrOverflow) {
		t.Fatalf("next: %v", err)
	}
}

// A request in flight when the connection drops fails with ErrConnLost
// (the server may have applied it); the next one goes out on the new
// connection.
func TestInFlightLost(t *testing.T) {
	noLeaks(t)
	port, errs := fakeServer(t, func(i int, fc *fakeConn) error {
		if err := fc.greet(10); err != nil {
			return err
		}
		if err := fc.next(); err != nil || fc.req.Action != "set_value" {
			return fmt.Errorf("request: %+v, %v", fc.req, err)
		}
		if i == 0 {
			return nil // hang up without an answer
		}
		seq := fc.req.Seq
		return fc.send(func(m *wire.Msg) {
			m.Uint("seq", seq)
			m.Bool("changed", true)
		})
	})
	c := open(t, port, Config{Reconnect: true, MinBackoff: time.Millisecond})
	ctx := ctxT(t)
	_, err := c.Set(ctx, path.P("a"), int64(1))
	if !errors.Is(err, ErrConnLost) || errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "may or may not have been applied") {
		t.Fatalf("set in flight: %v", err)
	}
	if res, err := c.Set(ctx, path.P("a"), int64(1)); err != nil || !res.Changed {
		t.Fatalf("set again: %+v, %v", res, err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

type event struct {
	ev  Event
	err error
}

// watchInto runs a watch until the test ends, handing over its events.
func watchInto(t *testing.T, ctx context.Context, c *Client, p string, o WatchOptions) <-chan event {
	ch := make(chan event, 100)
	go func() {
		defer close(ch)
		for ev, err := range c.Watch(ctx, path.P(p), o) {
			ch <- event{ev, err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// expect reads events until want (entries as "path=value", "uptodate",
// "resync", "deleted path") were all seen in this order.
func expect(t *testing.T, ch <-chan event, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case e, ok := <-ch:
			if !ok || e.err != nil {
				t.Fatalf("want %s: the watch ended: %v", w, e.err)
			}
			if got := describe(e.ev); got != w {
				t.Fatalf("got %s, want %s", got, w)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out waiting for %s", w)
		}
	}
}

// expectState reads events until a resync brought the state want ("path=value"
// in path order). A server that shuts down may be asked for its state
// again before the connection ends: other states may come first.
func expectState(t *testing.T, ch <-chan event, want ...string) {
	t.Helper()
	var got []string
	for {
		select {
		case e, ok := <-ch:
			if !ok || e.err != nil {
				t.Fatalf("want the state %v: the watch ended: %v", want, e.err)
			}
			switch d := describe(e.ev); d {
			case "resync":
				got = []string{}
			case "uptodate":
				if slices.Equal(got, want) {
					return
				}
				got = nil
			default:
				if got != nil {
					got = append(got, d)
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out waiting for the state %v", want)
		}
	}
}

func describe(ev Event) string {
	switch {
	case ev.Resync:
		return "resync"
	case ev.UpToDate:
		return "uptodate"
	case !ev.HasValue:
		return "deleted " + ev.Path.String()
	}
	v, err := ev.Value()
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%v=%v", ev.Path, v)
}

// A client with Reconnect survives a server restart on the same address:
// it re-roots the new connection, a watch and a mirror resume with the
// current state, requests made during the outage wait for the new
// connection, and later changes arrive.
func TestReconnect(t *testing.T) {
	noLeaks(t)
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	s1 := startServer(t, server.Config{Node: "one"}, port, map[string]any{
		"top.a.x": int64(1), "top.a.gone": "old", "a.x": "not below the root",
	})
	c := open(t, port, Config{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err := c.Root(ctx, path.P("top")); err != nil {
		t.Fatal(err)
	}
	events := watchInto(t, ctx, c, "a", WatchOptions{Fetch: true})
	expect(t, events, "gone=old", "x=1", "uptodate")
	changes := make(chan string, 10)
	m, err := c.Mirror(ctx, path.P("a"), MirrorOptions{OnChange: func(e Entry) { changes <- describe(Event{Entry: e}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	s1.Close()
	waitFor(t, "the client to see the connection drop", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cn == nil
	})
	// A request during the outage waits for a connection until its ctx
	// ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = c.Get(short, path.P("a.x"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get while disconnected: %v", err)
	}
	waiting := make(chan any, 1)
	go func() {
		e, err := c.Get(ctx, path.P("a.x"))
		if err != nil {
			waiting <- err
			return
		}
		v, _ := e.Value()
		waiting <- v
	}()

	startServer(t, server.Config{Node: "two"}, port, map[string]any{
		"top.a.x": int64(2), "top.a.y": int64(3), "a.x": "not below the root",
	})
	expectState(t, events, "x=2", "y=3")
	if v := <-waiting; v != int64(2) {
		t.Fatalf("the get made during the outage: %v", v)
	}
	if g := c.Greeting(); g.Node != "two" {
		t.Fatalf("greeting %+v", g)
	}
	// The mirror reports what changed meanwhile, in path order, and the
	// deletion once the new state is complete.
	for _, want := range []string{"x=2", "y=3", "deleted gone"} {
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("mirror: %s, want %s", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("mirror: timed out waiting for %s", want)
		}
	}
	if _, ok := m.Get(path.P("gone")); ok || m.Len() != 2 {
		t.Fatalf("mirror holds %d entries", m.Len())
	}
	var held []string
	for _, e := range m.Entries() {
		held = append(held, describe(Event{Entry: e}))
	}
	if fmt.Sprint(held) != "[x=2 y=3]" {
		t.Fatalf("mirror entries: %v", held)
	}

	if _, err := c.Set(ctx, path.P("a.z"), int64(4)); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "z=4")
	if got := <-changes; got != "z=4" {
		t.Fatalf("mirror: %s", got)
	}
}

// Without Reconnect, a lost connection closes the client: requests fail
// with ErrClosed, and streams end (a server that shuts down ends its
// watches first).
func TestNoReconnect(t *testing.T) {
	noLeaks(t)
	s := startServer(t, server.Config{}, 0, map[string]any{"a.x": int64(1)})
	ctx := ctxT(t)
	c := open(t, portOf(s), Config{})
	events := watchInto(t, ctx, c, "a", WatchOptions{Fetch: true})
	expect(t, events, "x=1", "uptodate")
	s.Close()
	select {
	case e := <-events:
		if !errors.Is(e.err, ErrClosed) {
			t.Fatalf("watch: %v", e.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch goes on")
	}
	if _, err := c.Get(ctx, path.P("a.x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("get: %v", err)
	}
}

// A request over the server's size limit gets the server's error, which
// names the limit, not "broken pipe"; one over the client's own limit is
// not sent at all.
func TestSizeLimit(t *testing.T) {
	ctx := ctxT(t)
	t.Run("server", func(t *testing.T) {
		const limit = 64 << 10
		s := startServer(t, server.Config{MaxMessage: limit}, 0, nil)
		c := open(t, portOf(s), Config{MaxMessage: 4 << 20})
		_, err := c.Set(ctx, path.P("big"), strings.Repeat("x", 1<<20))
		if !errors.Is(err, wire.ErrTooBig) || !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), fmt.Sprint(limit)) {
			t.Fatalf("set: %v", err)
		}
		t.Log(err)
		for _, bad := range []string{"broken pipe", "reset by peer"} {
			if strings.Contains(err.Error(), bad) {
				t.Fatalf("set: %v", err)
			}
		}
	})
	t.Run("client", func(t *testing.T) {
		s := startServer(t, server.Config{}, 0, nil)
		c := open(t, portOf(s), Config{})
		_, err := c.Set(ctx, path.P("big"), strings.Repeat("x", DefaultMaxMessage))
		var tb *wire.TooBigError
		if !errors.As(err, &tb) || tb.Limit != DefaultMaxMessage || tb.Size <= DefaultMaxMessage ||
			!strings.Contains(err.Error(), fmt.Sprint(DefaultMaxMessage)) || !strings.Contains(err.Error(), fmt.Sprint(tb.Size)) {
			t.Fatalf("set: %v", err)
		}
		// Nothing went out: the connection goes on.
		if _, err := c.Set(ctx, path.P("small"), "x"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Queue: 3}, "queue 3"},
		{Config{Port: 70000}, "port 70000"},
		{Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "backoff"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
