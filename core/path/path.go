// Package path implements DistKV's hierarchical keys: a Path is a sequence
// of elements (strings, numbers, None, bools, bytes, tuples).
//
// # Representation
//
// A Path holds the canonical msgpack encodings of its elements, one after
// another: exactly the payload of msgpack ext type 3 on the wire. Because
// msgpack encodings are self-delimiting, a byte prefix of a path's encoding
// is a path prefix, and two paths are equal exactly when their encodings are.
// Paths are immutable values, comparable with == and usable as map keys.
// The zero Path is the root (the empty path).
//
// # Text form
//
// Elements are separated by '.'. In a string, ":." is a dot, "::" a colon
// and ":_" a space. Other elements start with a colon and need no dot
// before them: ":t" True, ":f" False, ":n" None, ":e" the empty string,
// ":31" or ":-2" an integer (also ":x1F" hex and ":b101" binary), ":1:.5" a
// float, ":vab" bytes given as ASCII, ":y00ff" bytes in hex, ":1,2" or
// ":(1,)" a tuple. A lone ":" is the root. So "a.b:.c:31" is ("a", "b.c",
// 31). A dot before a colon element is accepted too ("a.:31").
//
// # Order
//
// Compare orders paths element by element; CompareElem documents the order
// of elements. Listings use it, so they are stable across nodes.
//
// # Limits
//
// A path has at most MaxElems (256) elements and MaxBytes (64 KiB) of
// encoding; a tuple element nests at most 32 deep. Every way in from
// outside refuses longer ones with an error wrapping ErrTooLong: the
// decoders (Read, FromEncoded), Parse, New and Strings. Child and Join do
// not check (a program builds its own paths); Check tells whether a path
// built so is within the limits. Every walk and every change along a path
// costs work in its length, and a server holds its lock meanwhile.
package path

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/pack"
)

// Path is a sequence of elements. See the package documentation.
type Path struct{ enc string }

// The limits of a path (see the package documentation).
const (
	MaxElems = 256      // elements
	MaxBytes = 64 << 10 // bytes of the encoding: the payload of ext type 3
)

// ErrTooLong is the error of a path beyond MaxElems or MaxBytes.
var ErrTooLong = errors.New("path too long")

// tooManyElems is the error of a path of n elements (0: more than
// MaxElems, how many is not known).
func tooManyElems(n int) error {
	if n == 0 {
		return fmt.Errorf("%w: more than the limit of %d elements", ErrTooLong, MaxElems)
	}
	return fmt.Errorf("%w: %d elements, more than the limit of %d", ErrTooLong, n, MaxElems)
}

func tooManyBytes(n int) error {
	return fmt.Errorf("%w: %d bytes encoded, more than the limit of %d", ErrTooLong, n, MaxBytes)
}

// Check reports whether p is within MaxElems and MaxBytes; the error
// wraps ErrTooLong.
func (p Path) Check() error {
	if len(p.enc) > MaxBytes {
		return tooManyBytes(len(p.enc))
	}
	n := 0
	for rest := p.enc; rest != ""; rest = rest[elemLen(rest):] {
		if n++; n > MaxElems {
			return tooManyElems(p.Len())
		}
	}
	return nil
}

// Root is the empty path.
var Root Path

// New returns the path of the given elements (see NewElem for the types).
func New(elems ...any) (Path, error) {
	var b []byte
	for i, e := range elems {
		var err error
		if b, err = appendElem(b, e, 0); err != nil {
			return Root, fmt.Errorf("path element %d: %w", i, err)
		}
	}
	if len(elems) > MaxElems {
		return Root, tooManyElems(len(elems))
	}
	if len(b) > MaxBytes {
		return Root, tooManyBytes(len(b))
	}
	return Path{string(b)}, nil
}

// Must is New for arguments known to be good; it panics on error.
func Must(elems ...any) Path {
	p, err := New(elems...)
	if err != nil {
		panic(err)
	}
	return p
}

// P parses a path in text form and panics if it is malformed; for
// constants in programs and tests.
func P(text string) Path {
	p, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return p
}

// Strings returns the path of the given string elements.
func Strings(elems ...string) (Path, error) {
	if len(elems) > MaxElems {
		return Root, tooManyElems(len(elems))
	}
	n := 0
	for _, s := range elems {
		n += len(s) + 5
	}
	b := make([]byte, 0, n)
	for i, s := range elems {
		if !utf8.ValidString(s) {
			return Root, fmt.Errorf("path element %d: %w", i, pack.ErrUTF8)
		}
		b = pack.AppendString(b, s)
	}
	if len(b) > MaxBytes {
		return Root, tooManyBytes(len(b))
	}
	return Path{string(b)}, nil
}

