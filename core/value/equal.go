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
