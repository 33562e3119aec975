package value

import (
	"fmt"
	"math/big"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Decode decodes raw, which must hold exactly one value, into the model
// (see the package documentation). It accepts exactly what Validate
// accepts. Strings and byte slices are copies; a path is canonical.
func Decode(raw []byte) (any, error) {
	r := pack.NewReader(raw)
	v, err := decode(r, 0)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, failAt(r.Pos(), ErrExtra)
	}
	return v, nil
}

// decode reads one value with pack's Reader; it is written apart from
// readHead on purpose, so that fuzzing Validate against it compares two
// readings of msgpack.
func decode(r *pack.Reader, depth int) (any, error) {
	if depth > pack.MaxDepth {
		return nil, failAt(r.Pos(), pack.ErrDepth)
	}
	k, err := r.Peek()
	if err != nil {
		return nil, err
	}
	switch k {
	case pack.KindArray:
		n, err := r.ReadArrayHeader()
		if err != nil {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decode(r, depth+1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case pack.KindMap:
		n, err := r.ReadMapHeader()
		if err != nil {
			return nil, err
		}
		m := make(pack.Map, n)
		for i := range m {
			at := r.Pos()
			if m[i].Key, err = decode(r, depth+1); err != nil {
				if pe, ok := err.(*pack.Error); ok && pe.Off == at {
					err = failAt(at, fmt.Errorf("%w: %w", ErrMapKey, pe.Err))
				}
				return nil, err
			}
			if m[i].Value, err = decode(r, depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case pack.KindExt:
		at := r.Pos()
		typ, data, err := r.ReadExt()
		if err != nil {
			return nil, err
		}
		switch typ {
		case pack.ExtBigInt:
			if len(data) == 0 {
				return nil, failAt(at, ErrBigInt)
			}
			return smallInt(new(big.Int).SetBytes(data)), nil
		case pack.ExtPath:
			p, err := path.FromEncoded(data)
			if err != nil {
				return nil, failAt(at, fmt.Errorf("%w: %w", ErrPath, err))
			}
			return p, nil
		}
		return pack.Ext{Type: typ, Data: append([]byte{}, data...)}, nil
	}
	return scalar(r, k)
}

// scalar reads a value that is neither container nor extension.
func scalar(r *pack.Reader, k pack.Kind) (any, error) {
	switch k {
	case pack.KindNil:
		return nil, r.ReadNil()
	case pack.KindBool:
		return r.ReadBool()
	case pack.KindFloat:
		return r.ReadFloat()
	case pack.KindStr:
		return r.ReadString()
	case pack.KindBin:
		b, err := r.ReadBin()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	}
	if i, err := r.ReadInt(); err == nil {
		return i, nil
	}
	return r.ReadUint()
}

// smallInt returns n in the smallest type of the model.
func smallInt(n *big.Int) any {
	switch {
	case n.IsInt64():
		return n.Int64()
	case n.IsUint64():
		return n.Uint64()
	}
	return n
}

// Encode encodes a model value canonically: integers and lengths in their
// shortest form, floats as float 64, paths as ext 3. For convenience it also
// takes Go's other integer types, float32, map[string]any and any
// pack.Appender. The result always passes Validate: a string that is not
// UTF-8, a pack.Ext of type 2 or 3 with bad data, or a value nested too
// deeply is an error.
func Encode(v any) ([]byte, error) {
	b, err := pack.Append(nil, v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := Validate(b); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}
