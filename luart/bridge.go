package luart

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	lua "github.com/yuin/gopher-lua"
)

// The value bridge; the rules are in the package doc.

const maxExact = 1 << 53 // integers up to this magnitude are exact Lua numbers

type bigInt struct{ n *big.Int } // a userdata's value: an integer beyond 2^53

func (st *state) initValues() {
	L := st.L
	meta := func(kind string, fns map[string]lua.LGFunction) *lua.LTable {
		mt := L.NewTable()
		for k, f := range fns {
			mt.RawSetString(k, L.NewFunction(f))
		}
		mt.RawSetString("__metatable", lua.LString(kind))
		return mt
	}
	st.bytesMeta = meta("bytes", map[string]lua.LGFunction{
		"__tostring": func(L *lua.LState) int { L.Push(lua.LString(st.checkBytes(L, 1))); return 1 },
		"__len":      func(L *lua.LState) int { L.Push(lua.LNumber(len(st.checkBytes(L, 1)))); return 1 },
		"__eq": func(L *lua.LState) int {
			L.Push(lua.LBool(bytes.Equal(st.checkBytes(L, 1), st.checkBytes(L, 2))))
			return 1
		},
		"__lt": func(L *lua.LState) int {
			L.Push(lua.LBool(bytes.Compare(st.checkBytes(L, 1), st.checkBytes(L, 2)) < 0))
			return 1
		},
		"__le": func(L *lua.LState) int {
			L.Push(lua.LBool(bytes.Compare(st.checkBytes(L, 1), st.checkBytes(L, 2)) <= 0))
			return 1
		},
		"__concat": st.bytesConcat,
		"__index":  st.bytesIndex,
	})
	st.bigMeta = meta("bigint", map[string]lua.LGFunction{
		"__tostring": func(L *lua.LState) int { L.Push(lua.LString(st.toBig(L, 1).String())); return 1 },
		"__eq":       func(L *lua.LState) int { L.Push(lua.LBool(st.toBig(L, 1).Cmp(st.toBig(L, 2)) == 0)); return 1 },
		"__lt":       func(L *lua.LState) int { L.Push(lua.LBool(st.cmpNum(L) < 0)); return 1 },
		"__le":       func(L *lua.LState) int { L.Push(lua.LBool(st.cmpNum(L) <= 0)); return 1 },
		"__add":      st.bigArith(func(a, b *big.Int) *big.Int { return a.Add(a, b) }, func(a, b float64) float64 { return a + b }),
		"__sub":      st.bigArith(func(a, b *big.Int) *big.Int { return a.Sub(a, b) }, func(a, b float64) float64 { return a - b }),
		"__mul":      st.bigArith(func(a, b *big.Int) *big.Int { return a.Mul(a, b) }, func(a, b float64) float64 { return a * b }),
		"__div":      st.bigArith(nil, func(a, b float64) float64 { return a / b }),
		"__mod":      st.bigArith(nil, func(a, b float64) float64 { return a - math.Floor(a/b)*b }),
		"__pow":      st.bigArith(nil, math.Pow),
		"__unm": func(L *lua.LState) int {
			L.Push(st.fromBig(new(big.Int).Neg(st.toBig(L, 1))))
			return 1
		},
		"__concat": st.textConcat,
	})
	st.pathMeta = meta("path", map[string]lua.LGFunction{
		"__tostring": func(L *lua.LState) int { L.Push(lua.LString(st.checkPath(L, 1).String())); return 1 },
		"__len":      func(L *lua.LState) int { L.Push(lua.LNumber(st.checkPath(L, 1).Len())); return 1 },
		"__eq":       func(L *lua.LState) int { L.Push(lua.LBool(st.checkPath(L, 1) == st.checkPath(L, 2))); return 1 },
		"__lt": func(L *lua.LState) int {
			L.Push(lua.LBool(path.Compare(st.checkPath(L, 1), st.checkPath(L, 2)) < 0))
			return 1
		},
		"__le": func(L *lua.LState) int {
			L.Push(lua.LBool(path.Compare(st.checkPath(L, 1), st.checkPath(L, 2)) <= 0))
			return 1
		},
		"__index":  st.pathIndex,
		"__concat": st.textConcat,
	})
	st.extMeta = meta("ext", map[string]lua.LGFunction{
		"__tostring": func(L *lua.LState) int {
			e := L.CheckUserData(1).Value.(pack.Ext)
			L.Push(lua.LString(fmt.Sprintf("ext(%d, %d bytes)", e.Type, len(e.Data))))
			return 1
		},
	})
	st.mapMeta = L.NewTable()
	st.mapMeta.RawSetString("__metatable", lua.LString("map"))
}

