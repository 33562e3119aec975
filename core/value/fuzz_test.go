package value

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

func fuzzSeeds(f *testing.F) {
	for _, h := range []string{
		"c0", "c3", "05", "ff", "cc 05", "d3 8000000000000000", "cf ffffffffffffffff",
		"ca 3fc00000", "cb 7ff8000000000001", "a3 447568", "a2 c328", "c4 02 0001",
		"93 01 a161 c0", "82 a161 01 a162 92 01 02", "81 92 01 02 c3", "dc 0002 01 02",
		"c7 09 02 400000000000000005", "d4 02 05", "c7 00 02", "c7 03 03 a161 1f",
		"c7 04 03 81 a161 01", "d6 05 01020304", "c1", "01 02", "dd ffffffff 01",
		"82 a161 01 a2 fffe 02",
	} {
		f.Add(mustHex(f, h))
	}
	for _, v := range []any{
		pack.Map{kv("two", pack.Map{kv("three", pack.Map{kv("_", int64(123))})})},
		pack.Map{kv(nil, []byte("pw")), kv("null", "x"), kv([]any{int64(1)}, 1.5)},
		[]any{"multi\nline\n", " lead", "a: b", "123", math.Inf(-1), path.P("a.b:31")},
		pack.Ext{Type: 9, Data: []byte("xyz")},
	} {
		f.Add(mustEncode(f, v))
	}
	for _, s := range trickyStrings {
		f.Add(mustEncode(f, pack.Map{kv(s, []any{s})}))
	}
	f.Add(nested(pack.MaxDepth, []byte{0x90}))
	f.Add(nested(pack.MaxDepth+1, []byte{0x90}))
	f.Add(append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, pack.MaxDepth+1), 0xc0))
	f.Add(append(bytes.Repeat([]byte{0x81}, pack.MaxDepth+1), 0x01, 0x01))
	// Paths beyond the limits inside a value: 257 elements, a tuple
	// nested 40 deep.
	f.Add(append([]byte{0xc8, 0x02, 0x02, 0x03}, bytes.Repeat([]byte{0xa1, 'a'}, 257)...))
	f.Add(append(append([]byte{0xc7, 41, 0x03}, bytes.Repeat([]byte{0x91}, 40)...), 0x01))
}

// FuzzValidate checks that Validate accepts exactly what Decode accepts, and
// that what they accept encodes back to an Equal value.
func FuzzValidate(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		verr := Validate(data)
		v, derr := Decode(data)
		if (verr == nil) != (derr == nil) {
			t.Fatalf("Validate: %v, Decode: %v", verr, derr)
		}
		if verr != nil {
			var pe *pack.Error
			if !errors.As(verr, &pe) || pe.Off < 0 || pe.Off > len(data) {
				t.Fatalf("Validate error %v has no offset in the input", verr)
			}
			return
		}
		if _, err := pack.Decode(data); err != nil {
			t.Fatalf("pack.Decode refuses a valid value: %v", err)
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", v, err)
		}
		if !Equal(data, enc) || !Equal(enc, data) {
			t.Fatalf("Encode(Decode(%x)) = %x, not Equal", data, enc)
		}
		// Encoding is canonical except for map order, so a second round
		// gives the same bytes.
		v2, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if enc2, _ := Encode(v2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
		}
		// The comparison of values whose maps differ in order agrees.
		if !equalUnordered(data, enc) || !equalUnordered(enc, data) {
			t.Fatalf("equalUnordered(%x, %x) is false", data, enc)
		}
	})
}

// FuzzYAMLRoundTrip checks that every decodable value survives YAML and
// FromYAML.
func FuzzYAMLRoundTrip(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		text, err := YAML(v)
		if err != nil {
			t.Fatalf("YAML(%#v): %v", v, err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(text, &n); err != nil {
			t.Fatalf("yaml.v3 cannot read\n%s\n%v", text, err)
		}
		back, err := FromYAML(&n)
		if err != nil {
			t.Fatalf("FromYAML of\n%s\n%v", text, err)
		}
		enc, err := Encode(back)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", back, err)
		}
		if !Equal(data, enc) {
			t.Fatalf("%x went through\n%s\nand came back as %x (%#v)", data, text, enc, back)
		}
	})
}

// trickyStrings are strings at the edges of YAML's quoting and block rules.
var trickyStrings = []string{
	"", " ", "  x", "x ", "\t", "\tx\ny", "x\n\ty", "\r\n", "a\rb", "\u2028", "\u0085", "\ufeffx",
	"\n", "\nx", "x\n", "x\n\n", "x\n ", " \nx", "x\n y\n", "'", "\"", "\\", "# c", "a #c", "- x",
	"? x", ": x", "x:", "a: b", "[x]", "{x}", "&a", "*a", "!t", "%x", "@x", "`x", "|", ">", "---", "...",
	"null", "~", "<<", "=", "yes", "off", "0x1F", "0o7", "0b1", "0777", "08", "1_0", "1e5", ".5", "+1",
	"-1", "1:30", "2024-01-01", "2001-12-14t21:59:43.10-05:00", ".inf", "-.INF", ".NaN", "é\u00a0x",
	"\x00", "\x7f", "\U0001F600",
}

// FuzzYAMLString round-trips a string as a value, a map key, a list
// element, bytes and a path element, where byte-level fuzzing of msgpack
// rarely reaches.
func FuzzYAMLString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		p := path.Must(s, int64(1), []byte(s))
		for _, v := range []any{s, pack.Map{kv(s, s)}, []any{s, pack.Map{kv(s, []any{s})}}, pack.Map{kv([]any{s}, s)},
			[]byte(s), p, pack.Map{kv(p, p)}} {
			text, err := YAML(v)
			if err != nil {
				t.Fatalf("YAML(%#v): %v", v, err)
			}
			var n yaml.Node
			if err := yaml.Unmarshal(text, &n); err != nil {
				t.Fatalf("yaml.v3 cannot read\n%s\n%v", text, err)
			}
			back, err := FromYAML(&n)
			if err != nil {
				t.Fatalf("FromYAML of\n%s\n%v", text, err)
			}
			if !reflect.DeepEqual(back, v) {
				t.Fatalf("%#v went through\n%s\nand came back as %#v", v, text, back)
			}
		}
	})
}
