package value

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
)

func TestEqual(t *testing.T) {
	cases := []struct {
		name string
		a, b string // hex
		want bool
	}{
		{"identical", "a3 447568", "a3 447568", true},
		{"identical even if malformed", "c1", "c1", true},
		{"non-canonical uint", "cc 05", "05", true},
		{"signed and unsigned encodings", "d0 05", "05", true},
		{"int16 and int8 negative", "d1 ff80", "d0 80", true},
		{"ext 2 and int", "d4 02 05", "05", true},
		{"ext 2 with leading zeros", "c7 0a 02 00400000000000000005", "c7 09 02 400000000000000005", true},
		{"ext 2 and uint64", "c7 09 02 00ffffffffffffffff", "cf ffffffffffffffff", true},
		{"different ints", "05", "06", false},
		{"negative and positive", "ff", "cf ffffffffffffffff", false},
		{"int and float", "01", "cb 3ff0000000000000", false},
		{"float32 and float64", "ca 3fc00000", "cb 3ff8000000000000", true},
		{"different floats", "cb 3ff8000000000000", "cb 3ff8000000000001", false},
		{"0.0 and -0.0", "cb 0000000000000000", "cb 8000000000000000", false},
		{"NaN and another NaN", "cb 7ff8000000000001", "ca 7fc00000", true},
		{"str and bin", "a2 6162", "c4 02 6162", false},
		{"str8 and fixstr", "d9 02 6162", "a2 6162", true},
		{"bin16 and bin8", "c5 0002 6162", "c4 02 6162", true},
		{"nil and false", "c0", "c2", false},
		{"true and 1", "c3", "01", false},
		{"array16 and fixarray", "dc 0002 01 02", "92 01 02", true},
		{"arrays in order", "92 01 02", "92 02 01", false},
		{"array lengths", "92 01 02", "93 01 02 03", false},
		{"array element types", "92 01 cc 02", "92 01 a1 02", false},
		{"maps in any order", "82 a161 01 a162 02", "82 a162 02 a161 01", true},
		{"map16 reordered", "de 0002 a161 01 a162 02", "82 a162 02 a161 cc 01", true},
		{"map values differ", "82 a161 01 a162 02", "82 a162 01 a161 02", false},
		{"map sizes", "81 a161 01", "82 a161 01 a162 02", false},
		{"one-pair maps differ", "81 a161 01", "81 a161 02", false},
		{"nested maps reordered", "91 82 01 81 a178 c0 02 c3", "91 82 02 c3 01 81 a178 c0", true},
		{"duplicate pairs count", "82 01 01 01 01", "82 01 01 02 02", false},
		{"map keys by value", "82 cc 01 a0 02 c0", "82 02 c0 01 a0", true},
		{"paths", "c7 03 03 a161 1f", "c7 04 03 a161 cc 1f", true},
		{"different paths", "c7 03 03 a161 1f", "c7 03 03 a161 1e", false},
		{"path and array", "c7 03 03 a161 1f", "92 a161 1f", false},
		{"ext types", "d4 05 07", "d4 06 07", false},
		{"ext data", "d4 05 07", "c7 01 05 07", true},
		{"trailing bytes", "01", "cc 01 00", false},
		{"malformed", "a2 41", "a1 41", false},
		{"invalid UTF-8", "a1 ff", "a1 fe", false},
		{"malformed in a reordered map", "82 01 01 02 02", "82 02 02 01 c1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := mustHex(t, c.a), mustHex(t, c.b)
			if got := Equal(a, b); got != c.want {
				t.Errorf("Equal(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
			}
			if got := Equal(b, a); got != c.want {
				t.Errorf("Equal(%s, %s) = %v, want %v", c.b, c.a, got, c.want)
			}
		})
	}
}

// wideMap is a map like ordinaryMap, with every integer in 9 bytes when
// wide is set.
func wideMap(wide bool) []byte {
	b := pack.AppendMapHeader(nil, 20)
	for i := range 20 {
		b = pack.AppendString(b, fmt.Sprintf("key-%02d", i))
		b = pack.AppendArrayHeader(b, 3)
		b = pack.AppendString(b, "sensor")
		if wide {
			b = binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(i*1000))
		} else {
			b = pack.AppendInt(b, int64(i*1000))
		}
		b = pack.AppendFloat(b, float64(i)/4)
	}
	return b
}

