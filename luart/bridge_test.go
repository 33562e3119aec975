package luart

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	lua "github.com/yuin/gopher-lua"
)

// genValue builds a value of the pack model from data (a fuzzer's bytes).
func genValue(data *[]byte, depth int) any {
	next := func() byte {
		if len(*data) == 0 {
			return 0
		}
		b := (*data)[0]
		*data = (*data)[1:]
		return b
	}
	u64 := func() uint64 {
		var b [8]byte
		for i := range b {
			b[i] = next()
		}
		return binary.BigEndian.Uint64(b[:])
	}
	str := func() string {
		n := int(next() % 12)
		b := make([]byte, n)
		for i := range b {
			b[i] = next()
		}
		return string(b)
	}
	k := next() % 15
	if depth > 4 && k >= 11 {
		k %= 11
	}
	switch k {
	case 0:
		return nil
	case 1:
		return next()%2 == 0
	case 2:
		return int64(int8(next()))
	case 3:
		return int64(u64())
	case 4:
		if u := u64(); u >= 1<<63 {
			return u
		}
		return uint64(1 << 63)
	case 5:
		return new(big.Int).Lsh(new(big.Int).SetUint64(u64()|1), uint(64+next()%64))
	case 6:
		return math.Float64frombits(u64())
	case 7:
		return []float64{0.5, -2.25, math.Inf(1), math.Inf(-1), math.NaN(), 1e300, 3}[next()%7]
	case 8:
		return str()
	case 9:
		return []byte(str())
	case 10:
		return path.Must("a", int64(next()), []byte(str()))
	case 11, 12:
		n := int(next() % 5)
		l := make([]any, 0, n)
		for range n {
			v := genValue(data, depth+1)
			if v == nil {
				v = false
			}
			l = append(l, v)
		}
		return l
	default:
		n := int(next() % 5)
		m := pack.Map{}
		seen := map[string]bool{}
		for i := range n {
			var key any = str()
			if i%2 == 1 {
				key = int64(int8(next()))
			}
			if seen[keyString(key)] {
				continue
			}
			seen[keyString(key)] = true
			m = append(m, pack.KV{Key: key, Value: genValue(data, depth+1)})
		}
		return m
	}
}

func keyString(k any) string {
	if s, ok := k.(string); ok {
		return "s" + s
	}
	return "i" + string(rune(k.(int64)+1000))
}

// expected is what v looks like after a trip through Lua, by the rules of
// the package doc.
func expected(v any) any {
	switch x := v.(type) {
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
	case *big.Int:
		return bigValue(x)
	case float64:
		return number(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expected(e)
		}
		return out
	case pack.Map:
		out := make(pack.Map, 0, len(x))
		for _, kv := range x {
			if kv.Value != nil { // a Lua table cannot hold nil
				out = append(out, pack.KV{Key: expected(kv.Key), Value: expected(kv.Value)})
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return lessKey(out[i].Key, out[j].Key) })
		return out
	}
	return v
}

func same(a, b any) bool {
	fa, ok1 := a.(float64)
	fb, ok2 := b.(float64)
	if ok1 && ok2 && math.IsNaN(fa) && math.IsNaN(fb) {
		return true
	}
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	case pack.Map:
		y, ok := b.(pack.Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i].Key, y[i].Key) || !same(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

var identity = func() *Script { s, _ := Compile("identity", "return value"); return s }()

func roundTrip(t testing.TB, rt *Runtime, v any) {
	t.Helper()
	got, err := rt.Call(context.Background(), identity, []Var{{"value", v}}, nil)
	if err != nil {
		t.Fatalf("%#v: %v", v, err)
	}
	if want := expected(v); !same(got, want) {
		t.Fatalf("round trip of %#v:\n got %#v\nwant %#v", v, got, want)
	}
}

func TestBridgeTypes(t *testing.T) {
	rt := New(ValidatorLimits)
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	for _, v := range []any{
		nil, true, false, int64(0), int64(-5), int64(1 << 53), int64(-(1 << 53)), int64(1<<53 + 1),
		int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), big1,
		0.5, math.Inf(1), math.Inf(-1), math.NaN(), 1e300, "", "héllo", "a\x00b",
		[]byte{}, []byte("bytes\xff"), []any{}, []any{int64(1), "x", []any{true}},
		pack.Map{}, pack.Map{{Key: int64(1), Value: "one"}, {Key: int64(2), Value: "two"}},
		pack.Map{{Key: "b", Value: int64(1)}, {Key: "a", Value: pack.Map{{Key: true, Value: []byte("x")}}}},
		path.Must("a", int64(31), []byte("b")), path.Path{},
		pack.Ext{Type: 9, Data: []byte{1, 2}},
	} {
		roundTrip(t, rt, v)
	}
}

