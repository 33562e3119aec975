package literal

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
)

func TestParse(t *testing.T) {
	big1, _ := new(big.Int).SetString("1180591620717411303424", 10)
	cases := []struct {
		in   string
		want any
	}{
		{"123", int64(123)},
		{"-2", int64(-2)},
		{"+7", int64(7)},
		{"0x10", int64(16)},
		{"0XfF", int64(255)},
		{"0o17", int64(15)},
		{"0b101", int64(5)},
		{"1_000", int64(1000)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		{"1180591620717411303424", big1},
		{"1.5", 1.5},
		{".5", 0.5},
		{"5.", 5.0},
		{"1e16", 1e16},
		{"1e+16", 1e16},
		{"-1.5e-7", -1.5e-7},
		{"1e999", math.Inf(1)},
		{"-inf", math.Inf(-1)},
		{"True", true},
		{"false", false},
		{"None", nil},
		{"nil", nil},
		{"'x'", "x"},
		{`"it's"`, "it's"},
		{`'a\nb\x41\u00e9'`, "a\nbA\u00e9"},
		{`r'a\nb'`, `a\nb`},
		{`b'ab'`, []byte("ab")},
		{`b'\x00\xff'`, []byte{0, 255}},
		{"()", []any{}},
		{"(1,)", []any{int64(1)}},
		{"(1)", int64(1)},
		{"1,2", []any{int64(1), int64(2)}},
		{"(1, 'a', None)", []any{int64(1), "a", nil}},
		{"[1, [2]]", []any{int64(1), []any{int64(2)}}},
		{"[]", []any{}},
		{"[3]", []any{int64(3)}},
		{"{}", pack.Map{}},
		{"{'a': 1, 2: [b'x']}", pack.Map{{Key: "a", Value: int64(1)}, {Key: int64(2), Value: []any{[]byte("x")}}}},
		{"{(1,2): 3}", pack.Map{{Key: []any{int64(1), int64(2)}, Value: int64(3)}}},
		{"  42  ", int64(42)},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if b, ok := c.want.(*big.Int); ok {
			if g, ok := got.(*big.Int); !ok || g.Cmp(b) != 0 {
				t.Errorf("Parse(%q) = %#v", c.in, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "empty input"},
		{"Duh", 0, "is a name"},
		{"infinity", 0, "is a name"},
		{"1+2", 1, "unexpected"},
		{"2*3", 1, "unexpected"},
		{"'abc", 0, "not closed"},
		{"(1,2", 4, "expected ')'"},
		{"{1 2}", 3, "expected ':'"},
		{"012", 0, "not a number"},
		{"0x", 0, "not a number"},
		{"1__0", 0, "not a number"},
		{"-", 0, "missing"},
		{"[1,", 3, "a value is missing"},
		{"é'", 0, "unexpected"},
		{strings.Repeat("[", 200), 100, "nested too deeply"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var le *Error
		if !errors.As(err, &le) {
			t.Errorf("Parse(%q): %v, want an *Error", c.in, err)
			continue
		}
		if le.Pos != c.pos || !strings.Contains(le.Msg, c.msg) {
			t.Errorf("Parse(%q): %v (pos %d), want %q at %d", c.in, err, le.Pos, c.msg, c.pos)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	cases := map[float64]string{
		1.5: "1.5", 1e6: "1000000.0", 1e16: "1e+16", 1e15: "1000000000000000.0", 1e-7: "1e-07",
		0.0001: "0.0001", 1e-5: "1e-05", 0: "0.0", math.Copysign(0, -1): "-0.0", -2.5: "-2.5",
		123456789012345678: "1.2345678901234568e+17", 0.1: "0.1", 1.0 / 3: "0.3333333333333333",
		math.Inf(1): "inf", 1e100: "1e+100",
	}
	for f, want := range cases {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	vals := []any{
		nil, true, false, int64(-3), uint64(math.MaxUint64), 2.5, 1e-300, "", "it's", `"q"`, "both ' and \"",
		"tab\there\x01\u2028", []byte{}, []byte("a'b\"c\\"), []byte{0, 0x7f, 0x80},
		[]any{}, []any{int64(1)}, []any{"a", []any{nil, 1.5}},
		pack.Map{{Key: "k", Value: []any{int64(1)}}},
	}
	for _, v := range vals {
		s := Format(v)
		back, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(Format(%#v) = %q): %v", v, s, err)
			continue
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("round trip %#v -> %q -> %#v", v, s, back)
		}
	}
	if got := Format([]any{int64(1), []any{int64(2)}}); got != "(1,(2,))" {
		t.Errorf("nested tuple: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "(1,2)", "{'a': [1, b'x']}", "0x1F", "1e+16", `'\u00e9'`, "True"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		out := Format(v)
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v; Format = %q does not parse: %v", s, v, out, err)
		}
		if Format(back) != out {
			t.Fatalf("Format not stable: %q -> %q", out, Format(back))
		}
	})
}