// FromEncoded checks and canonicalises the msgpack encodings of elements
// given one after another (the payload of ext type 3). A path beyond the
// limits (MaxElems, MaxBytes of canonical encoding) is an error wrapping
// ErrTooLong; FromEncoded stops reading as soon as it knows.
func FromEncoded(enc []byte) (Path, error) {
	var stack [256]byte
	out := stack[:0]
	r := pack.NewReader(enc)
	for n := 1; r.Len() > 0; n++ {
		if n > MaxElems {
			return Root, tooManyElems(0)
		}
		at := r.Pos()
		var err error
		if out, err = canonElem(r, out, 0); err != nil {
			return Root, fmt.Errorf("path element at byte %d: %w", at, err)
		}
		if len(out) > MaxBytes {
			return Root, tooManyBytes(len(out))
		}
	}
	if string(out) == string(enc) {
		return Path{string(enc)}, nil
	}
	return Path{string(out)}, nil
}

// Read reads a path from r: msgpack ext type 3, or an array of elements
// (both are on the wire).
func Read(r *pack.Reader) (Path, error) {
	k, err := r.Peek()
	if err != nil {
		return Root, err
	}
	switch k {
	case pack.KindExt:
		at := r.Pos()
		typ, data, err := r.ReadExt()
		if err != nil {
			return Root, err
		}
		if typ != pack.ExtPath {
			return Root, fmt.Errorf("at byte %d: extension type %d is not a path", at, typ)
		}
		return FromEncoded(data)
	case pack.KindArray:
		at := r.Pos()
		n, err := r.ReadArrayHeader()
		if err != nil {
			return Root, err
		}
		if n > MaxElems {
			return Root, fmt.Errorf("at byte %d: %w", at, tooManyElems(n))
		}
		start := r.Pos()
		for range n {
			if err := r.Skip(); err != nil {
				return Root, err
			}
		}
		return FromEncoded(r.Since(start))
	}
	return Root, fmt.Errorf("at byte %d: a path must be an array or extension type 3, not a %s", r.Pos(), k)
}

// AppendMsgpack appends p as msgpack ext type 3.
func (p Path) AppendMsgpack(b []byte) ([]byte, error) {
	return p.Append(b), nil
}

// Append appends p as msgpack ext type 3.
func (p Path) Append(b []byte) []byte {
	b = pack.AppendExtHeader(b, pack.ExtPath, len(p.enc))
	return append(b, p.enc...)
}

// AppendArray appends p as a msgpack array of its elements.
func (p Path) AppendArray(b []byte) []byte {
	b = pack.AppendArrayHeader(b, p.Len())
	return append(b, p.enc...)
}

// Encoded returns the concatenated element encodings.
func (p Path) Encoded() string { return p.enc }

// IsRoot reports whether p is the empty path.
func (p Path) IsRoot() bool { return p.enc == "" }

// Elems iterates over the elements.
func (p Path) Elems() iter.Seq[Elem] {
	return func(yield func(Elem) bool) {
		for rest := p.enc; rest != ""; {
			n := elemLen(rest)
			if !yield(Elem{rest[:n]}) {
				return
			}
			rest = rest[n:]
		}
	}
}

// elemLen returns the length of the first element encoding in enc, which
// must be well-formed. It reads headers in place: copying the rest of a
// path to scan one element would make every walk along a path cost the
// square of its length.
func elemLen(enc string) int {
	c := enc[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1
	case c >= 0xa0 && c <= 0xbf:
		return 1 + int(c&0x1f)
	case c >= 0x90 && c <= 0x9f:
		return tupleLen(enc, 1, int(c&0x0f))
	}
	switch c {
	case 0xcc, 0xd0:
		return 2
	case 0xcd, 0xd1:
		return 3
	case 0xca, 0xce, 0xd2:
		return 5
	case 0xcb, 0xcf, 0xd3:
		return 9
	case 0xc4, 0xd9:
		return 2 + int(enc[1])
	case 0xc5, 0xda:
		return 3 + int(be16(enc[1:]))
	case 0xc6, 0xdb:
		return 5 + int(be32(enc[1:]))
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 2 + 1<<(c-0xd4)
	case 0xc7:
		return 3 + int(enc[1])
	case 0xc8:
		return 4 + int(be16(enc[1:]))
	case 0xc9:
		return 6 + int(be32(enc[1:]))
	case 0xdc:
		return tupleLen(enc, 3, int(be16(enc[1:])))
	case 0xdd:
		return tupleLen(enc, 5, int(be32(enc[1:])))
	}
	panic(fmt.Sprintf("path: corrupt encoding: type byte 0x%02x", c))
}

