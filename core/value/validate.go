package value

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Errors of this package. Problems in raw values come as *pack.Error with
// the byte offset, wrapping one of these or pack's ErrShort, ErrInvalid,
// ErrUTF8, ErrTooBig and ErrDepth.
var (
	ErrExtra  = errors.New("extra bytes after the value")
	ErrBigInt = pack.ErrBigInt
	ErrPath   = errors.New("invalid path (extension type 3)")
	ErrMapKey = errors.New("in a map key")
	ErrType   = errors.New("not a value of the model")
)

// Validate checks that raw holds exactly one well-formed value: complete,
// no type byte 0xc1, every str valid UTF-8, nested no deeper than
// pack.MaxDepth (the top value is at depth 0, as for pack.Decode), ext 2
// not empty, ext 3 a valid path, nothing after the value. It accepts
// exactly what Decode accepts. An error is a *pack.Error naming the byte
// offset of the faulty value.
//
// Validate does not recurse. It does not allocate, except to check the
// elements of a path (path.FromEncoded), for values nested more than 32
// deep, and to report an error.
func Validate(raw []byte) error {
	// open holds, for each container being read, the items still to come
	// shifted left by one, and in the low bit whether it is a map. A map's
	// keys and values both count, so a key is next when the count is even.
	// Values nested up to 32 deep keep it on the stack.
	var stack [32]int
	open := stack[:0]
	var h head
	pos := 0
	for {
		depth := len(open)
		if depth > pack.MaxDepth {
			return failAt(pos, pack.ErrDepth)
		}
		err := readHead(&h, raw, pos)
		if err == nil && h.kind == pack.KindExt && h.ext == pack.ExtPath {
			if _, perr := path.FromEncoded(h.data); perr != nil {
				err = failAt(pos, fmt.Errorf("%w: %w", ErrPath, perr))
			}
		}
		if err != nil {
			if depth > 0 && open[depth-1]&3 == 1 { // a map, an even count
				var pe *pack.Error
				if errors.As(err, &pe) && pe.Off == pos {
					err = failAt(pos, fmt.Errorf("%w: %w", ErrMapKey, pe.Err))
				}
			}
			return err
		}
		pos += h.size
		switch {
		case h.kind == pack.KindMap && h.n > 0:
			open = append(open, 4*h.n+1) // 2n items
			continue
		case h.kind == pack.KindArray && h.n > 0:
			open = append(open, 2*h.n)
			continue
		}
		// An item is complete; so is every container it completes.
		for len(open) > 0 {
			top := &open[len(open)-1]
			if *top -= 2; *top > 1 {
				break
			}
			open = open[:len(open)-1]
		}
		if len(open) == 0 {
			break
		}
	}
	if pos != len(raw) {
		return failAt(pos, ErrExtra)
	}
	return nil
}
