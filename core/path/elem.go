package path

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
)

// Kind is the type of a path element.
type Kind uint8

// The kinds of elements, in the order in which they sort.
const (
	Nil Kind = iota
	Bool
	Number // integers and floats sort together, by value
	String
	Bytes
	Tuple
)

var kindNames = [...]string{"None", "bool", "number", "string", "bytes", "tuple"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Elem is one path element, held as its canonical msgpack encoding. The
// zero Elem is invalid; elements come from Str, NewElem or a Path.
// Elems are comparable with ==, which is equality of elements.
type Elem struct{ enc string }

// Errors for values that cannot be path elements.
var (
	ErrNotFinite = errors.New("infinities and NaN cannot be path elements")
	ErrElemType  = errors.New("only None, bools, numbers, strings, bytes and tuples can be path elements")
	ErrNegBig    = errors.New("integers below -2**63 cannot be path elements")
)

// maxTupleDepth bounds nesting of tuples inside an element.
const maxTupleDepth = 32

// Str returns the element for the string s. s must be valid UTF-8.
func Str(s string) Elem {
	b := make([]byte, 0, len(s)+5)
	return Elem{string(pack.AppendString(b, s))}
}

// NewElem returns the element for v: nil, a bool, an integer type,
// *big.Int, a finite float, a string, []byte, an Elem, or a tuple given as
// []any of these.
func NewElem(v any) (Elem, error) {
	b, err := appendElem(nil, v, 0)
	if err != nil {
		return Elem{}, err
	}
	return Elem{string(b)}, nil
}

func appendElem(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxTupleDepth {
		return b, errors.New("tuples nested too deeply")
	}
	switch v := v.(type) {
	case Elem:
		return append(b, v.enc...), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return b, ErrNotFinite
		}
		return pack.AppendFloat(b, v), nil
	case float32:
		return appendElem(b, float64(v), depth)
	case string:
		if !utf8.ValidString(v) {
			return b, pack.ErrUTF8
		}
		return pack.AppendString(b, v), nil
	case *big.Int:
		nb, err := pack.AppendBigInt(b, v)
		if err != nil {
			return b, ErrNegBig
		}
		return nb, nil
	case []any:
		b = pack.AppendArrayHeader(b, len(v))
		var err error
		for _, e := range v {
			if b, err = appendElem(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, []byte:
		return pack.Append(b, v)
	}
	return b, fmt.Errorf("%w, not %T", ErrElemType, v)
}

// Encoded returns the canonical msgpack encoding of e.
func (e Elem) Encoded() string { return e.enc }

// IsValid reports whether e is an element (not the zero Elem).
func (e Elem) IsValid() bool { return e.enc != "" }

// Kind returns the element's kind.
func (e Elem) Kind() Kind {
	if e.enc == "" {
		return Nil
	}
	return kindOfByte(e.enc[0])
}

func kindOfByte(c byte) Kind {
	switch {
	case c <= 0x7f || c >= 0xe0:
		return Number
	case c >= 0x90 && c <= 0x9f:
		return Tuple
	case c >= 0xa0 && c <= 0xbf:
		return String
	}
	switch c {
	case 0xc0:
		return Nil
	case 0xc2, 0xc3:
		return Bool
	case 0xc4, 0xc5, 0xc6:
		return Bytes
	case 0xd9, 0xda, 0xdb:
		return String
	case 0xdc, 0xdd:
		return Tuple
	}
	return Number // ints, floats and ext 2
}

// Value decodes e into the value model of package pack (a tuple is []any).
func (e Elem) Value() any {
	v, err := pack.Decode([]byte(e.enc))
	if err != nil {
		panic("path: corrupt element encoding: " + err.Error())
	}
	return v
}

// StrValue returns the string of a String element.
func (e Elem) StrValue() (string, bool) {
	if e.Kind() != String {
		return "", false
	}
	r := pack.NewReader([]byte(e.enc))
	s, err := r.ReadStrBytes()
	return string(s), err == nil
}

// String returns the element's text form, as it appears in a path after
// the first element (a string element without its separating dot).
func (e Elem) String() string {
	var sb strings.Builder
	e.writeText(&sb)
	return sb.String()
}

// writeText writes e's text form: escaped text for a non-empty string,
// else a colon form.
func (e Elem) writeText(sb *strings.Builder) {
	switch v := e.Value().(type) {
	case nil:
		sb.WriteString(":n")
	case bool:
		if v {
			sb.WriteString(":t")
		} else {
			sb.WriteString(":f")
		}
	case string:
		if v == "" {
			sb.WriteString(":e")
		} else {
			escape(sb, v)
		}
	case []byte:
		if printableASCII(v) {
			sb.WriteString(":v")
			escape(sb, string(v))
		} else {
			sb.WriteString(":y")
			sb.WriteString(hex.EncodeToString(v))
		}
	case []any:
		sb.WriteByte(':')
		switch len(v) {
		case 0:
			sb.WriteString("()")
		case 1:
			escape(sb, "("+literal.FormatTupleItems(v)+",)")
		default:
			items := literal.FormatTupleItems(v)
			if items[0] >= 'a' && items[0] <= 'z' {
				// A bytes literal first (b'…'): bare, ":b" would read as
				// a base-2 number.
				items = "(" + items + ")"
			}
			escape(sb, items)
		}
	default: // numbers
		sb.WriteByte(':')
		escape(sb, literal.Format(v))
	}
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// escape writes s with '.', ':' and ' ' escaped.
func escape(sb *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ':':
			sb.WriteString("::")
		case '.':
			sb.WriteString(":.")
		case ' ':
			sb.WriteString(":_")
		default:
			sb.WriteByte(c)
		}
	}
}

// canonElem reads one element from r and appends its canonical encoding.
func canonElem(r *pack.Reader, out []byte, depth int) ([]byte, error) {
	if depth > maxTupleDepth {
		return out, errors.New("tuples nested too deeply")
	}
	k, err := r.Peek()
	if err != nil {
		return out, err
	}
	switch k {
	case pack.KindNil:
		r.TryNil()
		return pack.AppendNil(out), nil
	case pack.KindBool:
		v, _ := r.ReadBool()
		return pack.AppendBool(out, v), nil
	case pack.KindInt:
		at := r.Pos()
		if i, err := r.ReadInt(); err == nil {
			return pack.AppendInt(out, i), nil
		}
		u, err := r.ReadUint()
		if err != nil {
			return out, fmt.Errorf("at byte %d: %w", at, err)
		}
		return pack.AppendUint(out, u), nil
	case pack.KindFloat:
		f, err := r.ReadFloat()
		if err != nil {
			return out, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return out, ErrNotFinite
		}
		return pack.AppendFloat(out, f), nil
	case pack.KindStr:
		s, err := r.ReadStrBytes()
		if err != nil {
			return out, err
		}
		return pack.AppendStringBytes(out, s), nil
	case pack.KindBin:
		b, err := r.ReadBin()
		if err != nil {
			return out, err
		}
		return pack.AppendBytes(out, b), nil
	case pack.KindArray:
		n, err := r.ReadArrayHeader()
		if err != nil {
			return out, err
		}
		out = pack.AppendArrayHeader(out, n)
		for range n {
			if out, err = canonElem(r, out, depth+1); err != nil {
				return out, err
			}
		}
		return out, nil
	case pack.KindExt:
		typ, data, err := r.ReadExt()
		if err != nil {
			return out, err
		}
		if typ != pack.ExtBigInt || len(data) == 0 {
			return out, fmt.Errorf("%w, not extension type %d", ErrElemType, typ)
		}
		nb, _ := pack.AppendBigInt(out, new(big.Int).SetBytes(data))
		return nb, nil
	}
	return out, fmt.Errorf("%w, not a %s", ErrElemType, k)
}

// CompareElem orders elements: None, then False, True, then numbers by
// value (an integer before an equal float), then strings by code point,
// bytes bytewise, and tuples element by element (a shorter prefix first).
// It returns -1, 0 or +1.
func CompareElem(a, b Elem) int {
	if a.enc == b.enc {
		return 0
	}
	ka, kb := a.Kind(), b.Kind()
	if ka != kb {
		if ka < kb {
			return -1
		}
		return 1
	}
	switch ka {
	case String:
		return strings.Compare(payload(a.enc), payload(b.enc))
	case Bytes:
		return strings.Compare(payload(a.enc), payload(b.enc))
	case Bool:
		return strings.Compare(a.enc, b.enc) // 0xc2 false < 0xc3 true
	case Number:
		return compareNumbers(a.Value(), b.Value())
	case Tuple:
		ta, tb := a.Value().([]any), b.Value().([]any)
		for i := 0; i < len(ta) && i < len(tb); i++ {
			ea, _ := NewElem(ta[i])
			eb, _ := NewElem(tb[i])
			if c := CompareElem(ea, eb); c != 0 {
				return c
			}
		}
		return cmpInt(len(ta), len(tb))
	}
	return 0
}

// payload returns the data of a str or bin encoding, without its header.
func payload(enc string) string {
	c := enc[0]
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return enc[1:]
	case c == 0xd9 || c == 0xc4:
		return enc[2:]
	case c == 0xda || c == 0xc5:
		return enc[3:]
	default:
		return enc[5:]
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareNumbers(a, b any) int {
	fa, aIsFloat := a.(float64)
	fb, bIsFloat := b.(float64)
	if aIsFloat && bIsFloat {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	c := toBigFloat(a).Cmp(toBigFloat(b))
	if c != 0 {
		return c
	}
	// Equal values: the integer first.
	switch {
	case aIsFloat && !bIsFloat:
		return 1
	case bIsFloat && !aIsFloat:
		return -1
	}
	return 0
}

func toBigFloat(v any) *big.Float {
	f := new(big.Float).SetPrec(1024)
	switch v := v.(type) {
	case int64:
		f.SetInt64(v)
	case uint64:
		f.SetUint64(v)
	case *big.Int:
		f.SetInt(v)
	case float64:
		f.SetFloat64(v)
	}
	return f
}

// parseTyped reads the text of a colon element (without the colon, with
// escapes already resolved).
func parseTyped(t string) (any, error) {
	switch t {
	case "t":
		return true, nil
	case "f":
		return false, nil
	case "n":
		return nil, nil
	case "e":
		return "", nil
	}
	switch t[0] {
	case 'x', 'b':
		base := 16
		if t[0] == 'b' {
			base = 2
		}
		digits := strings.ReplaceAll(t[1:], "_", "")
		n, ok := new(big.Int).SetString(digits, base)
		if !ok || digits == "" || strings.ContainsAny(digits, "+-") {
			return nil, fmt.Errorf("%q is not a base-%d number", t[1:], base)
		}
		return literal.Int(n), nil
	case 'v':
		return []byte(t[1:]), nil
	case 'y':
		b, err := hex.DecodeString(t[1:])
		if err != nil {
			return nil, fmt.Errorf("%q is not hex bytes", t[1:])
		}
		return b, nil
	}
	v, err := literal.Parse(t)
	if err != nil {
		var le *literal.Error
		if errors.As(err, &le) {
			return nil, fmt.Errorf("cannot evaluate %q: %s", t, le.Msg)
		}
		return nil, err
	}
	if _, ok := v.(pack.Map); ok {
		return nil, fmt.Errorf("%w, not a map", ErrElemType)
	}
	return v, nil
}

// ElemFromEncoded wraps the canonical encoding of one element, as taken
// from Elem.Encoded or a Path. It does not check enc: a store that keeps
// element encodings uses it to hand them back out.
func ElemFromEncoded(enc string) Elem { return Elem{enc} }
