package value

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/pack"
)

// head is one msgpack value as far as it can be read without looking at its
// elements: a scalar in full, or the header of an array or map. It is kept
// small, because Validate reads one per item.
type head struct {
	kind pack.Kind
	neg  bool   // KindInt: negative; u holds the two's complement
	ext  int8   // KindExt: the type; never 2 (that is a KindInt)
	size int    // bytes of the header, plus the payload of a scalar
	n    int    // KindArray: elements; KindMap: pairs
	u    uint64 // KindInt: the value; KindFloat: the bits after widening; KindBool: 0 or 1
	// data is the payload of KindStr, KindBin and KindExt (shared with the
	// input), and for a KindInt from ext 2 beyond 64 bits its magnitude
	// without leading zeros (then u is 0).
	data []byte
}

func (h *head) float() float64 { return math.Float64frombits(h.u) }

func failAt(off int, err error) error { return &pack.Error{Off: off, Err: err} }

// readHead reads the value that starts at raw[pos]. It checks lengths, the
// UTF-8 of a str and that ext 2 has data; it does not look into ext 3.
// Errors are *pack.Error with the offset of the value (or of len(raw) when
// a value is missing altogether).
func readHead(h *head, raw []byte, pos int) error {
	*h = head{}
	if pos >= len(raw) {
		return failAt(pos, pack.ErrShort)
	}
	c := raw[pos]
	rest := len(raw) - pos - 1 // bytes after the type byte
	switch {
	case c <= 0x7f:
		h.kind, h.u, h.size = pack.KindInt, uint64(c), 1
		return nil
	case c >= 0xe0:
		h.kind, h.neg, h.u, h.size = pack.KindInt, true, uint64(int64(int8(c))), 1
		return nil
	case c <= 0x8f:
		h.kind, h.n, h.size = pack.KindMap, int(c&0x0f), 1
		return checkCount(raw, pos, 2*h.n, 1)
	case c <= 0x9f:
		h.kind, h.n, h.size = pack.KindArray, int(c&0x0f), 1
		return checkCount(raw, pos, h.n, 1)
	case c <= 0xbf:
		return payload(h, raw, pos, pack.KindStr, int(c&0x1f), 1)
	}
	// Fixed sizes after the type byte, checked once here.
	var need int
	switch c {
	case 0xc1:
		return failAt(pos, pack.ErrInvalid)
	case 0xc4, 0xc7, 0xcc, 0xd0, 0xd4, 0xd9:
		need = 1
	case 0xc5, 0xcd, 0xd1, 0xd5, 0xda, 0xdc, 0xde:
		need = 2
	case 0xc8:
		need = 3
	case 0xc6, 0xca, 0xce, 0xd2, 0xd6, 0xdb, 0xdd, 0xdf:
		need = 4
	case 0xc9:
		need = 5
	case 0xcb, 0xcf, 0xd3, 0xd7:
		need = 8
	case 0xd8:
		need = 16
	}
	if rest < need {
		return failAt(pos, pack.ErrShort)
	}
	p := raw[pos+1:]
	switch c {
	case 0xc0:
		h.kind, h.size = pack.KindNil, 1
	case 0xc2, 0xc3:
		h.kind, h.u, h.size = pack.KindBool, uint64(c-0xc2), 1
	case 0xc4:
		return payload(h, raw, pos, pack.KindBin, int(p[0]), 2)
	case 0xc5:
		return payload(h, raw, pos, pack.KindBin, int(binary.BigEndian.Uint16(p)), 3)
	case 0xc6:
		return payload(h, raw, pos, pack.KindBin, int(binary.BigEndian.Uint32(p)), 5)
	case 0xc7:
		return extension(h, raw, pos, int(p[0]), 3)
	case 0xc8:
		return extension(h, raw, pos, int(binary.BigEndian.Uint16(p)), 4)
	case 0xc9:
		return extension(h, raw, pos, int(binary.BigEndian.Uint32(p)), 6)
	case 0xca:
		h.kind, h.u, h.size = pack.KindFloat, math.Float64bits(float64(math.Float32frombits(binary.BigEndian.Uint32(p)))), 5
	case 0xcb:
		h.kind, h.u, h.size = pack.KindFloat, binary.BigEndian.Uint64(p), 9
	case 0xcc:
		h.kind, h.u, h.size = pack.KindInt, uint64(p[0]), 2
	case 0xcd:
		h.kind, h.u, h.size = pack.KindInt, uint64(binary.BigEndian.Uint16(p)), 3
	case 0xce:
		h.kind, h.u, h.size = pack.KindInt, uint64(binary.BigEndian.Uint32(p)), 5
	case 0xcf:
		h.kind, h.u, h.size = pack.KindInt, binary.BigEndian.Uint64(p), 9
	case 0xd0:
		h.kind, h.size = pack.KindInt, 2
		h.setSigned(int64(int8(p[0])))
	case 0xd1:
		h.kind, h.size = pack.KindInt, 3
		h.setSigned(int64(int16(binary.BigEndian.Uint16(p))))
	case 0xd2:
		h.kind, h.size = pack.KindInt, 5
		h.setSigned(int64(int32(binary.BigEndian.Uint32(p))))
	case 0xd3:
		h.kind, h.size = pack.KindInt, 9
		h.setSigned(int64(binary.BigEndian.Uint64(p)))
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return extension(h, raw, pos, 1<<(c-0xd4), 2)
	case 0xd9:
		return payload(h, raw, pos, pack.KindStr, int(p[0]), 2)
	case 0xda:
		return payload(h, raw, pos, pack.KindStr, int(binary.BigEndian.Uint16(p)), 3)
	case 0xdb:
		return payload(h, raw, pos, pack.KindStr, int(binary.BigEndian.Uint32(p)), 5)
	case 0xdc:
		h.kind, h.n, h.size = pack.KindArray, int(binary.BigEndian.Uint16(p)), 3
		return checkCount(raw, pos, h.n, 3)
	case 0xdd:
		h.kind, h.n, h.size = pack.KindArray, int(binary.BigEndian.Uint32(p)), 5
		return checkCount(raw, pos, h.n, 5)
	case 0xde:
		h.kind, h.n, h.size = pack.KindMap, int(binary.BigEndian.Uint16(p)), 3
		return checkCount(raw, pos, 2*h.n, 3)
	case 0xdf:
		h.kind, h.n, h.size = pack.KindMap, int(binary.BigEndian.Uint32(p)), 5
		return checkCount(raw, pos, 2*h.n, 5)
	}
	return nil
}

