package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// transcript returns the messages of the original server's recorded
// session: direction ("C->S" or "S->C") and bytes.
func transcript(t *testing.T) (dirs []string, msgs [][]byte) {
	t.Helper()
	f, err := os.Open("testdata/wire-transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	dir := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "] C->S "):
			dir = "C->S"
		case strings.Contains(line, "] S->C "):
			dir = "S->C"
		case strings.Contains(line, " bytes(") && dir != "":
			h := line[strings.Index(line, "): ")+3:]
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("bad hex %q", h)
			}
			dirs, msgs = append(dirs, dir), append(msgs, b)
			dir = ""
		}
	}
	return dirs, msgs
}

func TestTranscriptDecodes(t *testing.T) {
	dirs, msgs := transcript(t)
	if len(msgs) < 100 {
		t.Fatalf("only %d messages", len(msgs))
	}
	var reqs []Request
	var reps []Reply
	for i, m := range msgs {
		if dirs[i] == "C->S" {
			var r Request
			if err := DecodeRequest(m, &r); err != nil {
				t.Errorf("request %x: %v", m, err)
			}
			r.Own()
			reqs = append(reqs, r)
		} else {
			var r Reply
			if err := DecodeReply(m, &r); err != nil {
				t.Errorf("reply %x: %v", m, err)
			}
			r.Own()
			reps = append(reps, r)
		}
	}
	find := func(seq uint64, action string) Request {
		for _, r := range reqs {
			if r.Seq == seq && r.Action == action {
				return r
			}
		}
		t.Fatalf("no request %d %s", seq, action)
		return Request{}
	}
	if r := find(7, "set_value"); !r.HasChain || !r.ChainNil || r.NChain != 3 || r.Path != path.P("wire.n") {
		t.Errorf("seq 7: %+v", r)
	}
	if r := find(10, "set_value"); !r.HasChain || r.ChainNil || r.ChainNode != "testnode" || r.ChainTick != 24 {
		t.Errorf("seq 10: %+v", r)
	}
	if r := find(15, "set_value"); r.Path != path.P("wire.list") || !r.HasValue {
		t.Errorf("seq 15 (path as array): %+v", r)
	}
	if r := find(22, "set_value"); r.Path != path.Must("wire", "t", int64(42), true, []byte("b"), "", 1.5) {
		t.Errorf("seq 22 (odd path): %v", r.Path)
	}
	if r := find(43, "get_state"); !r.Flags["nodes"] || !r.Flags["known"] || !r.Flags["remote_missing"] {
		t.Errorf("seq 43 flags: %v", r.Flags)
	}
	if r := find(41, "stop"); r.Task != 40 {
		t.Errorf("stop: %+v", r)
	}
	if r := find(6, "set_value"); !r.Idem {
		t.Errorf("idem: %+v", r)
	}
	g := reps[0]
	if g.Seq != 0 || g.Node != "testnode" || g.Tick != 42 || g.Qlen != 10 {
		t.Errorf("greeting: %+v", g)
	}
	// Depth compression of the get_tree of seq 33: expand the items.
	var l Longer
	var paths []string
	for _, r := range reps {
		if r.Seq == 33 && r.HasPath {
			p, err := l.Expand(r.Depth, r.Path)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p.String())
		}
	}
	if got := strings.Join(paths, " "); got != ": a a.b.c a.b.d e new.deep zz" {
		t.Errorf("get_tree paths: %s", got)
	}
	for _, r := range reps {
		if r.Seq == 2 && r.HasChain && len(r.Chain) == 1 && r.Chain[0].Node == "testnode" && r.Chain[0].Tick == 22 {
			return
		}
	}
	t.Error("no chain {testnode, 22} in the reply to seq 2")
}