// tupleLen returns the length of a tuple of n elements after a header of
// hdr bytes (nesting is at most maxTupleDepth deep).
func tupleLen(enc string, hdr, n int) int {
	off := hdr
	for range n {
		off += elemLen(enc[off:])
	}
	return off
}

func be16(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }

func be32(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// Len returns the number of elements.
func (p Path) Len() int {
	n := 0
	for rest := p.enc; rest != ""; n++ {
		rest = rest[elemLen(rest):]
	}
	return n
}

// Split returns the first element and the rest of the path. For the root
// it returns an invalid Elem and the root.
func (p Path) Split() (Elem, Path) {
	if p.enc == "" {
		return Elem{}, Root
	}
	n := elemLen(p.enc)
	return Elem{p.enc[:n]}, Path{p.enc[n:]}
}

// Last returns the last element (invalid for the root).
func (p Path) Last() Elem {
	var last Elem
	for e := range p.Elems() {
		last = e
	}
	return last
}

// Parent returns p without its last element (the root for the root).
func (p Path) Parent() Path {
	if p.enc == "" {
		return Root
	}
	return Path{p.enc[:len(p.enc)-len(p.Last().enc)]}
}

// Prefix returns the first n elements of p.
func (p Path) Prefix(n int) Path {
	off := 0
	for i := 0; i < n && off < len(p.enc); i++ {
		off += elemLen(p.enc[off:])
	}
	return Path{p.enc[:off]}
}

// Child returns p with e appended.
func (p Path) Child(e Elem) Path { return Path{p.enc + e.enc} }

// Join returns p followed by q.
func (p Path) Join(q Path) Path { return Path{p.enc + q.enc} }

// HasPrefix reports whether q is a prefix of p (or equal to it).
func (p Path) HasPrefix(q Path) bool { return strings.HasPrefix(p.enc, q.enc) }

// TrimPrefix returns p without the prefix q, and whether q was a prefix.
func (p Path) TrimPrefix(q Path) (Path, bool) {
	if !strings.HasPrefix(p.enc, q.enc) {
		return p, false
	}
	return Path{p.enc[len(q.enc):]}, true
}

// CommonPrefixLen returns how many leading elements p and q share.
func CommonPrefixLen(p, q Path) int {
	n := 0
	a, b := p.enc, q.enc
	for a != "" && b != "" {
		la, lb := elemLen(a), elemLen(b)
		if la != lb || a[:la] != b[:lb] {
			break
		}
		a, b = a[la:], b[lb:]
		n++
	}
	return n
}

// Compare orders paths element by element; a prefix sorts first.
func Compare(p, q Path) int {
	a, b := p.enc, q.enc
	for a != "" && b != "" {
		la, lb := elemLen(a), elemLen(b)
		if c := CompareElem(Elem{a[:la]}, Elem{b[:lb]}); c != 0 {
			return c
		}
		a, b = a[la:], b[lb:]
	}
	return cmp.Compare(len(a), len(b))
}

// Values returns the elements decoded into the value model of package pack.
func (p Path) Values() []any {
	var v []any
	for e := range p.Elems() {
		v = append(v, e.Value())
	}
	return v
}

// String returns the text form (see the package documentation).
func (p Path) String() string {
	if p.enc == "" {
		return ":"
	}
	var sb strings.Builder
	first := true
	for e := range p.Elems() {
		if e.Kind() == String && e.enc != "\xa0" && !first {
			sb.WriteByte('.')
		}
		e.writeText(&sb)
		first = false
	}
	return sb.String()
}

// GoString shows the path for debugging: P("a.b").
func (p Path) GoString() string { return fmt.Sprintf("path.P(%q)", p.String()) }

// MarshalText implements encoding.TextMarshaler with the text form.
func (p Path) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (p *Path) UnmarshalText(b []byte) error {
	q, err := Parse(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ErrEmpty is returned by Parse for an empty string (the root is ":").
var ErrEmpty = errors.New(`the empty string is not a path (the root is ":")`)
