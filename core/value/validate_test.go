package value

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// mustHex decodes hex written with optional spaces.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustEncode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		t.Fatalf("Encode(%#v): %v", v, err)
	}
	return b
}

// nested returns n arrays inside one another around inner.
func nested(n int, inner []byte) []byte {
	b := bytes.Repeat([]byte{0x91}, n)
	return append(b, inner...)
}

func TestValidateGood(t *testing.T) {
	cases := []struct{ name, hex string }{
		{"nil", "c0"},
		{"true", "c3"},
		{"fixint", "05"},
		{"negative fixint", "ff"},
		{"uint8 non-canonical", "cc 05"},
		{"int64", "d3 8000000000000000"},
		{"uint64", "cf ffffffffffffffff"},
		{"float32", "ca 3fc00000"},
		{"float64", "cb 3ff8000000000000"},
		{"str", "a3 447568"},
		{"str8 utf8", "d9 03 e282ac"},
		{"empty str", "a0"},
		{"bin", "c4 02 0001"},
		{"array", "93 01 a161 c0"},
		{"map", "82 a161 01 a162 92 01 02"},
		{"array key", "81 92 01 02 c3"},
		{"empty containers", "92 90 80"},
		{"array16", "dc 0002 01 02"},
		{"map16", "de 0001 01 02"},
		{"big int", "c7 09 02 400000000000000005"},
		{"big int small", "d4 02 05"},
		{"path", "c7 03 03 a161 1f"},
		{"root path", "c7 00 03"},
		{"path with tuple", "c7 04 03 92 01 02 c0"},
		{"other ext", "d6 05 01020304"},
		{"timestamp ext", "d6 ff 00000000"},
		{"path in map key", "81 c7 02 03 a161 01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := mustHex(t, c.hex)
			if err := Validate(raw); err != nil {
				t.Fatalf("Validate(%s): %v", c.hex, err)
			}
			if _, err := Decode(raw); err != nil {
				t.Fatalf("Decode(%s): %v", c.hex, err)
			}
		})
	}
}

func TestValidateBad(t *testing.T) {
	deep := nested(1000, []byte{0xc0})
	cases := []struct {
		name string
		raw  []byte
		off  int
		want error
	}{
		{"empty", nil, 0, pack.ErrShort},
		{"truncated uint16", mustHex(t, "cd 01"), 0, pack.ErrShort},
		{"truncated str", mustHex(t, "a5 4142"), 0, pack.ErrShort},
		{"truncated str8 header", mustHex(t, "d9"), 0, pack.ErrShort},
		{"truncated array", mustHex(t, "93 01 02"), 0, pack.ErrTooBig},
		{"truncated array element", mustHex(t, "92 01 cd 01"), 2, pack.ErrShort},
		{"missing last element", mustHex(t, "92 91 01"), 3, pack.ErrShort},
		{"missing array element", mustHex(t, "dc 0003 01 02"), 0, pack.ErrTooBig},
		{"truncated map value", mustHex(t, "81 a161"), 3, pack.ErrShort},
		{"truncated inner str", mustHex(t, "92 01 a3 4142"), 2, pack.ErrShort},
		{"truncated ext", mustHex(t, "d6 05 0102"), 0, pack.ErrShort},
		{"truncated ext8", mustHex(t, "c7 05 05 01"), 0, pack.ErrShort},
		{"0xc1", mustHex(t, "c1"), 0, pack.ErrInvalid},
		{"0xc1 inside", mustHex(t, "92 01 c1"), 2, pack.ErrInvalid},
		{"invalid utf8", mustHex(t, "a2 c328"), 0, pack.ErrUTF8},
		{"invalid utf8 in list", mustHex(t, "92 a0 a1 ff"), 2, pack.ErrUTF8},
		{"invalid utf8 in map key", mustHex(t, "82 a161 01 a2 fffe 02"), 4, ErrMapKey},
		{"invalid utf8 in map value", mustHex(t, "81 a161 a1 80"), 3, pack.ErrUTF8},
		{"surrogate", mustHex(t, "a3 eda080"), 0, pack.ErrUTF8},
		{"nesting 1000 deep", deep, pack.MaxDepth + 1, pack.ErrDepth},
		{"nesting 1000 deep maps", append(bytes.Repeat([]byte{0x81, 0xc0}, 1000), 0xc0), 2*(pack.MaxDepth+1) - 1, pack.ErrDepth},
		{"ext 3 with a map element", mustHex(t, "c7 04 03 81 a161 01"), 0, ErrPath},
		{"ext 3 with inf", mustHex(t, "c7 09 03 cb 7ff0000000000000"), 0, ErrPath},
		{"ext 3 truncated element", mustHex(t, "d4 03 a1"), 0, ErrPath},
		{"ext 3 in a list", mustHex(t, "92 01 d4 03 c1"), 2, ErrPath},
		{"empty big int", mustHex(t, "c7 00 02"), 0, ErrBigInt},
		{"trailing bytes", mustHex(t, "01 02"), 1, ErrExtra},
		{"trailing after map", mustHex(t, "81 01 02 c0"), 3, ErrExtra},
		{"array count beyond input", mustHex(t, "dd ffffffff 01"), 0, pack.ErrTooBig},
		{"map count beyond input", mustHex(t, "df 7fffffff 01 02"), 0, pack.ErrTooBig},
		{"str32 length beyond input", mustHex(t, "db ffffffff 41"), 0, pack.ErrShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.raw)
			if err == nil {
				t.Fatalf("Validate(%x) accepted", c.raw)
			}
			var pe *pack.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Validate(%x) = %v (%T), want a *pack.Error", c.raw, err, err)
			}
			if pe.Off != c.off || !errors.Is(err, c.want) {
				t.Fatalf("Validate(%x) = %v, want %v at byte %d", c.raw, err, c.want, c.off)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("at byte %d", c.off)) {
				t.Errorf("error %q does not name the offset", err)
			}
			if _, derr := Decode(c.raw); derr == nil {
				t.Errorf("Decode(%x) accepted what Validate refused", c.raw)
			}
		})
	}
}

