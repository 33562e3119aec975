package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
)

// setRequest encodes a set_value request whose value is a string of n bytes.
func setRequest(n int) []byte {
	m := Begin(nil)
	m.Uint("seq", 1)
	m.Str("action", "set_value")
	m.Str("value", strings.Repeat("x", n))
	return m.End()
}

func TestFramerTooBig(t *testing.T) {
	req := setRequest(100_000)
	// {"a": [2000 × 1]}, of which 1500 bytes arrive.
	arr := append([]byte{0x81, 0xa1, 'a', 0xdc, 0x07, 0xd0}, bytes.Repeat([]byte{1}, 2000)...)[:1500]
	tests := []struct {
		name    string
		stream  []byte
		max     int
		size    int
		atLeast bool
	}{
		// The framer reads no more than the limit and a byte, so it never
		// has a message over the limit whole: it goes by the headers.
		{"complete", setRequest(500), 400, len(setRequest(500)), true},
		// The headers announce the size: the framer need not read it all
		// (the stream here ends long before the message does).
		{"announced", req[:300], 1000, len(req), true},
		{"announced, whole", req, 1000, len(req), true},
		{"a string alone", pack.AppendString(nil, strings.Repeat("x", 5000))[:200], 1000, 5003, true},
		// Nothing announces the size: what arrived is the bound, and the
		// framer reads no more than the limit and a byte.
		{"an array", arr, 1000, 1002, true},
		{"an array, short", arr[:900], 800, 802, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFramer(bytes.NewReader(tt.stream), tt.max).Next()
			var tb *TooBigError
			if !errors.As(err, &tb) || !errors.Is(err, ErrTooBig) {
				t.Fatalf("err %v, want a *TooBigError", err)
			}
			if tb.Size != tt.size || tb.AtLeast != tt.atLeast || tb.Limit != tt.max {
				t.Fatalf("got %+v, want size %d (at least: %v), limit %d", *tb, tt.size, tt.atLeast, tt.max)
			}
			for _, n := range []int{tt.size, tt.max} {
				if !strings.Contains(err.Error(), fmt.Sprint(n)) {
					t.Fatalf("%q does not name %d", err, n)
				}
			}
			if Code(err) != "too_big" {
				t.Fatalf("code %q", Code(err))
			}
		})
	}
	// At the limit exactly, a message passes.
	ok := setRequest(500)
	f := NewFramer(bytes.NewReader(ok), len(ok))
	if got, err := f.Next(); err != nil || !bytes.Equal(got, ok) {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := f.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// FuzzFramer feeds the framer any bytes with a small limit: it returns
// whole msgpack messages within the limit, or an error, never a panic; a
// *TooBigError never claims more than the message has.
func FuzzFramer(f *testing.F) {
	f.Add(setRequest(10), 64)
	f.Add(setRequest(100)[:50], 64)
	f.Add(setRequest(100), 64)
	f.Add([]byte{0x81, 0xc1, 0x00}, 64)
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, 16)
	f.Fuzz(func(t *testing.T, stream []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		fr := NewFramer(bytes.NewReader(stream), max)
		off := 0 // where the next message starts
		for {
			msg, err := fr.Next()
			if err != nil {
				var tb *TooBigError
				if !errors.As(err, &tb) {
					return
				}
				if tb.Size <= tb.Limit || tb.Limit != max {
					t.Fatalf("too big: %+v with limit %d", *tb, max)
				}
				// When the whole message is there, its size bounds the claim.
				r := pack.NewReader(stream[off:])
				if r.Skip() == nil && (tb.Size > r.Pos() || !tb.AtLeast && tb.Size != r.Pos()) {
					t.Fatalf("too big: %+v, but the message has %d bytes", *tb, r.Pos())
				}
				return
			}
			if len(msg) == 0 || len(msg) > max {
				t.Fatalf("message of %d bytes, limit %d", len(msg), max)
			}
			if err := pack.NewReader(msg).Skip(); err != nil {
				t.Fatalf("message %x: %v", msg, err)
			}
			off += len(msg)
		}
	})
}