func (st *state) udata(v any, mt *lua.LTable) *lua.LUserData {
	return &lua.LUserData{Value: v, Metatable: mt}
}

// toLua converts a value of the pack model (and Go int) to Lua.
func (st *state) toLua(v any, depth int) (lua.LValue, error) {
	if depth > pack.MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrValue, pack.MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(x), nil
	case int:
		return st.fromInt64(int64(x)), nil
	case int64:
		return st.fromInt64(x), nil
	case uint64:
		if x <= maxExact {
			return lua.LNumber(x), nil
		}
		return st.udata(bigInt{new(big.Int).SetUint64(x)}, st.bigMeta), nil
	case *big.Int:
		return st.fromBig(new(big.Int).Set(x)), nil
	case float64:
		return lua.LNumber(x), nil
	case float32:
		return lua.LNumber(x), nil
	case string:
		return lua.LString(x), nil
	case []byte:
		return st.udata(x, st.bytesMeta), nil
	case path.Path:
		return st.udata(x, st.pathMeta), nil
	case pack.Ext:
		return st.udata(x, st.extMeta), nil
	case []any:
		t := st.L.CreateTable(len(x), 0)
		for i, e := range x {
			lv, err := st.toLua(e, depth+1)
			if err != nil {
				return nil, err
			}
			if lv == lua.LNil {
				return nil, fmt.Errorf("%w: list element %d is nil (a Lua list cannot hold nil)", ErrValue, i+1)
			}
			t.RawSetInt(i+1, lv)
		}
		return t, nil
	case pack.Map:
		t := st.L.CreateTable(0, len(x))
		for _, kv := range x {
			k, err := st.toLua(kv.Key, depth+1)
			if err != nil {
				return nil, err
			}
			if k == lua.LNil || k.Type() == lua.LTNumber && math.IsNaN(float64(k.(lua.LNumber))) {
				return nil, fmt.Errorf("%w: map key %v cannot be a Lua table key", ErrValue, kv.Key)
			}
			val, err := st.toLua(kv.Value, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSet(k, val)
		}
		t.Metatable = st.mapMeta
		return t, nil
	case Module:
		return st.module(x), nil
	case Func:
		return st.L.NewFunction(st.hostFunc(x)), nil
	default:
		return nil, fmt.Errorf("%w: %T", ErrValue, v)
	}
}

func (st *state) fromInt64(x int64) lua.LValue {
	if x >= -maxExact && x <= maxExact {
		return lua.LNumber(x)
	}
	return st.udata(bigInt{big.NewInt(x)}, st.bigMeta)
}

// fromBig takes ownership of n.
func (st *state) fromBig(n *big.Int) lua.LValue {
	if n.IsInt64() {
		if x := n.Int64(); x >= -maxExact && x <= maxExact {
			return lua.LNumber(x)
		}
	}
	return st.udata(bigInt{n}, st.bigMeta)
}

// fromLua converts a Lua value back to the pack model.
func (st *state) fromLua(lv lua.LValue, depth int) (any, error) {
	if depth > pack.MaxDepth {
		return nil, fmt.Errorf("%w: a table nested deeper than %d (a cycle?)", ErrValue, pack.MaxDepth)
	}
	switch x := lv.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		return number(float64(x)), nil
	case lua.LString:
		return string(x), nil
	case *lua.LUserData:
		switch v := x.Value.(type) {
		case []byte:
			return v, nil
		case bigInt:
			return bigValue(v.n), nil
		case path.Path:
			return v, nil
		case pack.Ext:
			return v, nil
		}
		return nil, fmt.Errorf("%w: a userdata", ErrValue)
	case *lua.LTable:
		return st.fromTable(x, depth)
	default:
		return nil, fmt.Errorf("%w: a %s", ErrValue, lv.Type())
	}
}

// number is an integral Lua number of at most 2^53 as int64, any other as
// float64.
func number(f float64) any {
	if f == math.Trunc(f) && f >= -maxExact && f <= maxExact {
		return int64(f)
	}
	return f
}

