package value

import (
	"bytes"
	"math"
	"slices"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Equal reports whether the raw values a and b are the same value:
//
//   - of the same type: 1 and 1.0 differ, and so do a str and a bin of the
//     same bytes; integers are equal by value whatever their encoding
//     (0xcc 0x05, 0x05 and ext 2 of 0x05 are all 5);
//   - floats by value after widening float 32 to 64 bits, except that 0.0
//     and -0.0 differ and NaN equals NaN, so that every value equals itself
//     (a round trip keeps a NaN a NaN); the server's `prev` and "changed"
//     follow the original instead, where NaN equals nothing (see HasNaN);
//   - arrays element by element, maps as unordered collections of pairs
//     (duplicate pairs count), paths as paths, other extensions by type and
//     data bytes.
//
// Identical bytes are equal without a look inside, even when malformed.
// Otherwise a malformed value is unequal to anything (but path payloads
// with identical bytes are not checked). Values whose maps are in the same
// order are compared without allocating; maps in different orders are
// compared in a canonical form, which allocates.
func Equal(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	na, nb, r := compare(a, b, 0, 0, 0)
	switch r {
	case same:
		return na == len(a) && nb == len(b)
	case differ:
		return false
	}
	ca, err := canonical(a)
	if err != nil {
		return false
	}
	cb, err := canonical(b)
	return err == nil && bytes.Equal(ca, cb)
}

type result uint8

const (
	same   result = iota
	differ        // certainly different (or malformed)
	unsure        // a map's pairs differ in order at least: compare canonically
)

// compare compares the values at a[pa:] and b[pb:] and returns where they
// end (when the result is same).
func compare(a, b []byte, pa, pb, depth int) (int, int, result) {
	if depth > pack.MaxDepth {
		return pa, pb, differ
	}
	var ha, hb head
	if readHead(&ha, a, pa) != nil || readHead(&hb, b, pb) != nil || ha.kind != hb.kind {
		return pa, pb, differ
	}
	pa, pb = pa+ha.size, pb+hb.size
	eq := true
	switch ha.kind {
	case pack.KindBool:
		eq = ha.u == hb.u
	case pack.KindInt:
		eq = sameInt(&ha, &hb)
	case pack.KindFloat:
		eq = sameFloat(&ha, &hb)
	case pack.KindStr, pack.KindBin:
		eq = bytes.Equal(ha.data, hb.data)
	case pack.KindExt:
		eq = ha.ext == hb.ext && (bytes.Equal(ha.data, hb.data) ||
			ha.ext == pack.ExtPath && samePath(ha.data, hb.data))
	case pack.KindArray, pack.KindMap:
		if ha.n != hb.n {
			return pa, pb, differ
		}
		items := ha.n
		if ha.kind == pack.KindMap {
			items *= 2
		}
		for range items {
			var r result
			if pa, pb, r = compare(a, b, pa, pb, depth+1); r != same {
				if ha.kind == pack.KindMap && ha.n > 1 {
					r = unsure
				}
				return pa, pb, r
			}
		}
	}
	if !eq {
		return pa, pb, differ
	}
	return pa, pb, same
}

func samePath(a, b []byte) bool {
	pa, err := path.FromEncoded(a)
	if err != nil {
		return false
	}
	pb, err := path.FromEncoded(b)
	return err == nil && pa == pb
}

// canonical returns the canonical encoding of raw, which must hold exactly
// one valid value: integers, lengths and extension headers shortest, floats
// as float 64 (one NaN), paths canonical, and the pairs of every map
// sorted by their canonical bytes. Two values are equal exactly when their
// canonical encodings are.
func canonical(raw []byte) ([]byte, error) {
	out, pos, err := appendCanonical(nil, raw, 0, 0)
	if err != nil {
		return nil, err
	}
	if pos != len(raw) {
		return nil, failAt(pos, ErrExtra)
	}
	return out, nil
}

func appendCanonical(out, raw []byte, pos, depth int) ([]byte, int, error) {
	if depth > pack.MaxDepth {
		return out, pos, failAt(pos, pack.ErrDepth)
	}
	var h head
	if err := readHead(&h, raw, pos); err != nil {
		return out, pos, err
	}
	var err error
	start := pos
	pos += h.size
	switch h.kind {
	case pack.KindNil:
		out = pack.AppendNil(out)
	case pack.KindBool:
		out = pack.AppendBool(out, h.u != 0)
	case pack.KindInt:
		switch {
		case h.neg:
			out = pack.AppendInt(out, int64(h.u))
		case h.data != nil:
			out = append(pack.AppendExtHeader(out, pack.ExtBigInt, len(h.data)), h.data...)
		default:
			out = pack.AppendUint(out, h.u)
		}
	case pack.KindFloat:
		f := h.float()
		if math.IsNaN(f) {
			f = math.NaN()
		}
		out = pack.AppendFloat(out, f)
	case pack.KindStr:
		out = pack.AppendStringBytes(out, h.data)
	case pack.KindBin:
		out = pack.AppendBytes(out, h.data)
	case pack.KindExt:
		if h.ext != pack.ExtPath {
			out = append(pack.AppendExtHeader(out, h.ext, len(h.data)), h.data...)
			break
		}
		p, err := path.FromEncoded(h.data)
		if err != nil {
			return out, start, failAt(start, err)
		}
		out = p.Append(out)
	case pack.KindArray:
		out = pack.AppendArrayHeader(out, h.n)
		for range h.n {
			if out, pos, err = appendCanonical(out, raw, pos, depth+1); err != nil {
				return out, pos, err
			}
		}
	case pack.KindMap:
		out = pack.AppendMapHeader(out, h.n)
		body := len(out)
		ends := make([]int, h.n) // where each pair ends, relative to body
		for i := range h.n {
			for range 2 {
				if out, pos, err = appendCanonical(out, raw, pos, depth+1); err != nil {
					return out, pos, err
				}
			}
			ends[i] = len(out) - body
		}
		pairs := make([][]byte, h.n)
		enc := slices.Clone(out[body:])
		for i, e := range ends {
			s := 0
			if i > 0 {
				s = ends[i-1]
			}
			pairs[i] = enc[s:e]
		}
		slices.SortFunc(pairs, bytes.Compare)
		out = out[:body]
		for _, p := range pairs {
			out = append(out, p...)
		}
	}
	return out, pos, nil
}

// HasNaN reports whether the raw value holds a NaN (float 32 or 64, any
// sign and payload) anywhere: itself, or an element, key or value at any
// depth of its arrays and maps. (A path cannot hold one, and other
// extensions are opaque bytes.)
//
// The server compares values as the original (Python) does, where NaN is
// not equal to itself and a value decoded from the wire is never the same
// object as the stored one, so that [nan] == [nan] is false too: a value
// that holds a NaN equals no value, not even its own bytes. A `prev`
// precondition holding a NaN therefore never matches, and a set of a
// value holding a NaN always counts as a change (also with idem).
//
// raw should be one valid value (see Validate); of anything else HasNaN
// reports only a NaN it met before the first fault. It reads each item's
// header once, skipping payloads, and does not allocate; raw may be a
// string, so that a stored value is not copied to be looked at.
func HasNaN[T ~string | ~[]byte](raw T) bool {
	// Items are read one after another, elements after their container's
	// header: left counts the items still to read.
	for pos, left := 0, 1; left > 0 && pos < len(raw); left-- {
		c := raw[pos]
		size, n := 1, 0 // the item's bytes (a container's: its header's); elements it adds
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c <= 0x8f:
			n = 2 * int(c&0x0f)
		case c <= 0x9f:
			n = int(c & 0x0f)
		case c <= 0xbf:
			size += int(c & 0x1f)
		case c == 0xca:
			if pos+5 > len(raw) {
				return false
			}
			if f := math.Float32frombits(be32(raw, pos+1)); f != f {
				return true
			}
			size = 5
		case c == 0xcb:
			if pos+9 > len(raw) {
				return false
			}
			if math.IsNaN(math.Float64frombits(uint64(be32(raw, pos+1))<<32 | uint64(be32(raw, pos+5)))) {
				return true
			}
			size = 9
		case c == 0xcc || c == 0xd0:
			size = 2
		case c == 0xcd || c == 0xd1:
			size = 3
		case c == 0xce || c == 0xd2:
			size = 5
		case c == 0xcf || c == 0xd3:
			size = 9
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16, after the ext type
			size = 2 + 1<<(c-0xd4)
		case c == 0xc4 || c == 0xd9: // bin 8, str 8
			size = 2 + bigEndian(raw, pos, 1)
		case c == 0xc5 || c == 0xda:
			size = 3 + bigEndian(raw, pos, 2)
		case c == 0xc6 || c == 0xdb:
			size = 5 + bigEndian(raw, pos, 4)
		case c == 0xc7: // ext 8: the length, then the ext type
			size = 3 + bigEndian(raw, pos, 1)
		case c == 0xc8:
			size = 4 + bigEndian(raw, pos, 2)
		case c == 0xc9:
			size = 6 + bigEndian(raw, pos, 4)
		case c == 0xdc:
			size, n = 3, bigEndian(raw, pos, 2)
		case c == 0xdd:
			size, n = 5, bigEndian(raw, pos, 4)
		case c == 0xde:
			size, n = 3, 2*bigEndian(raw, pos, 2)
		case c == 0xdf:
			size, n = 5, 2*bigEndian(raw, pos, 4)
		default: // 0xc1, never used
			return false
		}
		if size <= 0 || n < 0 { // cut short
			return false
		}
		pos += size
		left += n
	}
	return false
}

// bigEndian reads the w-byte big-endian length or count after the type
// byte raw[pos], or returns a number so negative that a size or count
// made of it stays negative if raw ends first.
func bigEndian[T ~string | ~[]byte](raw T, pos, w int) int {
	if pos+1+w > len(raw) {
		return -1 << 30
	}
	v := 0
	for i := pos + 1; i <= pos+w; i++ {
		v = v<<8 | int(raw[i])
	}
	return v
}

// be32 reads 4 big-endian bytes at raw[i:].
func be32[T ~string | ~[]byte](raw T, i int) uint32 {
	return uint32(raw[i])<<24 | uint32(raw[i+1])<<16 | uint32(raw[i+2])<<8 | uint32(raw[i+3])
}