// The depth limit is the one pack.Decode applies: the top value is at depth
// 0, and nothing may sit deeper than pack.MaxDepth.
func TestValidateDepthLimit(t *testing.T) {
	for _, c := range []struct {
		raw []byte
		ok  bool
	}{
		{nested(pack.MaxDepth, []byte{0x01}), true}, // the scalar at MaxDepth
		{nested(pack.MaxDepth, []byte{0x90}), true}, // an empty array at MaxDepth
		{nested(pack.MaxDepth+1, []byte{0x01}), false},
		{nested(pack.MaxDepth, []byte{0x91, 0x90}), false},
	} {
		verr := Validate(c.raw)
		_, derr := Decode(c.raw)
		_, perr := pack.Decode(c.raw)
		if (verr == nil) != c.ok || (derr == nil) != c.ok || (perr == nil) != c.ok {
			t.Errorf("depth %d: Validate %v, Decode %v, pack.Decode %v; want ok=%v", len(c.raw)-1, verr, derr, perr, c.ok)
		}
	}
	if _, err := Encode(nestedValue(pack.MaxDepth + 1)); !errors.Is(err, pack.ErrDepth) {
		t.Errorf("Encode of a value too deep: %v", err)
	}
}

func nestedValue(n int) any {
	var v any = int64(1)
	for range n {
		v = []any{v}
	}
	return v
}

// ordinaryMap is a value of about 1 KiB: a map of strings, numbers, lists
// and a nested map, as an entry in the tree might hold.
func ordinaryMap(t testing.TB) []byte {
	m := pack.Map{}
	for i := range 24 {
		m = append(m, pack.KV{Key: fmt.Sprintf("key-%02d", i), Value: pack.Map{
			{Key: "name", Value: fmt.Sprintf("sensor number %d", i)},
			{Key: "value", Value: float64(i) * 1.5},
			{Key: "n", Value: int64(i * 1000)},
			{Key: "ok", Value: i%2 == 0},
		}})
	}
	return mustEncode(t, m)
}

func TestValidateDoesNotAllocate(t *testing.T) {
	str := mustEncode(t, "0123456789abcdef")
	m := ordinaryMap(t)
	deep := nested(32, []byte{0x01}) // deeper values may allocate
	for name, raw := range map[string][]byte{"string": str, "map": m, "32 deep": deep} {
		if n := testing.AllocsPerRun(100, func() { _ = Validate(raw) }); n != 0 {
			t.Errorf("Validate(%s) allocates %.0f times", name, n)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	p, _ := path.Strings("a", "b")
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"string16", mustEncode(b, "0123456789abcdef")},
		{"map1KiB", ordinaryMap(b)},
		{"path", mustEncode(b, p)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if err := Validate(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