func TestMsgAndChain(t *testing.T) {
	var reg chain.Registry
	n := reg.Node("testnode")
	m := Begin(nil)
	m.Uint("seq", 3)
	m.Bool("changed", true)
	m.Chain("chain", chain.Link{Node: n, Tick: 43}, nil, 1)
	m.Uint("tock", 196)
	b := m.End()
	var r Reply
	if err := DecodeReply(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 3 || !r.Changed || r.Tock != 196 || len(r.Chain) != 1 || r.Chain[0] != (change.Link{Node: "testnode", Tick: 43}) {
		t.Fatalf("%+v", r)
	}
	// The chain encodes as the original's bytes.
	want, _ := hex.DecodeString("83a46e6f6465a8746573746e6f6465a47469636b2ba470726576c0")
	if got := AppendChain(nil, chain.Link{Node: n, Tick: 43}, nil, -1); !bytes.Equal(got, want) {
		t.Fatalf("chain %x", got)
	}
	// An update record round-trips.
	it := change.Item{Path: path.P("a.b"), Value: "\x05", HasValue: true, Head: chain.Link{Node: n, Tick: 9},
		Older: chain.Chain{{Node: reg.Node("other"), Tick: 2}}, Tock: 77}
	u, err := DecodeUpdate(AppendUpdate(nil, &it), nil)
	if err != nil || u.Path != it.Path || string(u.Value) != "\x05" || u.Tock != 77 || len(u.Chain) != 2 || u.Chain[1].Node != "other" {
		t.Fatalf("update: %+v %v", u, err)
	}
}

func TestFramer(t *testing.T) {
	_, msgs := transcript(t)
	stream := bytes.Join(msgs, nil)
	// One byte at a time: every message comes out whole.
	f := NewFramer(iotestOneByte{bytes.NewReader(stream)}, 1<<20)
	at := int64(0)
	for i, want := range msgs {
		got, err := f.Next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %x, %v", i, got, err)
		}
		if f.Offset() != at {
			t.Fatalf("message %d at offset %d, want %d", i, f.Offset(), at)
		}
		at += int64(len(want))
	}
	if _, err := f.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// Truncated: unexpected EOF; oversized: ErrTooBig; broken: an error.
	f = NewFramer(bytes.NewReader(msgs[0][:10]), 1<<20)
	if _, err := f.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: %v", err)
	}
	big := pack.AppendString(nil, strings.Repeat("x", 5000))
	f = NewFramer(bytes.NewReader(big), 1000)
	if _, err := f.Next(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("too big: %v", err)
	}
	f = NewFramer(bytes.NewReader([]byte{0x81, 0xc1, 0x00}), 1000)
	if _, err := f.Next(); err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("broken: %v", err)
	}
	// A failure's offset is where its message starts.
	f = NewFramer(bytes.NewReader(append(bytes.Clone(msgs[0]), msgs[1][:3]...)), 1<<20)
	f.Next()
	if _, err := f.Next(); !errors.Is(err, io.ErrUnexpectedEOF) || f.Offset() != int64(len(msgs[0])) {
		t.Fatalf("truncated second message: %v at offset %d", err, f.Offset())
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func FuzzDecodeRequest(f *testing.F) {
	dirs, msgs := transcript(&testing.T{})
	for i, m := range msgs {
		if dirs[i] == "C->S" {
			f.Add(m)
		}
	}
	// Paths beyond the limits (an array of 300 elements, ext 3 of 257)
	// and a value nested beyond pack.MaxDepth.
	set := func(path, value []byte) []byte {
		b := pack.AppendMapHeader(nil, 4)
		b = pack.AppendInt(pack.AppendString(b, "seq"), 1)
		b = pack.AppendString(pack.AppendString(b, "action"), "set_value")
		b = append(pack.AppendString(b, "path"), path...)
		return append(pack.AppendString(b, "value"), value...)
	}
	f.Add(set(append(pack.AppendArrayHeader(nil, 300), bytes.Repeat([]byte{0x01}, 300)...), []byte{0x01}))
	f.Add(set(append([]byte{0xc8, 0x02, 0x02, 0x03}, bytes.Repeat([]byte{0xa1, 'a'}, 257)...), []byte{0x01}))
	f.Add(set([]byte{0x91, 0xa1, 'a'}, append(bytes.Repeat([]byte{0x91}, pack.MaxDepth+1), 0x01)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if err := DecodeRequest(b, &r); err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		r.Own()
		var rep Reply
		DecodeReply(b, &rep)
		DecodeUpdate(b, nil)
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	msg, _ := hex.DecodeString("84a373657101a6616374696f6ea96765745f76616c7565a470617468c70703a477697265a161a66e636861696e00")
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRequest(msg, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLongerLimits: depth compression cannot build a path beyond the
// limits; the previous path stays the base of the next item.
func TestLongerLimits(t *testing.T) {
	elems := make([]any, path.MaxElems)
	for i := range elems {
		elems[i] = "a"
	}
	var l Longer
	full := path.Must(elems...)
	if p, err := l.Expand(0, full); err != nil || p != full {
		t.Fatalf("%d elements: %v", path.MaxElems, err)
	}
	if _, err := l.Expand(path.MaxElems, path.P("b")); !errors.Is(err, path.ErrTooLong) {
		t.Fatalf("one more: %v", err)
	}
	if p, err := l.Expand(path.MaxElems-1, path.P("c")); err != nil || p != full.Parent().Child(path.Str("c")) {
		t.Fatalf("after the error: %v, %v", p, err)
	}
}
