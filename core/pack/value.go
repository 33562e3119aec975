package pack

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
)

// Map is a decoded msgpack map. It keeps the wire order and allows keys of
// any type, which a Go map cannot (a key may be an array).
type Map []KV

// KV is one key/value pair of a Map.
type KV struct {
	Key, Value any
}

// Get returns the value stored under the string key k.
func (m Map) Get(k string) (any, bool) {
	for _, kv := range m {
		if s, ok := kv.Key.(string); ok && s == k {
			return kv.Value, true
		}
	}
	return nil, false
}

// Ext is an extension value of a type this package does not interpret.
type Ext struct {
	Type int8
	Data []byte
}

// MaxDepth bounds the nesting of values that Decode accepts, so that a
// hostile message cannot exhaust the stack.
const MaxDepth = 512

// ErrDepth is returned for values nested deeper than MaxDepth.
var ErrDepth = errors.New("value nested too deeply")

// Decode decodes the next value into the model described in the package
// documentation. Strings and byte slices are copied.
func (r *Reader) Decode() (any, error) { return r.decode(0) }

func (r *Reader) decode(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, r.fail(r.pos, ErrDepth)
	}
	k, err := r.Peek()
	if err != nil {
		return nil, err
	}
	switch k {
	case KindNil:
		r.pos++
		return nil, nil
	case KindBool:
		return r.ReadBool()
	case KindInt:
		i, u, neg, err := r.readInteger()
		switch {
		case err != nil:
			return nil, err
		case neg:
			return i, nil
		case u <= 1<<63-1:
			return int64(u), nil
		default:
			return u, nil
		}
	case KindFloat:
		return r.ReadFloat()
	case KindStr:
		return r.ReadString()
	case KindBin:
		b, err := r.ReadBin()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	case KindArray:
		n, err := r.ReadArrayHeader()
		if err != nil {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = r.decode(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case KindMap:
		n, err := r.ReadMapHeader()
		if err != nil {
			return nil, err
		}
		m := make(Map, n)
		for i := range m {
			if m[i].Key, err = r.decode(depth + 1); err != nil {
				return nil, err
			}
			if m[i].Value, err = r.decode(depth + 1); err != nil {
				return nil, err
			}
		}
		return m, nil
	default: // KindExt
		start := r.pos
		typ, data, err := r.ReadExt()
		if err != nil {
			return nil, err
		}
		if typ == ExtBigInt {
			if len(data) == 0 {
				return nil, r.fail(start, ErrBigInt)
			}
			n := new(big.Int).SetBytes(data)
			if n.IsUint64() { // a big integer in a small encoding
				if u := n.Uint64(); u <= 1<<63-1 {
					return int64(u), nil
				}
				return n.Uint64(), nil
			}
			return n, nil
		}
		return Ext{Type: typ, Data: append([]byte{}, data...)}, nil
	}
}

// Decode decodes b, which must hold exactly one value.
func Decode(b []byte) (any, error) {
	r := NewReader(b)
	v, err := r.Decode()
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, r.fail(r.pos, errors.New("extra bytes after the value"))
	}
	return v, nil
}

// Appender is implemented by types outside this package that know their
// own msgpack encoding (a path, for instance).
type Appender interface {
	AppendMsgpack(b []byte) ([]byte, error)
}

// Append encodes v, a value of the model (plus int, int8…uint32, float32
// and Appender for convenience).
func Append(b []byte, v any) ([]byte, error) {
	return appendDepth(b, v, 0)
}

func appendDepth(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, ErrDepth
	}
	var err error
	switch v := v.(type) {
	case nil:
		return AppendNil(b), nil
	case bool:
		return AppendBool(b, v), nil
	case int:
		return AppendInt(b, int64(v)), nil
	case int8:
		return AppendInt(b, int64(v)), nil
	case int16:
		return AppendInt(b, int64(v)), nil
	case int32:
		return AppendInt(b, int64(v)), nil
	case int64:
		return AppendInt(b, v), nil
	case uint:
		return AppendUint(b, uint64(v)), nil
	case uint8:
		return AppendUint(b, uint64(v)), nil
	case uint16:
		return AppendUint(b, uint64(v)), nil
	case uint32:
		return AppendUint(b, uint64(v)), nil
	case uint64:
		return AppendUint(b, v), nil
	case *big.Int:
		return AppendBigInt(b, v)
	case float32:
		return AppendFloat(b, float64(v)), nil
	case float64:
		return AppendFloat(b, v), nil
	case string:
		return AppendString(b, v), nil
	case []byte:
		return AppendBytes(b, v), nil
	case []any:
		b = AppendArrayHeader(b, len(v))
		for _, e := range v {
			if b, err = appendDepth(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case Map:
		b = AppendMapHeader(b, len(v))
		for _, kv := range v {
			if b, err = appendDepth(b, kv.Key, depth+1); err != nil {
				return b, err
			}
			if b, err = appendDepth(b, kv.Value, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		b = AppendMapHeader(b, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) { // the same bytes every time
			e := v[k]
			b = AppendString(b, k)
			if b, err = appendDepth(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case Ext:
		if v.Type == ExtBigInt && len(v.Data) == 0 {
			return b, ErrBigInt
		}
		b = AppendExtHeader(b, v.Type, len(v.Data))
		return append(b, v.Data...), nil
	case Appender:
		return v.AppendMsgpack(b)
	}
	return b, fmt.Errorf("cannot encode a value of type %T", v)
}
