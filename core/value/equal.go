package value

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
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
// order are compared without allocating. Maps in different orders are
// compared with their pairs sorted by a hash of their contents: that
// reads each byte a few times whatever the nesting (sorting the pairs'
// encodings would copy a map's contents once per map around it, and a
// server compares under its write lock). Pairs whose 64-bit hashes
// collide (a chance of one in 2^64 per pair, the hash seeded at random)
// may make equal values compare unequal, never the other way round.
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
	return equalUnordered(a, b)
}

type result uint8

const (
	same   result = iota
	differ        // certainly different (or malformed)
	unsure        // a map's pairs differ in order at least: compare sorted
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
	switch ha.kind {
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
		return pa, pb, same
	}
	if !sameScalar(&ha, &hb) {
		return pa, pb, differ
	}
	return pa, pb, same
}

// sameScalar compares two heads of the same kind, not containers.
func sameScalar(ha, hb *head) bool {
	switch ha.kind {
	case pack.KindBool:
		return ha.u == hb.u
	case pack.KindInt:
		return sameInt(ha, hb)
	case pack.KindFloat:
		return sameFloat(ha, hb)
	case pack.KindStr, pack.KindBin:
		return bytes.Equal(ha.data, hb.data)
	case pack.KindExt:
		return ha.ext == hb.ext && (bytes.Equal(ha.data, hb.data) ||
			ha.ext == pack.ExtPath && samePath(ha.data, hb.data))
	}
	return true // nil
}

func samePath(a, b []byte) bool {
	pa, err := path.FromEncoded(a)
	if err != nil {
		return false
	}
	pb, err := path.FromEncoded(b)
	return err == nil && pa == pb
}

// equalUnordered compares two values whose maps may differ in order. A
// hash of each value that equal values share (map pairs hashed one by
// one and combined in the order of their hashes) tells most unequal
// values apart; equal hashes are confirmed by comparing the values with
// the pairs of every map in the order of their hashes.
func equalUnordered(a, b []byte) bool {
	sa, sb := sorter{raw: a}, sorter{raw: b}
	var ha, hb maphash.Hash
	ha.SetSeed(hashSeed)
	hb.SetSeed(hashSeed)
	if end, err := sa.hash(&ha, 0, 0); err != nil || end != len(a) {
		return false
	}
	if end, err := sb.hash(&hb, 0, 0); err != nil || end != len(b) {
		return false
	}
	if ha.Sum64() != hb.Sum64() {
		return false
	}
	_, _, ok := sameSorted(&sa, &sb, 0, 0)
	return ok
}

// hashSeed is the seed of the hashes that order map pairs: random, so
// that nobody can make pairs collide on purpose.
var hashSeed = maphash.MakeSeed()

// sorter holds a value and, for each map in it, its pairs in the order
// of their hashes.
type sorter struct {
	raw  []byte
	maps map[int]sortedMap // by the map's offset
}

type sortedMap struct {
	pairs []int // offsets of the pairs, sorted
	end   int   // where the map ends
}

// hash writes a canonical form of the value at pos to h (a token per
// scalar, a count per container, and for a map the sorted hashes of its
// pairs), records the order of the pairs of each map, and returns where
// the value ends. Equal values write the same.
func (s *sorter) hash(h *maphash.Hash, pos, depth int) (int, error) {
	if depth > pack.MaxDepth {
		return pos, failAt(pos, pack.ErrDepth)
	}
	var hd head
	if err := readHead(&hd, s.raw, pos); err != nil {
		return pos, err
	}
	start := pos
	pos += hd.size
	var err error
	switch hd.kind {
	case pack.KindArray:
		writeToken(h, 'a', uint64(hd.n), nil)
		for range hd.n {
			if pos, err = s.hash(h, pos, depth+1); err != nil {
				return pos, err
			}
		}
	case pack.KindMap:
		type pairHash struct {
			h  uint64
			at int
		}
		pairs := make([]pairHash, hd.n)
		var ph maphash.Hash
		ph.SetSeed(hashSeed)
		for i := range pairs {
			ph.Reset()
			pairs[i].at = pos
			for range 2 {
				if pos, err = s.hash(&ph, pos, depth+1); err != nil {
					return pos, err
				}
			}
			pairs[i].h = ph.Sum64()
		}
		slices.SortFunc(pairs, func(x, y pairHash) int { return cmp.Compare(x.h, y.h) })
		sm := sortedMap{pairs: make([]int, hd.n), end: pos}
		writeToken(h, 'm', uint64(hd.n), nil)
		for i, p := range pairs {
			sm.pairs[i] = p.at
			writeToken(h, 'p', p.h, nil)
		}
		if s.maps == nil {
			s.maps = make(map[int]sortedMap)
		}
		s.maps[start] = sm
	case pack.KindNil:
		writeToken(h, 'n', 0, nil)
	case pack.KindBool:
		writeToken(h, 'b', hd.u, nil)
	case pack.KindInt:
		switch {
		case hd.neg:
			writeToken(h, '-', hd.u, nil)
		default:
			writeToken(h, 'i', hd.u, hd.data)
		}
	case pack.KindFloat:
		bits := hd.u
		if f := hd.float(); f != f {
			bits = math.Float64bits(math.NaN()) // every NaN is equal
		}
		writeToken(h, 'f', bits, nil)
	case pack.KindStr:
		writeToken(h, 's', uint64(len(hd.data)), hd.data)
	case pack.KindBin:
		writeToken(h, 'y', uint64(len(hd.data)), hd.data)
	case pack.KindExt:
		data := hd.data
		if hd.ext == pack.ExtPath {
			p, err := path.FromEncoded(data)
			if err != nil {
				return start, failAt(start, err)
			}
			data = []byte(p.Encoded())
		}
		writeToken(h, 'e', uint64(uint8(hd.ext))<<32|uint64(len(data)), data)
	}
	return pos, nil
}

// writeToken writes a kind letter, a number and data to h.
func writeToken(h *maphash.Hash, kind byte, n uint64, data []byte) {
	var b [9]byte
	b[0] = kind
	binary.LittleEndian.PutUint64(b[1:], n)
	h.Write(b[:])
	h.Write(data)
}

// sameSorted compares the values at a.raw[pa:] and b.raw[pb:], both hashed,
// the pairs of their maps in the order of their hashes, and returns where
// they end.
func sameSorted(a, b *sorter, pa, pb int) (int, int, bool) {
	var ha, hb head
	if readHead(&ha, a.raw, pa) != nil || readHead(&hb, b.raw, pb) != nil || ha.kind != hb.kind {
		return pa, pb, false
	}
	switch ha.kind {
	case pack.KindArray:
		if ha.n != hb.n {
			return pa, pb, false
		}
		pa, pb = pa+ha.size, pb+hb.size
		for range ha.n {
			var ok bool
			if pa, pb, ok = sameSorted(a, b, pa, pb); !ok {
				return pa, pb, false
			}
		}
		return pa, pb, true
	case pack.KindMap:
		ma, mb := a.maps[pa], b.maps[pb]
		if ha.n != hb.n {
			return pa, pb, false
		}
		for i := range ma.pairs {
			ka, kb := ma.pairs[i], mb.pairs[i]
			va, vb, ok := sameSorted(a, b, ka, kb) // the key
			if !ok {
				return pa, pb, false
			}
			if _, _, ok := sameSorted(a, b, va, vb); !ok { // the value
				return pa, pb, false
			}
		}
		return ma.end, mb.end, true
	}
	return pa + ha.size, pb + hb.size, sameScalar(&ha, &hb)
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
