package wire

import (
	"encoding/binary"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Msg builds one msgpack map. Start it with Begin, add pairs, finish with
// End. The map header is patched at End, so pairs need not be counted
// beforehand. A Msg is a small value, not safe for concurrent use.
type Msg struct {
	B     []byte
	start int
	n     int
}

// Begin starts a map at the end of b.
func Begin(b []byte) Msg {
	start := len(b)
	b = append(b, 0xde, 0, 0) // map16; the count is patched by End
	return Msg{B: b, start: start}
}

// End patches the pair count and returns the buffer.
func (m *Msg) End() []byte {
	binary.BigEndian.PutUint16(m.B[m.start+1:], uint16(m.n))
	return m.B
}

// Key adds a key; the caller appends its value to m.B next.
func (m *Msg) Key(k string) {
	m.B = pack.AppendString(m.B, k)
	m.n++
}

// Str adds a string pair.
func (m *Msg) Str(k, v string) { m.Key(k); m.B = pack.AppendString(m.B, v) }

// Uint adds an unsigned integer pair.
func (m *Msg) Uint(k string, v uint64) { m.Key(k); m.B = pack.AppendUint(m.B, v) }

// Int adds an integer pair.
func (m *Msg) Int(k string, v int64) { m.Key(k); m.B = pack.AppendInt(m.B, v) }

// Bool adds a bool pair.
func (m *Msg) Bool(k string, v bool) { m.Key(k); m.B = pack.AppendBool(m.B, v) }

// Nil adds a nil pair.
func (m *Msg) Nil(k string) { m.Key(k); m.B = pack.AppendNil(m.B) }

// Raw adds a pair whose value is already encoded.
func (m *Msg) Raw(k string, raw string) { m.Key(k); m.B = append(m.B, raw...) }

// Path adds a path as ext type 3.
func (m *Msg) Path(k string, p path.Path) { m.Key(k); m.B = p.Append(m.B) }

// PathArray adds a path as an array of elements (as multi-reply items
// carry it).
func (m *Msg) PathArray(k string, p path.Path) { m.Key(k); m.B = p.AppendArray(m.B) }

// Chain adds a chain as nested maps {node, tick, prev}, at most n links
// (n < 0: all). An entry never set has the chain nil.
func (m *Msg) Chain(k string, head chain.Link, older chain.Chain, n int) {
	m.Key(k)
	m.B = AppendChain(m.B, head, older, n)
}

// AppendChain appends a chain as the original does: {node, tick, prev}
// nested, the last prev nil.
func AppendChain(b []byte, head chain.Link, older chain.Chain, n int) []byte {
	if head.Node == nil || n == 0 {
		return pack.AppendNil(b)
	}
	links := 1 + len(older)
	if n > 0 && n < links {
		links = n
	}
	for i := range links {
		l := head
		if i > 0 {
			l = older[i-1]
		}
		b = append(b, 0x83)
		b = pack.AppendString(b, "node")
		b = pack.AppendString(b, l.Node.Name)
		b = pack.AppendString(b, "tick")
		b = pack.AppendUint(b, l.Tick)
		b = pack.AppendString(b, "prev")
	}
	return pack.AppendNil(b)
}