func bigValue(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	if n.IsUint64() {
		return n.Uint64()
	}
	return new(big.Int).Set(n)
}

func (st *state) fromTable(t *lua.LTable, depth int) (any, error) {
	total, maxKey, list := 0, 0, t.Metatable != st.mapMeta
	t.ForEach(func(k, _ lua.LValue) {
		total++
		if n, ok := k.(lua.LNumber); ok && list && n >= 1 && n == lua.LNumber(math.Trunc(float64(n))) {
			maxKey = max(maxKey, int(n))
		} else {
			list = false
		}
	})
	if list && maxKey == total {
		out := make([]any, total)
		for i := range out {
			v, err := st.fromLua(t.RawGetInt(i+1), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	m := make(pack.Map, 0, total)
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var kv pack.KV
		if kv.Key, err = st.fromLua(k, depth+1); err != nil {
			return
		}
		kv.Value, err = st.fromLua(v, depth+1)
		m = append(m, kv)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(m, func(i, j int) bool { return lessKey(m[i].Key, m[j].Key) })
	return m, nil
}

// lessKey orders map keys so that a map comes back the same way each time:
// false < true < numbers < strings < bytes < anything else.
func lessKey(a, b any) bool {
	ra, rb := keyRank(a), keyRank(b)
	if ra != rb {
		return ra < rb
	}
	switch x := a.(type) {
	case bool:
		return !x && b.(bool)
	case string:
		return x < b.(string)
	case []byte:
		return bytes.Compare(x, b.([]byte)) < 0
	case path.Path:
		return path.Compare(x, b.(path.Path)) < 0
	}
	if ra == 1 {
		return numFloat(a) < numFloat(b)
	}
	return false
}

func keyRank(v any) int {
	switch v.(type) {
	case bool:
		return 0
	case int64, uint64, float64, *big.Int:
		return 1
	case string:
		return 2
	case []byte:
		return 3
	case path.Path:
		return 4
	}
	return 5
}

func numFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	}
	return 0
}

// Bytes in Lua.

func (st *state) checkBytes(L *lua.LState, i int) []byte {
	switch v := L.Get(i).(type) {
	case *lua.LUserData:
		if b, ok := v.Value.([]byte); ok {
			return b
		}
	case lua.LString:
		return []byte(v)
	}
	L.ArgError(i, "bytes expected, got "+L.Get(i).Type().String())
	return nil
}

// newBytes is the global bytes(s): a string's bytes as a bytes value.
func (st *state) newBytes(L *lua.LState) int {
	b := st.checkBytes(L, 1)
	L.Push(st.udata(bytes.Clone(b), st.bytesMeta))
	return 1
}

func (st *state) bytesConcat(L *lua.LState) int {
	a, b := st.checkBytes(L, 1), st.checkBytes(L, 2)
	st.checkString(L, "bytes concatenation", len(a)+len(b))
	L.Push(st.udata(append(append(make([]byte, 0, len(a)+len(b)), a...), b...), st.bytesMeta))
	return 1
}

// bytesIndex serves b[i] (the byte at i, 1-based) and the methods len,
// sub, byte and tostring.
func (st *state) bytesIndex(L *lua.LState) int {
	b := st.checkBytes(L, 1)
	switch k := L.Get(2).(type) {
	case lua.LNumber:
		i := int(k)
		if i >= 1 && i <= len(b) {
			L.Push(lua.LNumber(b[i-1]))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	case lua.LString:
		switch k {
		case "len":
			L.Push(L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(len(st.checkBytes(L, 1)))); return 1 }))
		case "tostring":
			L.Push(L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString(st.checkBytes(L, 1))); return 1 }))
		case "sub":
			L.Push(L.NewFunction(func(L *lua.LState) int {
				b := st.checkBytes(L, 1)
				i, j := sliceRange(len(b), L.OptInt(2, 1), L.OptInt(3, -1))
				L.Push(st.udata(b[i:j:j], st.bytesMeta))
				return 1
			}))
		case "byte":
			L.Push(L.NewFunction(func(L *lua.LState) int {
				b := st.checkBytes(L, 1)
				i, j := sliceRange(len(b), L.OptInt(2, 1), L.OptInt(3, L.OptInt(2, 1)))
				if j-i > maxUnpack {
					L.RaiseError("bytes slice too long")
				}
				for _, c := range b[i:j] {
					L.Push(lua.LNumber(c))
				}
				return j - i
			}))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// sliceRange turns Lua's 1-based inclusive i..j (negative from the end)
