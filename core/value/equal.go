package value

import (
	"bytes"
	"math"
	"slices"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Equal reports whether the raw values a and b are equal as values:
//
//   - of the same type: 1 and 1.0 differ, and so do a str and a bin of the
//     same bytes; integers are equal by value whatever their encoding
//     (0xcc 0x05, 0x05 and ext 2 of 0x05 are all 5);
//   - floats by value after widening float 32 to 64 bits, except that 0.0
//     and -0.0 differ and NaN equals NaN, so that every value equals itself;
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
