package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Errors a Reader reports, wrapped in *Error with the offset.
var (
	ErrShort   = errors.New("msgpack data ends inside a value")
	ErrInvalid = errors.New("invalid msgpack type byte 0xc1")
	ErrRange   = errors.New("integer out of range")
	ErrUTF8    = errors.New("string is not valid UTF-8")
	ErrTooBig  = errors.New("msgpack length exceeds the input")
	ErrBigInt  = errors.New("empty big integer (extension type 2)")
)

// Error is a problem at a byte offset of the input.
type Error struct {
	Off int
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("at byte %d: %v", e.Off, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// TypeError says that the value at an offset has the wrong kind.
type TypeError struct {
	Want string
	Got  Kind
}

func (e *TypeError) Error() string { return fmt.Sprintf("expected %s, found %s", e.Want, e.Got) }

// Kind is the broad type of a msgpack value.
type Kind uint8

// The kinds of msgpack values.
const (
	KindInvalid Kind = iota
	KindNil
	KindBool
	KindInt // any integer encoding; the value decides int64 or uint64
	KindFloat
	KindStr
	KindBin
	KindArray
	KindMap
	KindExt
)

var kindNames = [...]string{"invalid", "nil", "bool", "integer", "float", "string", "bytes", "array", "map", "extension"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// kindOf tells the kind a type byte starts.
func kindOf(c byte) Kind {
	switch {
	case c <= 0x7f || c >= 0xe0:
		return KindInt
	case c <= 0x8f:
		return KindMap
	case c <= 0x9f:
		return KindArray
	case c <= 0xbf:
		return KindStr
	}
	switch c {
	case 0xc0:
		return KindNil
	case 0xc2, 0xc3:
		return KindBool
	case 0xc4, 0xc5, 0xc6:
		return KindBin
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return KindExt
	case 0xca, 0xcb:
		return KindFloat
	case 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3:
		return KindInt
	case 0xd9, 0xda, 0xdb:
		return KindStr
	case 0xdc, 0xdd:
		return KindArray
	case 0xde, 0xdf:
		return KindMap
	}
	return KindInvalid
}

// Reader scans msgpack values from a byte slice. Values it returns as
// slices or strings share or copy memory as each method says. A Reader is
// not safe for concurrent use.
type Reader struct {
	buf []byte
	pos int
}

// NewReader returns a Reader positioned at the start of b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Reset makes r read b from its start.
func (r *Reader) Reset(b []byte) { r.buf, r.pos = b, 0 }

// Pos is the offset of the next unread byte.
func (r *Reader) Pos() int { return r.pos }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.buf) - r.pos }

// Since returns the bytes from offset start to the current position (shared).
func (r *Reader) Since(start int) []byte { return r.buf[start:r.pos] }

// Rest returns the unread bytes (shared).
func (r *Reader) Rest() []byte { return r.buf[r.pos:] }

func (r *Reader) fail(off int, err error) error { return &Error{Off: off, Err: err} }

func (r *Reader) typeErr(want string) error {
	k := KindInvalid
	if r.pos < len(r.buf) {
		k = kindOf(r.buf[r.pos])
	}
	return r.fail(r.pos, &TypeError{Want: want, Got: k})
}

// Peek tells the kind of the next value without consuming it.
func (r *Reader) Peek() (Kind, error) {
	if r.pos >= len(r.buf) {
		return KindInvalid, r.fail(r.pos, ErrShort)
	}
	k := kindOf(r.buf[r.pos])
	if k == KindInvalid {
		return k, r.fail(r.pos, ErrInvalid)
	}
	return k, nil
}

// need checks that n bytes follow the offset at.
func (r *Reader) need(at, n int) error {
	if n < 0 || len(r.buf)-at < n {
		return r.fail(r.pos, ErrShort)
	}
	return nil
}

// uintN reads a big-endian unsigned number of size bytes at r.pos+1.
func (r *Reader) uintN(size int) (uint64, error) {
	if err := r.need(r.pos+1, size); err != nil {
		return 0, err
	}
	p := r.buf[r.pos+1:]
	switch size {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// ReadNil consumes a nil.
func (r *Reader) ReadNil() error {
	if r.pos < len(r.buf) && r.buf[r.pos] == 0xc0 {
		r.pos++
		return nil
	}
	return r.typeErr("nil")
}

// TryNil consumes a nil if one is next and reports whether it did.
func (r *Reader) TryNil() bool {
	if r.pos < len(r.buf) && r.buf[r.pos] == 0xc0 {
		r.pos++
		return true
	}
	return false
}

// ReadBool consumes a bool.
func (r *Reader) ReadBool() (bool, error) {
	if r.pos < len(r.buf) {
		switch r.buf[r.pos] {
		case 0xc2:
			r.pos++
			return false, nil
		case 0xc3:
			r.pos++
			return true, nil
		}
	}
	return false, r.typeErr("bool")
}

// readInteger reads any integer encoding. neg tells whether the value is
// negative (then it is in i) or not (then it is in u).
func (r *Reader) readInteger() (i int64, u uint64, neg bool, err error) {
	if r.pos >= len(r.buf) {
		return 0, 0, false, r.fail(r.pos, ErrShort)
	}
	c := r.buf[r.pos]
	switch {
	case c <= 0x7f:
		r.pos++
		return 0, uint64(c), false, nil
	case c >= 0xe0:
		r.pos++
		return int64(int8(c)), 0, true, nil
	}
	var size int
	signed := false
	switch c {
	case 0xcc:
		size = 1
	case 0xcd:
		size = 2
	case 0xce:
		size = 4
	case 0xcf:
		size = 8
	case 0xd0:
		size, signed = 1, true
	case 0xd1:
		size, signed = 2, true
	case 0xd2:
		size, signed = 4, true
	case 0xd3:
		size, signed = 8, true
	default:
		return 0, 0, false, r.typeErr("integer")
	}
	v, err := r.uintN(size)
	if err != nil {
		return 0, 0, false, err
	}
	r.pos += 1 + size
	if !signed {
		return 0, v, false, nil
	}
	switch size {
	case 1:
		i = int64(int8(v))
	case 2:
		i = int64(int16(v))
	case 4:
		i = int64(int32(v))
	default:
		i = int64(v)
	}
	if i >= 0 {
		return 0, uint64(i), false, nil
	}
	return i, 0, true, nil
}

// ReadInt consumes an integer that fits int64.
func (r *Reader) ReadInt() (int64, error) {
	start := r.pos
	i, u, neg, err := r.readInteger()
	if err != nil {
		return 0, err
	}
	if neg {
		return i, nil
	}
	if u > math.MaxInt64 {
		r.pos = start
		return 0, r.fail(start, ErrRange)
	}
	return int64(u), nil
}

// ReadUint consumes a non-negative integer.
func (r *Reader) ReadUint() (uint64, error) {
	start := r.pos
	_, u, neg, err := r.readInteger()
	if err != nil {
		return 0, err
	}
	if neg {
		r.pos = start
		return 0, r.fail(start, ErrRange)
	}
	return u, nil
}

// ReadFloat consumes a float (32 or 64 bits). Integers are not accepted:
// callers that take both should Peek first.
func (r *Reader) ReadFloat() (float64, error) {
	if r.pos < len(r.buf) {
		switch r.buf[r.pos] {
		case 0xca:
			v, err := r.uintN(4)
			if err != nil {
				return 0, err
			}
			r.pos += 5
			return float64(math.Float32frombits(uint32(v))), nil
		case 0xcb:
			v, err := r.uintN(8)
			if err != nil {
				return 0, err
			}
			r.pos += 9
			return math.Float64frombits(v), nil
		}
	}
	return 0, r.typeErr("float")
}

// strLen reads a str header and returns the payload length and header size.
func (r *Reader) strLen() (n, hdr int, ok bool, err error) {
	if r.pos >= len(r.buf) {
		return 0, 0, false, nil
	}
	c := r.buf[r.pos]
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return int(c & 0x1f), 1, true, nil
	case c == 0xd9:
		v, err := r.uintN(1)
		return int(v), 2, true, err
	case c == 0xda:
		v, err := r.uintN(2)
		return int(v), 3, true, err
	case c == 0xdb:
		v, err := r.uintN(4)
		return int(v), 5, true, err
	}
	return 0, 0, false, nil
}

// ReadStrBytes consumes a str and returns its bytes, shared with the input.
// UTF-8 is checked.
func (r *Reader) ReadStrBytes() ([]byte, error) {
	n, hdr, ok, err := r.strLen()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, r.typeErr("string")
	}
	if err := r.need(r.pos+hdr, n); err != nil {
		return nil, err
	}
	s := r.buf[r.pos+hdr : r.pos+hdr+n]
	if !utf8.Valid(s) {
		return nil, r.fail(r.pos, ErrUTF8)
	}
	r.pos += hdr + n
	return s, nil
}

// ReadString consumes a str and returns a copy.
func (r *Reader) ReadString() (string, error) {
	b, err := r.ReadStrBytes()
	return string(b), err
}

// ReadBin consumes a bin and returns its bytes, shared with the input.
func (r *Reader) ReadBin() ([]byte, error) {
	if r.pos >= len(r.buf) {
		return nil, r.fail(r.pos, ErrShort)
	}
	var size int
	switch r.buf[r.pos] {
	case 0xc4:
		size = 1
	case 0xc5:
		size = 2
	case 0xc6:
		size = 4
	default:
		return nil, r.typeErr("bytes")
	}
	n, err := r.uintN(size)
	if err != nil {
		return nil, err
	}
	if err := r.need(r.pos+1+size, int(n)); err != nil {
		return nil, err
	}
	start := r.pos + 1 + size
	r.pos = start + int(n)
	return r.buf[start:r.pos], nil
}

// ReadArrayHeader consumes an array header and returns the element count.
func (r *Reader) ReadArrayHeader() (int, error) {
	if r.pos >= len(r.buf) {
		return 0, r.fail(r.pos, ErrShort)
	}
	c := r.buf[r.pos]
	var n uint64
	var err error
	switch {
	case c >= 0x90 && c <= 0x9f:
		r.pos++
		return int(c & 0x0f), nil
	case c == 0xdc:
		n, err = r.uintN(2)
		if err == nil {
			r.pos += 3
		}
	case c == 0xdd:
		n, err = r.uintN(4)
		if err == nil {
			r.pos += 5
		}
	default:
		return 0, r.typeErr("array")
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(r.Len()) { // every element takes at least one byte
		return 0, r.fail(r.pos, ErrTooBig)
	}
	return int(n), nil
}

// ReadMapHeader consumes a map header and returns the number of pairs.
func (r *Reader) ReadMapHeader() (int, error) {
	if r.pos >= len(r.buf) {
		return 0, r.fail(r.pos, ErrShort)
	}
	c := r.buf[r.pos]
	var n uint64
	var err error
	switch {
	case c >= 0x80 && c <= 0x8f:
		r.pos++
		return int(c & 0x0f), nil
	case c == 0xde:
		n, err = r.uintN(2)
		if err == nil {
			r.pos += 3
		}
	case c == 0xdf:
		n, err = r.uintN(4)
		if err == nil {
			r.pos += 5
		}
	default:
		return 0, r.typeErr("map")
	}
	if err != nil {
		return 0, err
	}
	if 2*n > uint64(r.Len()) {
		return 0, r.fail(r.pos, ErrTooBig)
	}
	return int(n), nil
}

// ReadExt consumes an extension value and returns its type and data
// (shared with the input).
func (r *Reader) ReadExt() (int8, []byte, error) {
	if r.pos >= len(r.buf) {
		return 0, nil, r.fail(r.pos, ErrShort)
	}
	var n, hdr int
	switch r.buf[r.pos] {
	case 0xd4:
		n, hdr = 1, 2
	case 0xd5:
		n, hdr = 2, 2
	case 0xd6:
		n, hdr = 4, 2
	case 0xd7:
		n, hdr = 8, 2
	case 0xd8:
		n, hdr = 16, 2
	case 0xc7, 0xc8, 0xc9:
		size := 1 << (r.buf[r.pos] - 0xc7) // 1, 2, 4
		v, err := r.uintN(size)
		if err != nil {
			return 0, nil, err
		}
		n, hdr = int(v), 2+size
	default:
		return 0, nil, r.typeErr("extension")
	}
	if err := r.need(r.pos, hdr+n); err != nil {
		return 0, nil, err
	}
	typ := int8(r.buf[r.pos+hdr-1])
	data := r.buf[r.pos+hdr : r.pos+hdr+n]
	r.pos += hdr + n
	return typ, data, nil
}

// Skip consumes one complete value, checking its structure (but not the
// UTF-8 of strings). It does not recurse, so deep nesting is harmless.
func (r *Reader) Skip() error {
	start := r.pos
	if _, err := r.SkipPending(1); err != nil {
		r.pos = start
		return err
	}
	return nil
}

// SkipPending consumes n values as Skip does one. On an error it stops at
// the start of the value it failed on and returns how many values are
// left, that one included: the elements of the arrays and maps it has
// entered count. With ErrShort (or ErrTooBig, a length beyond the input),
// a caller that gets more input can go on from there with the count,
// instead of skipping everything again: a framer that waits for a long
// message of many small values so does linear work, not quadratic.
func (r *Reader) SkipPending(n int) (int, error) {
	pending := n
	for ; pending > 0; pending-- {
		start, left := r.pos, pending
		if r.pos >= len(r.buf) {
			return left, r.fail(len(r.buf), ErrShort)
		}
		c := r.buf[r.pos]
		var size int // fixed payload after the type byte
		var lenSize int
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c <= 0x8f:
			pending += 2 * int(c&0x0f)
		case c <= 0x9f:
			pending += int(c & 0x0f)
		case c <= 0xbf:
			size = int(c & 0x1f)
		default:
			switch c {
			case 0xc4, 0xd9:
				lenSize = 1
			case 0xc5, 0xda:
				lenSize = 2
			case 0xc6, 0xdb:
				lenSize = 4
			case 0xc7:
				lenSize, size = 1, 1
			case 0xc8:
				lenSize, size = 2, 1
			case 0xc9:
				lenSize, size = 4, 1
			case 0xca:
				size = 4
			case 0xcb:
				size = 8
			case 0xcc, 0xd0:
				size = 1
			case 0xcd, 0xd1:
				size = 2
			case 0xce, 0xd2:
				size = 4
			case 0xcf, 0xd3:
				size = 8
			case 0xd4:
				size = 2
			case 0xd5:
				size = 3
			case 0xd6:
				size = 5
			case 0xd7:
				size = 9
			case 0xd8:
				size = 17
			case 0xdc, 0xdd, 0xde, 0xdf:
				ls := 2
				if c == 0xdd || c == 0xdf {
					ls = 4
				}
				v, err := r.uintN(ls)
				if err != nil {
					return left, err
				}
				r.pos += 1 + ls
				n := int(v)
				if c >= 0xde {
					n *= 2
				}
				if n > len(r.buf)-r.pos {
					err := r.fail(r.pos, ErrTooBig)
					r.pos = start
					return left, err
				}
				pending += n
				continue
			default:
				return left, r.fail(r.pos, ErrInvalid)
			}
		}
		if lenSize > 0 {
			v, err := r.uintN(lenSize)
			if err != nil {
				return left, err
			}
			r.pos += lenSize
			size += int(v)
		}
		if len(r.buf)-r.pos-1 < size {
			r.pos = start
			return left, r.fail(len(r.buf), ErrShort)
		}
		r.pos += 1 + size
		if pending > len(r.buf)-r.pos+1 {
			err := r.fail(r.pos, ErrTooBig)
			r.pos = start
			return left, err
		}
	}
	return 0, nil
}

// Raw consumes one complete value and returns its encoding, shared with
// the input.
func (r *Reader) Raw() ([]byte, error) {
	start := r.pos
	if err := r.Skip(); err != nil {
		return nil, err
	}
	return r.buf[start:r.pos], nil
}
