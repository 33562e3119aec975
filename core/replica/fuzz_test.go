package replica

import (
	"bytes"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
)

// peerMessages are real encodings of every message that arrives on a
// peer connection or in a gossip announcement, by op.
func peerMessages(t testing.TB) map[string][]byte {
	tr := tree.New(tree.Config{Node: "b"})
	set, err := tr.Set(path.P("one.two"), string(pack.AppendInt(nil, 42)), tree.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	del, err := tr.Delete(path.P("one.two"), tree.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	var rs chain.RangeSet
	rs.Add(1, 5)
	rs.AddTick(9)
	ticks := map[string]uint64{"a": 3, "b": 9}
	return map[string][]byte{
		"hello":  appendHello(nil, hello{root: "test", node: "b", tick: 3, nonce: bytes.Repeat([]byte{5}, nonceSize), you: 7, acks: true, dh: []byte{9, 9}}),
		"login":  appendLoginOf(t, "password name=joe password=secret1"),
		"proof":  appendProof(nil, bytes.Repeat([]byte{6}, 32)),
		"error":  appendError(nil, "refused"),
		"push":   appendUpdate(nil, "push", 0, &set.Item),
		"update": appendUpdate(nil, "update", 7, &del.Item),
		"pull":   appendPull(nil, 7, map[string]chain.RangeSet{"b": rs}),
		"dump":   appendOp(nil, "dump", 8),
		"ticks":  appendTicks(nil, 0, ticks, ticks, &rs),
		"acked":  appendAcked(nil, 4),
		"known":  appendKnown(nil, 7, "b", &rs),
		"done":   appendOp(nil, "done", 7),
		"tick":   appendTick(nil, "b", 9),
	}
}

func appendLoginOf(t testing.TB, spec string) []byte {
	l, err := auth.ParseLogin(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := appendLogin(nil, &l, new([32]byte))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hugeHeaders claim 2^32-1 elements or bytes in a few bytes.
var hugeHeaders = [][]byte{
	{0x81, 0xa2, 'o', 'p', 0xdb, 0xff, 0xff, 0xff, 0xff},
	{0x81, 0xa5, 't', 'i', 'c', 'k', 's', 0xdf, 0xff, 0xff, 0xff, 0xff},
	{0x81, 0xa6, 'r', 'a', 'n', 'g', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff},
	{0x81, 0xa5, 'n', 'o', 'n', 'c', 'e', 0xc6, 0xff, 0xff, 0xff, 0xff},
	{0xdf, 0xff, 0xff, 0xff, 0xff},
}

func TestPeerMessages(t *testing.T) {
	for op, raw := range peerMessages(t) {
		m, err := decodeMsg(raw)
		if err != nil || m.op != op {
			t.Errorf("%s: decoded as %q, %v", op, m.op, err)
		}
		if err := decodeFurther(m); err != nil {
			t.Errorf("%s: %v", op, err)
		}
	}
	for _, raw := range hugeHeaders {
		if _, err := decodeMsg(raw); err == nil {
			t.Errorf("% x: no error", raw)
		}
	}
}

// decodeFurther decodes what serve and readLoop decode of a message
// beyond decodeMsg.
func decodeFurther(m msg) error {
	switch m.op {
	case "push", "update":
		_, err := decodeUpdate(m)
		return err
	case "pull":
		for _, items := range m.want {
			if _, err := chain.FromWire(items); err != nil {
				return err
			}
		}
	case "known":
		_, err := chain.FromWire(m.ranges)
		return err
	}
	return nil
}

// FuzzDecodeMsg: any bytes decode to a message or an error.
func FuzzDecodeMsg(f *testing.F) {
	for _, raw := range peerMessages(f) {
		f.Add(raw)
	}
	for _, raw := range hugeHeaders {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decodeMsg(raw)
		if err != nil {
			return
		}
		decodeFurther(m)
	})
}

// streamConn is a connection that reads a fixed stream and discards what
// is written to it.
type streamConn struct{ r *bytes.Reader }

func (c streamConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c streamConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c streamConn) Close() error                     { return nil }
func (c streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c streamConn) SetDeadline(time.Time) error      { return nil }
func (c streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c streamConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzConn is a connection of a fresh replica (keyed, named "a") that
// reads stream.
func fuzzConn(t *testing.T, stream []byte) *peerConn {
	r, err := New(Config{Tree: tree.New(tree.Config{Node: "a"}), Node: "a", Root: "test", Key: []byte("key"),
		Gossip: &fakeNode{name: "a"}, Listener: nopListener{}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return newPeerConn(r, streamConn{bytes.NewReader(stream)})
}

// stream concatenates the messages of ops.
func stream(msgs map[string][]byte, ops ...string) []byte {
	var b []byte
	for _, op := range ops {
		b = append(b, msgs[op]...)
	}
	return b
}

// FuzzHandshake: what a stranger sends first never gets it in (it
// cannot know the fresh nonce its proof must cover).
func FuzzHandshake(f *testing.F) {
	msgs := peerMessages(f)
	f.Add(stream(msgs, "hello", "proof"))
	f.Add(stream(msgs, "hello", "proof", "login"))
	f.Add(stream(msgs, "hello"))
	f.Add(stream(msgs, "error"))
	f.Add(slices.Concat(msgs["hello"], hugeHeaders[3]))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, role := range []string{initiator, responder} {
			if err := fuzzConn(t, in).handshake(role); err == nil {
				t.Fatalf("a %s's handshake succeeded", role)
			}
		}
	})
}

// FuzzServe: whatever a peer sends on an accepted connection after the
// handshake (pushes and requests) ends in an error, never a panic.
func FuzzServe(f *testing.F) {
	msgs := peerMessages(f)
	f.Add(stream(msgs, "push", "pull", "dump", "ticks"))
	f.Add(stream(msgs, "push", "push", "update"))
	f.Add(stream(msgs, "ticks", "dump"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pc := fuzzConn(t, in)
		pc.name = "x"
		if err := pc.r.serve(pc); err == nil {
			t.Fatal("serve ended without an error")
		}
	})
}

// FuzzAnswers: whatever a peer sends back on a dialed connection (the
// answers to pulls and dumps) ends in an error, never a panic.
func FuzzAnswers(f *testing.F) {
	msgs := peerMessages(f)
	f.Add(stream(msgs, "update", "known", "done"))
	f.Add(stream(msgs, "update", "known", "ticks", "done"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pc := fuzzConn(t, in)
		pc.name = "x"
		pc.dumpSeq = 7 // a dump under way: its ticks and done drop stale entries
		pc.r.cfg.Tree.Unconfirm()
		if err := pc.readLoop(); err == nil {
			t.Fatal("the read loop ended without an error")
		}
	})
}