func TestEqualInOrderDoesNotAllocate(t *testing.T) {
	a, b := wideMap(false), wideMap(true)
	if !Equal(a, b) {
		t.Fatal("not equal")
	}
	if n := testing.AllocsPerRun(100, func() { Equal(a, b) }); n != 0 {
		t.Errorf("Equal allocates %.0f times", n)
	}
}

func BenchmarkEqual(b *testing.B) {
	x, y := wideMap(false), wideMap(true)
	reordered := pack.AppendMapHeader(nil, 20)
	m, _ := Decode(x)
	for i := len(m.(pack.Map)) - 1; i >= 0; i-- {
		kv := m.(pack.Map)[i]
		reordered, _ = pack.Append(reordered, kv.Key)
		reordered, _ = pack.Append(reordered, kv.Value)
	}
	for _, c := range []struct {
		name string
		a, b []byte
	}{
		{"identical", x, x},
		{"encodings", x, y},
		{"reordered", x, reordered},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !Equal(c.a, c.b) {
					b.Fatal("not equal")
				}
			}
		})
	}
}

func TestHasNaN(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want bool
	}{
		{"float64 NaN", "cb 7ff8000000000000", true},
		{"float64 NaN, other payload", "cb 7ff0000000000001", true},
		{"float64 NaN, sign set", "cb fff8000000000abc", true},
		{"float32 NaN", "ca 7fc00000", true},
		{"float32 NaN, other payload and sign", "ca ff800001", true},
		{"infinity", "cb 7ff0000000000000", false},
		{"float32 infinity", "ca ff800000", false},
		{"a number", "cb 3ff8000000000000", false},
		{"in an array", "93 01 a161 cb 7ff8000000000000", true},
		{"after an array", "92 92 01 02 ca 7fc00000", true},
		{"a map's value", "82 a161 01 a162 ca 7fc00000", true},
		{"a map's key", "81 cb 7ff8000000000000 01", true},
		{"deep", "91 81 a178 91 91 cb 7ff8000000000000", true},
		{"array16 and map16", "dc 0001 de 0001 01 ca 7fc00000", true},
		{"NaN bytes in a string", "a9 cb7ff8000000000000", false},
		{"NaN bytes in a bin", "c4 09 cb7ff8000000000000", false},
		{"NaN bytes in an ext", "c7 09 05 cb7ff8000000000000", false},
		{"NaN bytes in a fixext", "d8 05 cb7ff80000000000 0000000000000000", false},
		{"NaN bytes in an int", "cf cb7ff80000000000", false},
		{"0xca inside a float", "cb 40694000000000ca", false},
		{"after strings and ints", "95 d9 02 6162 cd 0102 d3 0000000000000001 c3 ca 7fc00001", true},
		{"cut short", "cb 7ff8", false},
		{"malformed", "c1 cb 7ff8000000000000", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := HasNaN(mustHex(t, c.hex)); got != c.want {
				t.Errorf("HasNaN(%s) = %v, want %v", c.hex, got, c.want)
			}
		})
	}
}

// hasNaN is the reference for HasNaN: the decoded value, walked.
func hasNaN(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.IsNaN(v)
	case []any:
		return slices.ContainsFunc(v, hasNaN)
	case pack.Map:
		return slices.ContainsFunc(v, func(kv pack.KV) bool { return hasNaN(kv.Key) || hasNaN(kv.Value) })
	}
	return false
}

// FuzzHasNaN checks HasNaN, which reads msgpack on its own, against the
// decoded value.
func FuzzHasNaN(f *testing.F) {
	fuzzSeeds(f)
	f.Add(mustHex(f, "82 a161 cb 7ff8000000000000 ca 7fc00000 92 01 02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := HasNaN(data)
		if HasNaN(string(data)) != got {
			t.Fatalf("HasNaN(%x) differs for a string", data)
		}
		v, err := Decode(data)
		if err != nil {
			return // of a malformed value, anything found
		}
		if want := hasNaN(v); got != want {
			t.Fatalf("HasNaN(%x) = %v, want %v (%#v)", data, got, want, v)
		}
	})
}