func (h *head) setSigned(v int64) {
	h.neg, h.u = v < 0, uint64(v)
}

// checkCount refuses a container that claims more elements than there are
// bytes left, before anyone sizes anything by the claim.
func checkCount(raw []byte, pos, items, hdr int) error {
	if items > len(raw)-pos-hdr {
		return failAt(pos, pack.ErrTooBig)
	}
	return nil
}

// payload finishes a str or bin of n bytes after a header of hdr bytes.
func payload(h *head, raw []byte, pos int, k pack.Kind, n, hdr int) error {
	if n > len(raw)-pos-hdr {
		return failAt(pos, pack.ErrShort)
	}
	h.kind, h.size = k, hdr+n
	h.data = raw[pos+hdr : pos+hdr+n]
	if k == pack.KindStr && !utf8.Valid(h.data) {
		return failAt(pos, pack.ErrUTF8)
	}
	return nil
}

// extension finishes an ext of n data bytes after a header of hdr bytes
// (the last of which is the type).
func extension(h *head, raw []byte, pos int, n, hdr int) error {
	if n > len(raw)-pos-hdr {
		return failAt(pos, pack.ErrShort)
	}
	h.kind, h.size = pack.KindExt, hdr+n
	h.ext = int8(raw[pos+hdr-1])
	h.data = raw[pos+hdr : pos+hdr+n]
	if h.ext != pack.ExtBigInt {
		return nil
	}
	if n == 0 {
		return failAt(pos, ErrBigInt)
	}
	mag := h.data
	for len(mag) > 0 && mag[0] == 0 {
		mag = mag[1:]
	}
	h.kind, h.data, h.ext = pack.KindInt, nil, 0
	if len(mag) > 8 {
		h.data = mag
		return nil
	}
	for _, c := range mag {
		h.u = h.u<<8 | uint64(c)
	}
	return nil
}

// sameInt reports whether two KindInt heads hold the same integer.
func sameInt(a, b *head) bool {
	return a.neg == b.neg && a.u == b.u && bytes.Equal(a.data, b.data)
}

// sameFloat reports whether two floats are the same value: the same bits
// after widening, so 0.0 and -0.0 differ, and any NaN equals any NaN (so
// that every value equals itself).
func sameFloat(a, b *head) bool {
	fa, fb := a.float(), b.float()
	if fa != fa || fb != fb {
		return fa != fa && fb != fb
	}
	return a.u == b.u
}
