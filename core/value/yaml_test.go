package value

import (
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// entry builds the nested form of `data get -rd_`: the value under "_",
// then the children.
func entry(v any, children ...pack.KV) pack.Map {
	m := pack.Map{}
	if v != nil {
		m = append(m, pack.KV{Key: "_", Value: v})
	}
	return append(m, children...)
}

func kv(k, v any) pack.KV { return pack.KV{Key: k, Value: v} }

func mustYAML(t testing.TB, v any) string {
	t.Helper()
	b, err := YAML(v)
	if err != nil {
		t.Fatalf("YAML(%#v): %v", v, err)
	}
	return string(b)
}

// The tutorial's outputs, byte for byte.
func TestYAMLTutorial(t *testing.T) {
	pw, err := base64.StdEncoding.DecodeString("7NcYcNGWMxapfjrDQIyYNa2M8PPBvHA1J8MCZVNPda4=")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"dkd get -rd_ one", pack.Map{
			kv("two", entry(nil, kv("three", entry(int64(123),
				kv("four", entry(int64(1234),
					kv("five", entry("Duh"))))))))},
			`two:
  three:
    _: 123
    four:
      _: 1234
      five:
        _: Duh
`},
		{"internal dump", pack.Map{
			kv(nil, entry(nil, kv("auth", entry(pack.Map{kv("current", "password")},
				kv("password", entry(nil, kv("user", entry(nil,
					kv("joe", entry(pack.Map{kv("_aux", nil), kv("password", pw)}))))))))))},
			`null:
  auth:
    _:
      current: password
    password:
      user:
        joe:
          _:
            _aux: null
            password: !!binary |
              7NcYcNGWMxapfjrDQIyYNa2M8PPBvHA1J8MCZVNPda4=
`},
		{"the string null as a key", pack.Map{kv("null", entry(nil, kv("foo", entry("bar"))))},
			`'null':
  foo:
    _: bar
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustYAML(t, c.v); got != c.want {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
			roundTrip(t, c.v)
		})
	}
}

func TestTop(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{"Duh", `"Duh"`},
		{"Root", `"Root"`},
		{"tab\tquote\"é\x00", `"tab\tquote\"é\x00"`},
		{int64(123), "123"},
		{int64(-5), "-5"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{bigInt(t, "1180591620717411303429"), "1180591620717411303429"},
		{1.5, "1.5"},
		{1e16, "1e+16"},
		{1000000.0, "1000000.0"},
		{math.Inf(1), "inf"},
		{true, "true"},
		{false, "false"},
		{nil, "null"},
		{pack.Map{kv("a", int64(1)), kv("b", []any{"x", 2.0})}, "a: 1\nb:\n  - x\n  - 2.0"},
		{[]any{}, "[]"},
		{[]byte("hi"), "!!binary |\n  aGk="},
		{path.P("a.b:31"), "!P a.b:31"},
		{pack.Ext{Type: 5, Data: []byte{1, 2, 3}}, "!ext 5 AQID"},
	}
	for _, c := range cases {
		if got := Top(c.v); got != c.want {
			t.Errorf("Top(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := Top(struct{}{}); !strings.HasPrefix(got, "!error ") {
		t.Errorf("Top of a Go struct = %q", got)
	}
}

func TestYAMLScalars(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{"null", "'null'"},
		{"", "''"},
		{"123", "'123'"},
		{"1.5", "'1.5'"},
		{"1e5", "'1e5'"},
		{"0x1F", "'0x1F'"},
		{"1_000", "'1_000'"},
		{"true", "'true'"},
		{"yes", "'yes'"},
		{"~", "'~'"},
		{".inf", "'.inf'"},
		{"2024-01-01", "'2024-01-01'"},
		{"1:30", "'1:30'"},
		{"123456789012345678901234567890", "'123456789012345678901234567890'"},
		{"1st", "1st"},
		{"a: b", "'a: b'"},
		{"- x", "'- x'"},
		{" lead", "' lead'"},
		{"\x01", `"\x01"`},
		{"multi\nline\n", "|\n  multi\n  line"},
		{int64(-7), "-7"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{bigInt(t, "123456789012345678901234567890"), "!!int 123456789012345678901234567890"},
		{1.0, "1.0"},
		{-0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1e16, "1e+16"},
		{1e-7, "1e-07"},
		{0.1, "0.1"},
		{math.Inf(1), ".inf"},
		{math.Inf(-1), "-.inf"},
		{math.NaN(), ".nan"},
		{[]byte{}, "!!binary"},
		{path.Root, "!P ':'"},
		{path.P("wom.#"), "!P wom.#"},
		{pack.Ext{Type: -1}, "!ext -1"},
		{nil, "null"},
		{false, "false"},
	}
	for _, c := range cases {
		got := strings.TrimSuffix(mustYAML(t, c.v), "\n")
		if got != c.want {
			t.Errorf("YAML(%#v) = %q, want %q", c.v, got, c.want)
		}
		roundTrip(t, c.v)
	}
}

func TestYAMLKeys(t *testing.T) {
	m := pack.Map{
		kv(nil, int64(1)),
		kv("null", int64(2)),
		kv(int64(3), int64(3)),
		kv(1.5, int64(4)),
		kv(true, int64(5)),
		kv([]any{int64(1), "a"}, int64(6)),
		kv(pack.Map{kv("k", []any{})}, int64(7)),
		kv([]byte("ab"), int64(8)),
		kv(path.P("a.b"), int64(9)),
		kv("123", int64(10)),
		kv(strings.Repeat("long", 40), int64(11)),
		kv("two\nlines", int64(12)),
	}
	want := `null: 1
'null': 2
3: 3
1.5: 4
true: 5
? [1, a]
: 6
? {k: []}
: 7
!!binary YWI=: 8
!P a.b: 9
'123': 10
? ` + strings.Repeat("long", 40) + `
: 11
? |-
  two
  lines
: 12
`
	if got := mustYAML(t, m); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	roundTrip(t, m)
}

func TestYAMLLists(t *testing.T) {
	v := []any{int64(1), []any{int64(2), int64(3)}, pack.Map{kv("x", nil), kv("y", []any{"z"})}, pack.Map{}}
	want := `- 1
- - 2
  - 3
- x: null
  y:
    - z
- {}
`
	if got := mustYAML(t, v); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	roundTrip(t, v)
}

func TestYAMLLongBinary(t *testing.T) {
	b := make([]byte, 100)
	for i := range b {
		b[i] = byte(i)
	}
	got := mustYAML(t, pack.Map{kv("b", b)})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 || lines[0] != "b: !!binary |" || len(lines[1]) != 2+76 || len(lines[2]) != 2+136-76 {
		t.Errorf("got\n%s", got)
	}
	roundTrip(t, pack.Map{kv("b", b)})
}

func TestYAMLErrors(t *testing.T) {
	for _, v := range []any{
		"\xff",
		struct{}{},
		pack.Map{kv("a", []any{make(chan int)})},
		nestedValue(pack.MaxDepth + 1),
	} {
		if _, err := YAML(v); err == nil {
			t.Errorf("YAML(%#v) succeeded", v)
		}
	}
}

// parseYAML parses one YAML document into a node.
func parseYAML(t testing.TB, text string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatalf("yaml %q: %v", text, err)
	}
	return &n
}

// roundTrip checks that FromYAML(parse(YAML(v))) equals v.
func roundTrip(t testing.TB, v any) {
	t.Helper()
	text := mustYAML(t, v)
	back, err := FromYAML(parseYAML(t, text))
	if err != nil {
		t.Fatalf("FromYAML of\n%s: %v", text, err)
	}
	if !Equal(mustEncode(t, v), mustEncode(t, back)) {
		t.Fatalf("round trip of %#v through\n%s gave %#v", v, text, back)
	}
}

func TestFromYAML(t *testing.T) {
	cases := []struct {
		text string
		want any
	}{
		{"123", int64(123)},
		{"-123", int64(-123)},
		{"0x1F", int64(31)},
		{"0o17", int64(15)},
		{"0b101", int64(5)},
		{"1_000", int64(1000)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		{"123456789012345678901234567890", bigInt(t, "123456789012345678901234567890")},
		{"!!int 123456789012345678901234567890", bigInt(t, "123456789012345678901234567890")},
		{"!!int '7'", int64(7)},
		{"1.5", 1.5},
		{"1.0", 1.0},
		{"1e+16", 1e16},
		{"08", 8.0},
		{"!!float 3", 3.0},
		{".inf", math.Inf(1)},
		{"-.Inf", math.Inf(-1)},
		{"'123'", "123"},
		{"\"1.0\"", "1.0"},
		{"!!str 12", "12"},
		{"Duh", "Duh"},
		{"2024-01-01", "2024-01-01"},
		{"true", true},
		{"False", false},
		{"!!bool yes", true},
		{"null", nil},
		{"~", nil},
		{"", nil},
		{"!!binary aGk=", []byte("hi")},
		{"!!binary |\n  aG\n  k=\n", []byte("hi")},
		{"!!binary aGk", []byte("hi")},
		{"!P a.b:31", path.Must("a", "b", 31)},
		{"!P [a, 31, null]", path.Must("a", 31, nil)},
		{"!ext 5 AQID", pack.Ext{Type: 5, Data: []byte{1, 2, 3}}},
		{"!ext 2 BQ==", int64(5)},
		{"!ext 3 oWEf", path.Must("a", 31)},
		{"[1, 'a', [b]]", []any{int64(1), "a", []any{"b"}}},
		{"b: 1\na: 2\n", pack.Map{kv("b", int64(1)), kv("a", int64(2))}},
		{"? [1, 2]\n: x\nnull: y\n1.5: z\n", pack.Map{kv([]any{int64(1), int64(2)}, "x"), kv(nil, "y"), kv(1.5, "z")}},
		{"a: &x [1, 2]\nb: *x\n", pack.Map{kv("a", []any{int64(1), int64(2)}), kv("b", []any{int64(1), int64(2)})}},
		{"<<: 1", pack.Map{kv("<<", int64(1))}},
	}
	for _, c := range cases {
		got, err := FromYAML(parseYAML(t, c.text))
		if err != nil {
			t.Errorf("FromYAML(%q): %v", c.text, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("FromYAML(%q) = %#v, want %#v", c.text, got, c.want)
		}
	}
}

func TestFromYAMLErrors(t *testing.T) {
	cases := []struct {
		text       string
		line, col  int
		want       error
		wantInText string
	}{
		{"a: !foo x", 1, 4, ErrYAMLTag, "!foo"},
		{"a:\n  - !!int abc", 2, 5, ErrYAMLValue, "abc"},
		{"- -99999999999999999999", 1, 3, ErrYAMLValue, "-2**63"},
		{"x: !!bool maybe", 1, 4, ErrYAMLValue, "maybe"},
		{"x: !!binary '#'", 1, 4, ErrYAMLValue, "binary"},
		{"!P a..b", 1, 1, nil, "empty element"},
		{"!P [{a: 1}]", 1, 1, path.ErrElemType, ""},
		{"!ext x AAAA", 1, 1, ErrYAMLValue, "type"},
		{"!ext 3 gQEC", 1, 1, ErrPath, ""},
		{"!ext 2", 1, 1, ErrBigInt, ""},
		{"!!set {a: null}", 1, 1, ErrYAMLTag, "!!set"},
		{"!P {a: 1}", 1, 1, ErrYAMLTag, "mapping"},
	}
	for _, c := range cases {
		_, err := FromYAML(parseYAML(t, c.text))
		var ye *YAMLError
		if !errors.As(err, &ye) {
			t.Errorf("FromYAML(%q) = %v, want a *YAMLError", c.text, err)
			continue
		}
		if ye.Line != c.line || ye.Column != c.col || c.want != nil && !errors.Is(err, c.want) ||
			!strings.Contains(err.Error(), c.wantInText) {
			t.Errorf("FromYAML(%q) = %v, want %v at line %d, column %d", c.text, err, c.want, c.line, c.col)
		}
	}
}

func TestFromYAMLAliasBomb(t *testing.T) {
	text := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		text += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	_, err := FromYAML(parseYAML(t, text))
	if !errors.Is(err, ErrYAMLAliases) {
		t.Fatalf("got %v", err)
	}
}

func TestFromYAMLDepth(t *testing.T) {
	// The same limit as for msgpack: an empty list may sit at MaxDepth.
	text := strings.Repeat("[", pack.MaxDepth+2) + strings.Repeat("]", pack.MaxDepth+2)
	if _, err := FromYAML(parseYAML(t, text)); !errors.Is(err, pack.ErrDepth) {
		t.Fatalf("got %v", err)
	}
	text = strings.Repeat("[", pack.MaxDepth+1) + strings.Repeat("]", pack.MaxDepth+1)
	if _, err := FromYAML(parseYAML(t, text)); err != nil {
		t.Fatalf("got %v", err)
	}
}

// A {path, value} record stream, as `data update` reads it.
func TestFromYAMLStream(t *testing.T) {
	text := "path: !P a.b\nvalue: 1\n---\npath: !P a.c\nvalue: !!binary aGk=\n"
	dec := yaml.NewDecoder(strings.NewReader(text))
	var got []any
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			break
		}
		v, err := FromYAML(&n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	want := []any{
		pack.Map{kv("path", path.P("a.b")), kv("value", int64(1))},
		pack.Map{kv("path", path.P("a.c")), kv("value", []byte("hi"))},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}
