package luart

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// The built-ins below are the ones that can allocate or compute without
// bound inside one VM instruction, where neither the deadline nor the
// watchdog can stop them; each checks its sizes before it starts.

func itoa(n int) string { return strconv.Itoa(n) }

// wrap calls the original built-in f after check has looked at its
// arguments.
func (st *state) wrap(f *lua.LFunction, check func(L *lua.LState)) lua.LGFunction {
	return func(L *lua.LState) int {
		check(L)
		n := L.GetTop()
		L.Push(f)
		L.Insert(L.Get(-1), 1)
		L.Pop(1)
		L.Call(n, lua.MultRet)
		return L.GetTop()
	}
}

func (st *state) checkString(L *lua.LState, what string, n int) {
	if n > st.lim.MaxString {
		st.limit(L, LimitString, what+" of "+itoa(n)+" bytes, more than "+itoa(st.lim.MaxString))
	}
}

func (st *state) checkInput(name string) func(*lua.LState) {
	return func(L *lua.LState) {
		st.checkString(L, "string."+name+" input", len(L.CheckString(1)))
	}
}

func (st *state) strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if n > st.lim.MaxString/len(s) {
		st.limit(L, LimitString, "string.rep result of "+strconv.FormatFloat(float64(len(s))*float64(n), 'f', 0, 64)+" bytes, more than "+itoa(st.lim.MaxString))
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// checkFormat allows widths and precisions of two digits at most, as Lua
// 5.1 does, and bounds the result by the sizes of the arguments.
func (st *state) checkFormat(L *lua.LState) {
	f := L.CheckString(1)
	size := len(f)
	arg := 2
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i, digits = i+1, digits+1
		}
		if i < len(f) && f[i] == '.' {
			i++
			prec := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i, prec = i+1, prec+1
			}
			digits = max(digits, prec)
		}
		if digits > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		size += 100
		if i < len(f) && (f[i] == 's' || f[i] == 'q') {
			size += 2 * st.textLen(L.Get(arg))
		}
		arg++
	}
	st.checkString(L, "string.format result", size)
}

// textLen is how long tostring of v can be, without calling metamethods.
func (st *state) textLen(v lua.LValue) int {
	switch x := v.(type) {
	case lua.LString:
		return len(x)
	case *lua.LUserData:
		if b, ok := x.Value.([]byte); ok {
			return len(b)
		}
		return 64
	default:
		return 64
	}
}

// Pattern matching backtracks: a pattern with k repetitions can take
// n^(k+1) steps on n bytes, inside one built-in call that no deadline
// interrupts. So the subject may be at most MaxMatch bytes, and less when
// the pattern can backtrack: n^e * 2^q must stay below matchBudget, where
// e counts the repetitions (*, +, -) not at the end of the pattern, plus 1
// if it is not anchored with ^, and q the optional items (?).
const matchBudget = 1 << 27

func (st *state) checkPattern(name string) func(*lua.LState) {
	return func(L *lua.LState) {
		s := L.CheckString(1)
		p := L.CheckString(2)
		if name == "find" && L.GetTop() >= 4 && lua.LVAsBool(L.Get(4)) {
			st.checkString(L, "string.find input", len(s))
			return
		}
		st.checkMatch(L, "string."+name, s, p)
	}
}

func (st *state) checkMatch(L *lua.LState, name, s, p string) {
	if len(s) > st.lim.MaxMatch {
		st.limit(L, LimitMatch, name+" subject of "+itoa(len(s))+" bytes, more than "+itoa(st.lim.MaxMatch))
	}
	st.checkString(L, name+" pattern", len(p))
	if max := maxSubject(p); len(s) > max {
		st.limit(L, LimitMatch, name+" subject of "+itoa(len(s))+" bytes is too long for the backtracking pattern "+strconv.Quote(clipPattern(p))+" (at most "+itoa(max)+")")
	}
}

func clipPattern(p string) string {
	if len(p) > 40 {
		return p[:40] + "…"
	}
	return p
}

// maxSubject is the longest subject pattern p may scan (see matchBudget).
func maxSubject(p string) int {
	e, q := 1, 0
	if strings.HasPrefix(p, "^") {
		e = 0
	}
	inSet := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+1 < len(p):
			if p[i+1] == 'b' { // %bxy scans to the balancing character
				e++
				i += 3
				continue
			}
			i++
		case inSet:
			if c == ']' {
				inSet = false
			}
		case c == '[':
			inSet = true
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == '*' || c == '+' || c == '-':
			rest := p[i+1:]
			if rest != "" && rest != ")" && rest != "))" { // a repetition at the end cannot fail and backtrack
				e++
			}
		case c == '?':
			q++
		}
	}
	if q >= 27 {
		return 0
	}
	budget := float64(matchBudget) / math.Pow(2, float64(q))
	if e == 0 {
		return math.MaxInt
	}
	return int(math.Pow(budget, 1/float64(e)))
}