// into Go's [i:j).
func sliceRange(n, i, j int) (int, int) {
	if i < 0 {
		i = max(n+i+1, 1)
	} else if i == 0 {
		i = 1
	}
	if j < 0 {
		j = n + j + 1
	} else if j > n {
		j = n
	}
	if i > j {
		return 0, 0
	}
	return i - 1, j
}

// Big integers in Lua.

// toBig reads argument i as an exact integer: a bigint or an integral
// number.
func (st *state) toBig(L *lua.LState, i int) *big.Int {
	switch v := L.Get(i).(type) {
	case *lua.LUserData:
		if b, ok := v.Value.(bigInt); ok {
			return new(big.Int).Set(b.n)
		}
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && !math.IsInf(f, 0) {
			n, _ := new(big.Float).SetFloat64(f).Int(nil)
			return n
		}
	}
	L.ArgError(i, "integer expected, got "+L.Get(i).Type().String())
	return nil
}

func (st *state) toFloat(L *lua.LState, i int) float64 {
	switch v := L.Get(i).(type) {
	case *lua.LUserData:
		if b, ok := v.Value.(bigInt); ok {
			f, _ := new(big.Float).SetInt(b.n).Float64()
			return f
		}
	case lua.LNumber:
		return float64(v)
	}
	L.ArgError(i, "number expected, got "+L.Get(i).Type().String())
	return 0
}

func (st *state) cmpNum(L *lua.LState) int {
	if isIntegral(L.Get(1)) && isIntegral(L.Get(2)) {
		return st.toBig(L, 1).Cmp(st.toBig(L, 2))
	}
	a, b := st.toFloat(L, 1), st.toFloat(L, 2)
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isIntegral(v lua.LValue) bool {
	switch x := v.(type) {
	case *lua.LUserData:
		_, ok := x.Value.(bigInt)
		return ok
	case lua.LNumber:
		f := float64(x)
		return f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

// bigArith is an arithmetic metamethod: exact when exact is given and both
// operands are integers, float otherwise.
func (st *state) bigArith(exact func(a, b *big.Int) *big.Int, float func(a, b float64) float64) lua.LGFunction {
	return func(L *lua.LState) int {
		if exact != nil && isIntegral(L.Get(1)) && isIntegral(L.Get(2)) {
			a, b := st.toBig(L, 1), st.toBig(L, 2)
			if a.BitLen()+b.BitLen() > 4096 {
				st.limit(L, LimitString, "integer arithmetic beyond 4096 bits")
			}
			L.Push(st.fromBig(exact(a, b)))
			return 1
		}
		L.Push(lua.LNumber(float(st.toFloat(L, 1), st.toFloat(L, 2))))
		return 1
	}
}

// textConcat concatenates the text forms of its operands (a string
// results).
func (st *state) textConcat(L *lua.LState) int {
	var b strings.Builder
	for i := 1; i <= 2; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString, lua.LNumber:
			b.WriteString(v.String())
		default:
			b.WriteString(L.ToStringMeta(v).String())
		}
	}
	st.checkString(L, "concatenation", b.Len())
	L.Push(lua.LString(b.String()))
	return 1
}

// Paths in Lua.

func (st *state) checkPath(L *lua.LState, i int) path.Path {
	if u, ok := L.Get(i).(*lua.LUserData); ok {
		if p, ok := u.Value.(path.Path); ok {
			return p
		}
	}
	L.ArgError(i, "path expected, got "+L.Get(i).Type().String())
	return path.Path{}
}

// pathIndex serves p[i]: element i (1-based) as a Lua value.
func (st *state) pathIndex(L *lua.LState) int {
	p := st.checkPath(L, 1)
	n, ok := L.Get(2).(lua.LNumber)
	if !ok || int(n) < 1 || int(n) > p.Len() {
		L.Push(lua.LNil)
		return 1
	}
	i := 1
	for e := range p.Elems() {
		if i == int(n) {
			lv, err := st.toLua(e.Value(), 0)
			if err != nil {
				L.RaiseError("path element %d: %s", i, err.Error())
			}
			L.Push(lv)
			return 1
		}
		i++
	}
	L.Push(lua.LNil)
	return 1
}
