package value

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

func bigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	z, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad big int %q", s)
	}
	return z
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want any
	}{
		{"nil", "c0", nil},
		{"int", "cc 05", int64(5)},
		{"negative", "d0 80", int64(-128)},
		{"uint64", "cf ffffffffffffffff", uint64(math.MaxUint64)},
		{"big", "c7 09 02 400000000000000005", bigInt(t, "1180591620717411303429")},
		{"ext 2 that fits int64", "d4 02 05", int64(5)},
		{"ext 2 that fits uint64", "c7 09 02 00ffffffffffffffff", uint64(math.MaxUint64)},
		{"float32", "ca 3fc00000", 1.5},
		{"str", "a3 447568", "Duh"},
		{"bin", "c4 02 0001", []byte{0, 1}},
		{"array", "92 01 a161", []any{int64(1), "a"}},
		{"map", "82 a161 01 c0 c3", pack.Map{{Key: "a", Value: int64(1)}, {Key: nil, Value: true}}},
		{"path", "c7 03 03 a161 1f", path.Must("a", 31)},
		{"non-canonical path", "c7 04 03 a161 cc 1f", path.Must("a", 31)},
		{"ext", "d4 05 07", pack.Ext{Type: 5, Data: []byte{7}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := mustHex(t, c.hex)
			got, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decode(%s) = %#v, want %#v", c.hex, got, c.want)
			}
			enc := mustEncode(t, got)
			if !Equal(enc, raw) {
				t.Errorf("Encode(Decode(%s)) = %x, not Equal", c.hex, enc)
			}
		})
	}
}

func TestDecodeErrorInMapKey(t *testing.T) {
	_, err := Decode(mustHex(t, "82 a161 01 a2 fffe 02"))
	var pe *pack.Error
	if !errors.As(err, &pe) || pe.Off != 4 || !errors.Is(err, ErrMapKey) || !errors.Is(err, pack.ErrUTF8) {
		t.Fatalf("got %v", err)
	}
}

func TestEncode(t *testing.T) {
	cases := []struct {
		name string
		v    any
		hex  string
	}{
		{"int canonical", int64(5), "05"},
		{"Go int", 300, "cd 012c"},
		{"small big.Int", big.NewInt(7), "07"},
		{"big.Int", bigInt(t, "1180591620717411303429"), "c7 09 02 400000000000000005"},
		{"float", 1.5, "cb 3ff8000000000000"},
		{"path", path.Must("a", 31), "c7 03 03 a161 1f"},
		{"path in a list", []any{path.Root}, "91 c7 00 03"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mustEncode(t, c.v)
			if want := mustHex(t, c.hex); string(got) != string(want) {
				t.Fatalf("Encode(%#v) = %x, want %x", c.v, got, want)
			}
		})
	}
	bad := []struct {
		name string
		v    any
		want error
	}{
		{"invalid UTF-8", "\xff", pack.ErrUTF8},
		{"negative big", bigInt(t, "-99999999999999999999"), pack.ErrRange},
		{"ext 2 empty", pack.Ext{Type: 2}, ErrBigInt},
		{"ext 3 not a path", pack.Ext{Type: 3, Data: []byte{0x81, 0x01, 0x02}}, ErrPath},
		{"too deep", nestedValue(pack.MaxDepth + 1), pack.ErrDepth},
		{"Go type", struct{}{}, nil},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(c.v)
			if err == nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Encode(%#v) = %v, want %v", c.v, err, c.want)
			}
		})
	}
}
