package pack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
)

func TestIntEncodings(t *testing.T) {
	cases := []struct {
		v   int64
		hex string
	}{
		{0, "00"}, {31, "1f"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"},
		{65536, "ce00010000"}, {1 << 32, "cf0000000100000000"},
		{-1, "ff"}, {-2, "fe"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"},
		{math.MinInt64, "d38000000000000000"},
	}
	for _, c := range cases {
		got := hex.EncodeToString(AppendInt(nil, c.v))
		if got != c.hex {
			t.Errorf("AppendInt(%d) = %s, want %s", c.v, got, c.hex)
		}
		r := NewReader(AppendInt(nil, c.v))
		back, err := r.ReadInt()
		if err != nil || back != c.v {
			t.Errorf("ReadInt(%s) = %d, %v", c.hex, back, err)
		}
	}
}

func TestBigInt(t *testing.T) {
	// From the original's wire transcript: 1180591620717411303429 as ext 2.
	v, _ := new(big.Int).SetString("1180591620717411303429", 10)
	b, err := AppendBigInt(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != "c70902400000000000000005" {
		t.Fatalf("got %s", got)
	}
	back, err := Decode(b)
	if err != nil || back.(*big.Int).Cmp(v) != 0 {
		t.Fatalf("decode: %v %v", back, err)
	}
	if _, err := AppendBigInt(nil, new(big.Int).Neg(v)); !errors.Is(err, ErrRange) {
		t.Fatalf("negative big int: %v", err)
	}
	u, _ := Decode(AppendUint(nil, math.MaxUint64))
	if u != uint64(math.MaxUint64) {
		t.Fatalf("uint64: %#v", u)
	}
}

func TestDecodeTranscriptValues(t *testing.T) {
	// {'value': {'x': (1, 2)}, ...} from the transcript.
	b, _ := hex.DecodeString("81a178920102")
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Map{{Key: "x", Value: []any{int64(1), int64(2)}}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	out, err := Append(nil, v)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encode: %x %v", out, err)
	}
}

func TestRoundTrip(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	vals := []any{
		nil, true, false, int64(-5), int64(1000), uint64(1 << 63), big1, 1.5, "", "héllo",
		[]byte{0, 1, 255}, []any{}, []any{int64(1), "a", []any{nil}},
		Map{{Key: int64(1), Value: "x"}, {Key: []any{"a"}, Value: Map{}}},
		Ext{Type: 9, Data: []byte("abc")},
		string(make([]byte, 40)), string(make([]byte, 300)), string(make([]byte, 70000)),
		make([]byte, 300), make([]byte, 70000),
	}
	for _, v := range vals {
		b, err := Append(nil, v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if bi, ok := v.(*big.Int); ok {
			if back.(*big.Int).Cmp(bi) != 0 {
				t.Fatalf("big: %v", back)
			}
			continue
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("round trip %#v -> %#v", v, back)
		}
		r := NewReader(b)
		if err := r.Skip(); err != nil || r.Len() != 0 {
			t.Errorf("skip %x: %v, %d left", b, err, r.Len())
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		hex  string
		want error
	}{
		{"", ErrShort},
		{"c1", ErrInvalid},
		{"a3616263", nil},
		{"a361", ErrShort},
		{"92a161", ErrShort},
		{"dd7fffffff", ErrTooBig},
		{"df7fffffff00", ErrTooBig},
		{"c70502aa", ErrShort},
		{"a2c328", ErrUTF8},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		_, err := Decode(b)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected %v", c.hex, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.hex, err, c.want)
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v is not a *pack.Error", c.hex, err)
		}
	}
}

func TestSkipDeepNesting(t *testing.T) {
	b := bytes.Repeat([]byte{0x91}, 100000)
	b = append(b, 0xc0)
	r := NewReader(b)
	if err := r.Skip(); err != nil || r.Len() != 0 {
		t.Fatalf("skip: %v", err)
	}
	if _, err := Decode(b); !errors.Is(err, ErrDepth) {
		t.Fatalf("decode deep: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, h := range []string{"81a178920102", "c70902400000000000000005", "93c0c3cb3ff8000000000000", "dc0003010203"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	// Nesting beyond MaxDepth: arrays, maps, map keys.
	f.Add(append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0x01))
	f.Add(append(bytes.Repeat([]byte{0x81, 0x01}, 10000), 0x01))
	f.Add(append(bytes.Repeat([]byte{0x81}, MaxDepth+1), 0x01, 0x01))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		skipErr := r.Skip()
		v, err := NewReader(b).Decode()
		if skipErr != nil {
			return
		}
		if err != nil {
			// Decode checks more (UTF-8, depth, empty big int) than Skip.
			return
		}
		out, err := Append(nil, v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("decode of re-encoding %x: %v", out, err)
		}
		out2, _ := Append(nil, back)
		if !bytes.Equal(out, out2) {
			t.Fatalf("canonical encoding not stable: %x vs %x", out, out2)
		}
	})
}

func TestFoundByValueTests(t *testing.T) {
	if v, _ := Decode([]byte{0xd4, 0x02, 0x05}); v != int64(5) {
		t.Errorf("small ext 2: %#v", v)
	}
	if _, err := Append(nil, Ext{Type: ExtBigInt}); err == nil {
		t.Error("empty ext 2 encoded")
	}
	m := map[string]any{"b": 1, "a": 2, "c": 3}
	first, _ := Append(nil, m)
	for range 20 {
		if again, _ := Append(nil, m); !bytes.Equal(first, again) {
			t.Fatal("map encoding not stable")
		}
	}
}

func TestReadMap(t *testing.T) {
	b := AppendMapHeader(nil, 2)
	b = AppendInt(AppendString(b, "a"), 1)
	b = AppendBool(AppendString(b, "b"), true)
	r := NewReader(b)
	var keys []string
	err := r.ReadMap(func(k []byte) error {
		keys = append(keys, string(k))
		return r.Skip()
	})
	if err != nil || len(keys) != 2 || keys[0] != "a" || keys[1] != "b" || r.Len() != 0 {
		t.Fatalf("ReadMap: %v, %v, %d bytes left", keys, err, r.Len())
	}
	errStop := errors.New("stop")
	if err := NewReader(b).ReadMap(func([]byte) error { return errStop }); err != errStop {
		t.Errorf("each's error: %v", err)
	}
	for name, bad := range map[string][]byte{
		"not a map":        AppendArrayHeader(nil, 0),
		"a non-string key": AppendInt(AppendMapHeader(nil, 1), 1),
		"short":            AppendMapHeader(nil, 1),
	} {
		r := NewReader(bad)
		if err := r.ReadMap(func([]byte) error { return r.Skip() }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