// strGsub is gsub with its output counted as it grows (gopher-lua's own
// copies the whole result once per match).
func (st *state) strGsub(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	st.checkMatch(L, "string.gsub", str, pat)
	mds, err := pm.Find(pat, []byte(str), 0, limit)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	var b strings.Builder
	last := 0
	for _, m := range mds {
		start, end := m.Capture(0), m.Capture(1)
		b.WriteString(str[last:start])
		last = end
		var r lua.LValue
		switch x := repl.(type) {
		case lua.LString:
			st.expand(L, &b, string(x), str, m)
			st.checkString(L, "string.gsub result", b.Len())
			continue
		case *lua.LTable:
			r = L.GetTable(x, capture(str, m, 1))
		default:
			L.Push(repl)
			n := 0
			if m.CaptureLength() <= 2 {
				L.Push(lua.LString(str[start:end]))
				n = 1
			}
			for i := 1; 2*i < m.CaptureLength(); i++ {
				L.Push(capture(str, m, i))
				n++
			}
			L.Call(n, 1)
			r = L.Get(-1)
			L.Pop(1)
		}
		switch v := r.(type) {
		case *lua.LNilType:
			b.WriteString(str[start:end])
		case lua.LBool:
			if v {
				L.RaiseError("invalid replacement value (a boolean)")
			}
			b.WriteString(str[start:end])
		case lua.LString, lua.LNumber:
			b.WriteString(v.String())
		default:
			L.RaiseError("invalid replacement value (a %s)", r.Type().String())
		}
		st.checkString(L, "string.gsub result", b.Len())
	}
	b.WriteString(str[last:])
	st.checkString(L, "string.gsub result", b.Len())
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(len(mds)))
	return 2
}

// capture is capture i (1-based) of m, or the whole match if m has none.
func capture(str string, m *pm.MatchData, i int) lua.LValue {
	idx := 2 * i
	if i == 0 || (i == 1 && m.CaptureLength() <= 2) {
		idx = 0
	}
	if m.IsPosCapture(idx) {
		return lua.LNumber(m.Capture(idx))
	}
	return lua.LString(str[m.Capture(idx):m.Capture(idx+1)])
}

// expand writes repl with %0..%9 replaced by captures; %x for another x
// is x, as in Lua 5.1.
func (st *state) expand(L *lua.LState, b *strings.Builder, repl, str string, m *pm.MatchData) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		d := repl[i]
		if d < '0' || d > '9' {
			b.WriteByte(d)
			continue
		}
		k := int(d - '0')
		if k > 1 && 2*k >= m.CaptureLength() {
			L.RaiseError("invalid capture index")
		}
		b.WriteString(capture(str, m, k).String())
		if b.Len() > st.lim.MaxString {
			st.checkString(L, "string.gsub result", b.Len())
		}
	}
}

func (st *state) tabConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	var b strings.Builder
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LString, lua.LNumber:
			b.WriteString(v.String())
		default:
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		if k < j {
			b.WriteString(sep)
		}
		st.checkString(L, "table.concat result", b.Len())
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// maxUnpack bounds how many values unpack may push at once.
const maxUnpack = 8000

func (st *state) unpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, t.Len())
	if i > j {
		return 0
	}
	if n := int64(j) - int64(i) + 1; n > maxUnpack {
		st.limit(L, LimitString, "unpack of "+strconv.FormatInt(n, 10)+" values, more than "+itoa(maxUnpack))
	}
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return j - i + 1
}

func (st *state) checkByte(L *lua.LState) {
	s := L.CheckString(1)
	i := L.OptInt(2, 1)
	i, j := sliceRange(len(s), i, L.OptInt(3, i))
	if j-i > maxUnpack {
		st.limit(L, LimitString, "string.byte of "+itoa(j-i)+" values, more than "+itoa(maxUnpack))
	}
}

func (st *state) checkDate(L *lua.LState) {
	if f, ok := L.Get(1).(lua.LString); ok && len(f) > 256 {
		L.RaiseError("os.date format longer than 256 bytes")
	}
}

// mathRandom is math.random with Lua 5.1's argument checks (gopher-lua's
// panics on an empty interval).
func mathRandom(L *lua.LState) int {
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(rand.Float64()))
		return 1
	case 1:
		L.Push(lua.LNumber(randRange(L, 1, L.CheckNumber(1))))
	default:
		L.Push(lua.LNumber(randRange(L, L.CheckNumber(1), L.CheckNumber(2))))
	}
	return 1
}

func randRange(L *lua.LState, m, n lua.LNumber) int64 {
	lo, hi := math.Floor(float64(m)), math.Floor(float64(n))
	if !(lo <= hi) || lo < -maxExact || hi > maxExact {
		L.RaiseError("bad argument to 'random' (interval is empty or beyond 2^53)")
	}
	return int64(lo) + rand.Int64N(int64(hi-lo)+1)
}

// tostring is the base library's, with a fast path for numbers and
// strings: gopher-lua formats a number through fmt.Sprint, which was most
// of the cost of a codec's `return tostring(value)`. The text is the same
// (TestNumberText).
func tostring(L *lua.LState) int {
	switch v := L.CheckAny(1).(type) {
	case lua.LNumber:
		L.Push(lua.LString(numberText(v)))
	case lua.LString:
		L.Push(v)
	default:
		L.Push(L.ToStringMeta(v))
	}
	return 1
}

// numberText is n as gopher-lua's LNumber.String writes it: an integral
// value as an integer, anything else as fmt's %v does.
func numberText(n lua.LNumber) string {
	f := float64(n)
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
