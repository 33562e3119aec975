package server

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// TestSeqOfWaitingReplyInUse: under sync "always", a change whose
// acknowledgement waits for the disk holds its seq: a request under that
// seq is refused and not run, and once the acknowledgement is out the seq
// is free again. From outside, the fsync cannot be held for long enough to
// send the second request deterministically; here the goroutine that
// releases acknowledgements is marked busy, as it is while a slow disk
// syncs.
func TestSeqOfWaitingReplyInUse(t *testing.T) {
	s, err := New(Config{Node: "t", LogSync: persist.SyncAlways, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.StartLog(filepath.Join(t.TempDir(), "log"), false); err != nil {
		t.Fatal(err)
	}
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	c := newConn(s, srv)
	handle := func(kv ...any) {
		t.Helper()
		var m pack.Map
		for i := 0; i < len(kv); i += 2 {
			m = append(m, pack.KV{Key: kv[i], Value: kv[i+1]})
		}
		b, err := value.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var r wire.Request
		if err := wire.DecodeRequest(b, &r); err != nil {
			t.Fatal(err)
		}
		c.handle(&r)
	}
	stored := func() any {
		it, _ := s.tree.Get(path.P("a"))
		if !it.HasValue {
			return nil
		}
		v, _ := value.Decode([]byte(it.Value))
		return v
	}

	c.heldBusy = true // the release waits for a slow disk
	handle("seq", int64(5), "action", "set_value", "path", path.P("a"), "value", int64(1))
	handle("seq", int64(5), "action", "set_value", "path", path.P("a"), "value", int64(2))
	handle("seq", int64(6), "action", "get_value", "path", path.P("a"))
	if v := stored(); v != int64(1) {
		t.Fatalf("a = %v: the second request under seq 5 was run", v)
	}
	var got []pack.Map
	for _, d := range c.held {
		v, err := value.Decode(d.msg)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.(pack.Map))
	}
	get := func(m pack.Map, k string) any { v, _ := m.Get(k); return v }
	if len(got) != 3 || get(got[0], "seq") != int64(5) || get(got[0], "changed") != true ||
		get(got[1], "seq") != int64(5) || !strings.Contains(get(got[1], "error").(string), "seq 5 is in use by an open request (set_value") ||
		get(got[2], "seq") != int64(6) || get(got[2], "value") != int64(1) {
		t.Fatalf("queued replies: %v", got)
	}

	// Released, the acknowledgements go out, and seq 5 is free again.
	replies := make(chan pack.Map)
	go func() {
		fr := wire.NewFramer(cli, 1<<20)
		for {
			msg, err := fr.Next()
			if err != nil {
				close(replies)
				return
			}
			v, _ := value.Decode(msg)
			replies <- v.(pack.Map)
		}
	}()
	c.mu.Lock()
	c.heldBusy = false
	c.mu.Unlock()
	handle("seq", int64(7), "action", "set_value", "path", path.P("b"), "value", int64(7))
	for rep := range replies {
		if get(rep, "seq") == int64(7) {
			break
		}
	}
	handle("seq", int64(5), "action", "set_value", "path", path.P("a"), "value", int64(3))
	for rep := range replies {
		if get(rep, "seq") == int64(5) && get(rep, "changed") == true {
			break
		}
		if get(rep, "seq") == int64(5) && get(rep, "error") != nil {
			t.Fatalf("seq 5 after its acknowledgement: %v", rep)
		}
	}
	if v := stored(); v != int64(3) {
		t.Fatalf("a = %v after the seq was free again", v)
	}
}

// benchHandle runs msg through the gate and its action, inline, as the
// reader goroutine does (the seq check included), without the network.
func benchHandle(b *testing.B, msg []byte, prepare func(*Server)) {
	s, err := New(Config{Node: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	srv, cli := net.Pipe()
	b.Cleanup(func() { srv.Close(); cli.Close() })
	c := newConn(s, srv)
	prepare(s)
	var r wire.Request
	b.ReportAllocs()
	for b.Loop() {
		if err := wire.DecodeRequest(msg, &r); err != nil {
			b.Fatal(err)
		}
		c.handle(&r)
		c.out = c.out[:0]
	}
}

// BenchmarkHandleGet is the gate and a get_value.
func BenchmarkHandleGet(b *testing.B) {
	msg, _ := value.Encode(pack.Map{{Key: "seq", Value: int64(5)}, {Key: "action", Value: "get_value"}, {Key: "path", Value: path.P("a")}})
	benchHandle(b, msg, func(s *Server) {
		raw, _ := value.Encode(int64(1))
		s.tree.Set(path.P("a"), string(raw), tree.Cond{})
	})
}

// BenchmarkHandleSet is the gate and a set_value (without a change log).
func BenchmarkHandleSet(b *testing.B) {
	msg, _ := value.Encode(pack.Map{{Key: "seq", Value: int64(5)}, {Key: "action", Value: "set_value"}, {Key: "path", Value: path.P("a")}, {Key: "value", Value: int64(1)}})
	benchHandle(b, msg, func(*Server) {})
}