func TestHasNaNDoesNotAllocate(t *testing.T) {
	b := mustHex(t, "93 01 a161 cb 3ff8000000000000")
	s := string(b)
	if n := testing.AllocsPerRun(100, func() { HasNaN(s); HasNaN(b) }); n != 0 {
		t.Errorf("HasNaN allocates %.0f times", n)
	}
}

// TestEqualUnorderedCostsTheSize: comparing nested maps in different
// orders reads the values a few times, whatever the nesting. Sorting the
// pairs' encodings at every map copied each map's contents once per map
// around it: 518 MB and 0.7 s for a value of 1 MiB nested 256 deep, and
// a server compares under its write lock (prev, idem).
func TestEqualUnorderedCostsTheSize(t *testing.T) {
	big := make([]byte, 1<<20)
	for _, depth := range []int{1, 64, pack.MaxDepth - 1} {
		var a, b any = big, big
		for range depth {
			a = pack.Map{{Key: "z", Value: int64(0)}, {Key: "a", Value: a}}
			b = pack.Map{{Key: "a", Value: b}, {Key: "z", Value: int64(0)}}
		}
		ea, eb := mustEncode(t, a), mustEncode(t, b)
		var eq bool
		n := allocated(func() { eq = Equal(ea, eb) })
		if !eq {
			t.Fatalf("depth %d: not equal", depth)
		}
		if n > uint64(len(ea)) {
			t.Errorf("depth %d: %d bytes allocated to compare two values of %d", depth, n, len(ea))
		}
	}
}

// TestEqualReordered: a value equals itself with the pairs of every map
// shuffled, and no longer when a scalar deep inside changes.
func TestEqualReordered(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := rng.IntN(8); {
		case depth > 4 || k < 3:
			return []any{int64(rng.IntN(3)), "s", []byte("s"), 1.5, nil, true, uint64(1 << 63)}[rng.IntN(7)]
		case k < 5:
			a := make([]any, rng.IntN(4))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		default:
			m := make(pack.Map, rng.IntN(5))
			for i := range m {
				m[i] = pack.KV{Key: gen(depth + 2), Value: gen(depth + 1)}
			}
			return m
		}
	}
	var shuffle func(v any) any
	shuffle = func(v any) any {
		switch v := v.(type) {
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = shuffle(e)
			}
			return out
		case pack.Map:
			out := make(pack.Map, len(v))
			for i, kv := range v {
				out[i] = pack.KV{Key: shuffle(kv.Key), Value: shuffle(kv.Value)}
			}
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out
		}
		return v
	}
	// change replaces the scalar at a random place by another one.
	var change func(v any) (any, bool)
	change = func(v any) (any, bool) {
		switch v := v.(type) {
		case []any:
			out := slices.Clone(v)
			for _, i := range rng.Perm(len(v)) {
				if c, ok := change(v[i]); ok {
					out[i] = c
					return out, true
				}
			}
			return v, false
		case pack.Map:
			out := slices.Clone(v)
			for _, i := range rng.Perm(len(v)) {
				if c, ok := change(v[i].Value); ok {
					out[i].Value = c
					return out, true
				}
			}
			return v, false
		case string:
			return v + "x", true
		case int64:
			return v + 10, true
		}
		return v, false
	}
	for range 2000 {
		v := gen(0)
		a := mustEncode(t, v)
		if b := mustEncode(t, shuffle(v)); !Equal(a, b) || !Equal(b, a) {
			t.Fatalf("%x and its shuffle %x differ", a, b)
		}
		if c, ok := change(v); ok {
			if b := mustEncode(t, shuffle(c)); Equal(a, b) || Equal(b, a) {
				t.Fatalf("%x and the changed %x are equal", a, b)
			}
		}
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