func TestBridgeRules(t *testing.T) {
	rt := New(ValidatorLimits)
	for _, c := range []struct {
		src  string
		want any
	}{
		{"return 42", int64(42)},
		{"return 2.0", int64(2)},
		{`return tonumber("12.5")`, 12.5},
		{"return 1/0", math.Inf(1)},
		{"return {}", []any{}},
		{"return {1, 2, 3}", []any{int64(1), int64(2), int64(3)}},
		{"return {1, nil, 3}", pack.Map{{Key: int64(1), Value: int64(1)}, {Key: int64(3), Value: int64(3)}}},
		{"return {b = 1, a = 2, [1] = true}", pack.Map{{Key: int64(1), Value: true}, {Key: "a", Value: int64(2)}, {Key: "b", Value: int64(1)}}},
		{`return bytes("ab")`, []byte("ab")},
		{`return tostring(bytes("ab")) .. #bytes("abc")`, "ab3"},
		{`return bytes("abc"):sub(2)`, []byte("bc")},
		{`return bytes("a") .. "b"`, []byte("ab")},
		{`return big + 1`, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 70), big.NewInt(1))},
		{`return tostring(big)`, "1180591620717411303424"},
		{`return big > big - 1, big - big`, true}, // first value only
		{`return pcall(function() return big > 5 end)`, false},
		{`return tostring(p) .. "|" .. #p .. "|" .. p[2] .. "|" .. tostring(p[3])`, "a:31:vb|3|31|b"},
		{`return p`, path.Must("a", int64(31), []byte("b"))},
		{`return m`, pack.Map{}},
		{`return getmetatable(m)`, "map"},
		{`return type(big) .. type(bs) .. type(p)`, "userdatauserdatauserdata"},
		{`return bs == bytes("x")`, true},
	} {
		vars := []Var{
			{"big", new(big.Int).Lsh(big.NewInt(1), 70)},
			{"p", path.Must("a", int64(31), []byte("b"))},
			{"m", pack.Map{}},
			{"bs", []byte("x")},
		}
		got, err := run(t, rt, c.src, vars)
		if err != nil || !same(got, c.want) {
			t.Errorf("%s:\n got %#v %v\nwant %#v", c.src, got, err, c.want)
		}
	}
}

func TestBridgeErrors(t *testing.T) {
	rt := New(ValidatorLimits)
	for _, src := range []string{
		"return print",
		"local t = {} t.t = t return t",
	} {
		if _, err := run(t, rt, src, nil); err == nil {
			t.Errorf("%s: no error", src)
		}
	}
	if _, err := run(t, rt, "return 1", []Var{{"value", struct{}{}}}); err == nil {
		t.Error("struct variable: no error")
	}
	if _, err := run(t, rt, "return 1", []Var{{"value", pack.Map{{Key: nil, Value: 1}}}}); err == nil {
		t.Error("nil map key: no error")
	}
}

func TestBridgeRandom(t *testing.T) {
	rt := New(ValidatorLimits)
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for range 2000 {
		data := make([]byte, 200)
		r.Read(data)
		v := genValue(&data, 0)
		roundTrip(t, rt, v)
	}
}

func FuzzBridge(f *testing.F) {
	f.Add([]byte{11, 3, 2, 7, 8, 3, 'a', 'b', 'c'})
	f.Add([]byte{13, 4, 1, 'k', 5, 0, 0, 0, 0, 0, 0, 0, 1, 7})
	rt := New(ValidatorLimits)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := genValue(&data, 0)
		roundTrip(t, rt, v)
	})
}

// TestNumberText: the fast tostring writes every number as gopher-lua's
// own does.
func TestNumberText(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 13.25, 1e6, 1e20, 1e21, 1e-4, 1e-5, 123456789012345678,
		1 << 53, 1<<53 + 1, 1 << 62, 1 << 63, -(1 << 63), math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), 0.1 + 0.2, 2.5e-300}
	for range 100_000 {
		vals = append(vals, math.Float64frombits(r.Uint64()), r.NormFloat64()*1e6, float64(r.Int63n(1<<60)), math.Round(r.Float64()*1e4)/100)
	}
	for _, f := range vals {
		if got, want := numberText(lua.LNumber(f)), lua.LNumber(f).String(); got != want {
			t.Fatalf("%b: %q, gopher-lua writes %q", f, got, want)
		}
	}
}
