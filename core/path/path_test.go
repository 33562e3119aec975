package path

import (
	"bufio"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
)

// Where this project deliberately differs from the original's vectors
// (see DESIGN.md): a dot before a colon element is accepted, one-element
// tuples print as (x,), and only literals are evaluated.
var deviations = map[string]string{
	"a.:e":     "('a', '')",
	"p.:t":     "('p', True)",
	"a.:31":    "('a', 31)",
	"a.b.:e":   "('a', 'b', '')",
	"a.:(1,2)": "('a', (1, 2))",
	"a:2*3":    "ERROR",
	"a:b'x'":   "ERROR",
}

// pyElems parses the vector file's Python tuple of elements. Its syntax is
// that of our literals.
func pyElems(t *testing.T, s string) Path {
	t.Helper()
	v, err := literal.Parse(s)
	if err != nil {
		t.Fatalf("vector %q: %v", s, err)
	}
	elems, ok := v.([]any)
	if !ok {
		t.Fatalf("vector %q is not a tuple", s)
	}
	p, err := New(elems...)
	if err != nil {
		t.Fatalf("vector %q: %v", s, err)
	}
	return p
}

func readVectors(t *testing.T) (printed [][4]string, parsed [][2]string) {
	f, err := os.Open("testdata/path-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	section := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# Section") {
			section++
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" && section == 1 {
			continue
		}
		cols := strings.Split(line, "\t")
		switch {
		case section == 1 && len(cols) == 4:
			printed = append(printed, [4]string(cols))
		case section == 2 && len(cols) == 2:
			parsed = append(parsed, [2]string(cols))
		}
	}
	return printed, parsed
}

func TestVectorsPrintAndEncode(t *testing.T) {
	printed, _ := readVectors(t)
	if len(printed) < 40 {
		t.Fatalf("only %d vectors", len(printed))
	}
	for _, v := range printed {
		elems, text, hexEnc, note := v[0], v[1], v[2], v[3]
		p := pyElems(t, elems)
		want := text
		if note != "ok" { // ((1,),): we print the tuple so that it reads back
			want = ":(1,)"
		}
		if got := p.String(); got != want {
			t.Errorf("%s: String() = %q, want %q", elems, got, want)
		}
		if got := hex.EncodeToString(p.Append(nil)); got != hexEnc {
			t.Errorf("%s: msgpack %s, want %s", elems, got, hexEnc)
		}
		back, err := Parse(p.String())
		if err != nil || back != p {
			t.Errorf("%s: Parse(%q) = %v, %v", elems, p.String(), back, err)
		}
		raw, _ := hex.DecodeString(hexEnc)
		dec, err := Read(pack.NewReader(raw))
		if err != nil || dec != p {
			t.Errorf("%s: Read(%s) = %v, %v", elems, hexEnc, dec, err)
		}
	}
}

func TestVectorsParse(t *testing.T) {
	_, parsed := readVectors(t)
	if len(parsed) < 40 {
		t.Fatalf("only %d vectors", len(parsed))
	}
	for _, v := range parsed {
		text, want := v[0], v[1]
		if d, ok := deviations[text]; ok {
			want = d
		}
		p, err := Parse(text)
		if strings.HasPrefix(want, "ERROR") {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", text, p)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if w := pyElems(t, want); p != w {
			t.Errorf("Parse(%q) = %v, want %v", text, p, w)
		}
	}
}

func TestSyntaxErrorPositions(t *testing.T) {
	cases := map[string]int{
		".a": 0, "a.": 2, "a..b": 2, "a:": 2, "a:z": 1, "a:tb": 1, "ä..b": 2, "a.b:inf": 3, "x:{1:2}": 1,
	}
	for text, pos := range cases {
		_, err := Parse(text)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if se.Pos != pos {
			t.Errorf("Parse(%q): %v, want position %d", text, err, pos)
		}
	}
	if _, err := Parse(""); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
}

func TestOrder(t *testing.T) {
	big1, _ := new(big.Int).SetString("100000000000000000000", 10)
	elems := []any{nil, false, true, int64(-5), -4.5, int64(0), 0.0, 0.5, int64(1), uint64(1 << 63), big1, 1e30,
		"", "A", "a", "ab", "b", "é", []byte{}, []byte{0}, []byte("a"), []any{}, []any{int64(1)}, []any{int64(1), int64(0)}, []any{int64(2)}}
	var es []Elem
	for _, v := range elems {
		e, err := NewElem(v)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	for i := range es {
		for j := range es {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareElem(es[i], es[j]); got != want {
				t.Errorf("CompareElem(%v, %v) = %d, want %d", es[i], es[j], got, want)
			}
		}
	}
	paths := []Path{P("a.b.c"), P(":"), P("a"), P("a.b"), P("a:1"), P("b")}
	slices.SortFunc(paths, Compare)
	var got []string
	for _, p := range paths {
		got = append(got, p.String())
	}
	if want := []string{":", "a", "a:1", "a.b", "a.b.c", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sorted: %v", got)
	}
}

func TestOperations(t *testing.T) {
	p := P("a.b:31.c")
	if p.Len() != 4 || p.Parent() != P("a.b:31") || p.Last() != Str("c") {
		t.Fatalf("len/parent/last: %d %v %v", p.Len(), p.Parent(), p.Last())
	}
	if !p.HasPrefix(P("a.b")) || p.HasPrefix(P("a.bb")) || !p.HasPrefix(Root) {
		t.Fatal("HasPrefix")
	}
	rest, ok := p.TrimPrefix(P("a"))
	if !ok || rest != P("b:31.c") {
		t.Fatalf("TrimPrefix: %v", rest)
	}
	if p.Prefix(2) != P("a.b") || CommonPrefixLen(p, P("a.b.x")) != 2 {
		t.Fatal("Prefix/CommonPrefixLen")
	}
	e, r := p.Split()
	if e != Str("a") || r != P("b:31.c") {
		t.Fatal("Split")
	}
	if q, _ := FromArgs([]string{"monitor", "a", "b.c"}); q.Len() != 3 || q.Last() != Str("b.c") {
		t.Fatalf("FromArgs: %v", q)
	}
	// Non-canonical wire encodings are normalised: 31 as uint8, "a" as str8.
	raw, _ := hex.DecodeString("cc1fd90161")
	q, err := FromEncoded(raw)
	if err != nil || q != Must(int64(31), "a") {
		t.Fatalf("FromEncoded: %v %v", q, err)
	}
	for _, bad := range []string{"80", "cb7ff0000000000000", "c1", "a2c328", "d40901"} {
		raw, _ := hex.DecodeString(bad)
		if _, err := FromEncoded(raw); err == nil {
			t.Errorf("FromEncoded(%s) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a.b", ":", "a:31", ":n.x", "a:1:.5", ":vab", ":y00ff", ":1,2", ":(1,)", "a.:t", "x:'a:_b'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		text := p.String()
		back, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, its text %q does not parse: %v", s, p, text, err)
		}
		if back != p {
			t.Fatalf("round trip %q -> %q -> %#v", s, text, back)
		}
	})
}

func FuzzFromEncoded(f *testing.F) {
	for _, h := range []string{"a161a162", "c0c3", "920102", "c70902400000000000000005", "cb3ff8000000000000"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := FromEncoded(b)
		if err != nil {
			return
		}
		text := p.String()
		back, err := Parse(text)
		if err != nil || back != p {
			t.Fatalf("%x: text %q parses to %#v, %v", b, text, back, err)
		}
		q, err := FromEncoded([]byte(p.Encoded()))
		if err != nil || q != p {
			t.Fatalf("canonical form not stable: %x", b)
		}
	})
}
