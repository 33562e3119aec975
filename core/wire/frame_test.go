package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
		{"complete", setRequest(500), 400, len(setRequest(500)), false},
		// The headers announce the size: the framer need not read it all
		// (the stream here ends long before the message does).
		{"announced", req[:300], 1000, len(req), true},
		{"announced, whole", req, 1000, len(req), true},
		{"a string alone", pack.AppendString(nil, strings.Repeat("x", 5000))[:200], 1000, 5003, true},
		// Nothing announces the size: what arrived is the bound.
		{"an array", arr, 1000, 1501, true},
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