// testBudget records what a framer draws.
type testBudget struct {
	held, peak int
	err        error // Grow fails with it
}

func (b *testBudget) Grow(_ context.Context, n int) error {
	if b.err != nil {
		return b.err
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return nil
}

func (b *testBudget) Release() { b.held = 0 }

// The buffer grows with what arrives, not with what a header announces,
// and only the bytes beyond its base size are drawn from the budget.
func TestFramerGrowsWithInput(t *testing.T) {
	// 32 MiB announced, 10 bytes sent.
	stream := append([]byte{0xdb, 0x02, 0, 0, 0}, "0123456789"...)
	f := NewFramer(bytes.NewReader(stream), 64<<20)
	var b testBudget
	f.UseBudget(context.Background(), &b)
	if _, err := f.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("next: %v", err)
	}
	if len(f.buf) != baseSize || b.peak != 0 {
		t.Fatalf("a buffer of %d bytes, %d drawn", len(f.buf), b.peak)
	}

	// 1 MiB sent: the buffer grows to hold it, by less than twice, and
	// goes back to its base size once the next message is asked for.
	big := setRequest(1 << 20)
	small := setRequest(10)
	f = NewFramer(bytes.NewReader(slices.Concat(big, small)), 64<<20)
	b = testBudget{}
	f.UseBudget(context.Background(), &b)
	if got, err := f.Next(); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big message: %v", err)
	}
	if b.held != len(f.buf)-baseSize || len(f.buf) < len(big) || len(f.buf) > 2*len(big) {
		t.Fatalf("a buffer of %d bytes for %d, %d drawn", len(f.buf), len(big), b.held)
	}
	if got, err := f.Next(); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small message: %v", err)
	}
	if len(f.buf) != baseSize || b.held != 0 {
		t.Fatalf("after the big message: a buffer of %d bytes, %d drawn", len(f.buf), b.held)
	}
	if _, err := f.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	f.Release()
	if f.buf != nil || b.held != 0 {
		t.Fatal("Release kept the buffer")
	}

	// A budget that cannot give ends the read with its error.
	f = NewFramer(bytes.NewReader(big), 64<<20)
	errSpent := errors.New("spent")
	f.UseBudget(context.Background(), &testBudget{err: errSpent})
	if _, err := f.Next(); !errors.Is(err, errSpent) {
		t.Fatalf("next with a spent budget: %v", err)
	}
}

// A small limit (a peer before its handshake) keeps the buffer small and
// refuses an announced length before reading it; SetMax lifts it.
func TestFramerSetMax(t *testing.T) {
	huge := append([]byte{0xdb, 0x10, 0, 0, 0}, make([]byte, 100<<10)...)
	f := NewFramer(bytes.NewReader(huge), 4096)
	var tb *TooBigError
	if _, err := f.Next(); !errors.As(err, &tb) || tb.Size != len(huge)-100<<10+256<<20 {
		t.Fatalf("next: %v", err)
	}
	if len(f.buf) > 4097 {
		t.Fatalf("a buffer of %d bytes with a limit of 4096", len(f.buf))
	}
	msgs := slices.Concat(setRequest(100), setRequest(100<<10))
	f = NewFramer(bytes.NewReader(msgs), 4096)
	if _, err := f.Next(); err != nil {
		t.Fatal(err)
	}
	f.SetMax(1 << 20)
	if len(f.buf) != baseSize {
		t.Fatalf("a buffer of %d bytes after SetMax", len(f.buf))
	}
	if got, err := f.Next(); err != nil || len(got) != len(setRequest(100<<10)) {
		t.Fatalf("after SetMax: %v", err)
	}
}

// BenchmarkFramerDeep reads a message of a million nested one-element
// arrays in 64 KiB reads: each read scans only the new bytes (before, a
// 16 MiB one took 20 s).
func BenchmarkFramerDeep(b *testing.B) {
	msg := append(bytes.Repeat([]byte{0x91}, 1<<20), 0xc0)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		f := NewFramer(&chunkReader{r: bytes.NewReader(msg), n: 64 << 10}, 64<<20)
		if _, err := f.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// chunkReader reads at most n bytes at a time, as a socket does.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}
