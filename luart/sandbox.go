package luart

import (
	"io"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

func init() {
	// gopher-lua grows a table's array part up to any integer key below
	// MaxArrayIndex in one assignment: t[67108863] = 1 would allocate 1 GiB
	// in one VM instruction, before any watchdog can act. Below 2^20 one
	// assignment allocates at most 32 MiB; keys above go to the hash part
	// (so # of a list counts its first 2^20 - 1 elements only).
	lua.MaxArrayIndex = 1 << 20
}

// state is one sandboxed gopher-lua state with its read-only globals. It
// belongs to one call at a time.
type state struct {
	L        *lua.LState
	lim      Limits
	ctx      *callCtx
	base     *lua.LTable         // the read-only globals every environment falls back to
	envMeta  *lua.LTable         // metatable of each call's environment
	env      *lua.LTable         // the calls' environment (see bind)
	envNames map[string]struct{} // every name env has held
	bound    []string            // the names of the last call's variables
	fn       *lua.LFunction      // the last call's function, of fnScript
	fnScript *Script
	locked   map[*lua.LTable]string

	bytesMeta, bigMeta, pathMeta, extMeta, mapMeta *lua.LTable

	out     io.Writer
	printed int  // bytes print wrote in this call
	broken  bool // gopher-lua panicked: do not reuse

	// require's state for one call: where module sources come from (the
	// runtime's Modules), the modules loaded, those being loaded.
	modules func(name string) (string, bool)
	loaded  map[string]lua.LValue
	loading map[string]bool

	// impure: the call asked for something besides its variables (the
	// time, a random number, a module), so its result may differ next
	// time for the same variables (see CallPure).
	impure bool
}

func (st *state) markImpure(*lua.LState) { st.impure = true }

var baseNames = []string{
	"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget",
	"select", "setmetatable", "getmetatable", "tonumber", "type",
	"_VERSION",
}

// newState builds a sandbox: only the safe parts of base, string, table,
// math and os, each library behind a read-only proxy.
func newState(lim Limits) *state {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   lim.MaxDepth,
		RegistrySize:    1024,
		RegistryMaxSize: 1024 + lim.MaxDepth*256,
		// gopher-lua copies the whole data stack at each growth step: a
		// step of 32 makes filling it quadratic.
		RegistryGrowStep: 4096,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	st := &state{L: L, lim: lim, ctx: &callCtx{lim: lim}, locked: map[*lua.LTable]string{}}
	g := L.G.Global
	base := L.NewTable()
	for _, n := range baseNames {
		base.RawSetString(n, g.RawGetString(n))
	}
	origPcall := g.RawGetString("pcall").(*lua.LFunction).GFunction
	origXpcall := g.RawGetString("xpcall").(*lua.LFunction).GFunction
	base.RawSetString("pcall", L.NewFunction(st.guard(origPcall)))
	base.RawSetString("xpcall", L.NewFunction(st.guard(origXpcall)))
	base.RawSetString("rawset", L.NewFunction(st.rawset))
	base.RawSetString("print", L.NewFunction(st.print))
	base.RawSetString("unpack", L.NewFunction(st.unpack))
	base.RawSetString("bytes", L.NewFunction(st.newBytes))
	base.RawSetString("require", L.NewFunction(st.require))
	base.RawSetString("tostring", L.NewFunction(tostring))

	str := g.RawGetString("string").(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("__index", lua.LNil) // OpenString made the library its own metatable
	orig := func(t *lua.LTable, n string) *lua.LFunction { return t.RawGetString(n).(*lua.LFunction) }
	for name, fn := range map[string]lua.LGFunction{
		"rep": st.strRep, "gsub": st.strGsub,
		"format":  st.wrap(orig(str, "format"), st.checkFormat),
		"find":    st.wrap(orig(str, "find"), st.checkPattern("find")),
		"match":   st.wrap(orig(str, "match"), st.checkPattern("match")),
		"gmatch":  st.wrap(orig(str, "gmatch"), st.checkPattern("gmatch")),
		"byte":    st.wrap(orig(str, "byte"), st.checkByte),
		"upper":   st.wrap(orig(str, "upper"), st.checkInput("upper")),
		"lower":   st.wrap(orig(str, "lower"), st.checkInput("lower")),
		"reverse": st.wrap(orig(str, "reverse"), st.checkInput("reverse")),
	} {
		str.RawSetString(name, L.NewFunction(fn))
	}
	str.RawSetString("gfind", str.RawGetString("gmatch"))
	tab := g.RawGetString("table").(*lua.LTable)
	tab.RawSetString("concat", L.NewFunction(st.tabConcat))
	for _, n := range []string{"insert", "remove", "sort"} {
		tab.RawSetString(n, L.NewFunction(st.wrap(orig(tab, n), st.checkWritable("table."+n))))
	}
	mth := g.RawGetString("math").(*lua.LTable)
	mth.RawSetString("randomseed", lua.LNil) // seeds the process-wide generator
	mth.RawSetString("random", L.NewFunction(func(L *lua.LState) int { st.impure = true; return mathRandom(L) }))
	osAll := g.RawGetString("os").(*lua.LTable)
	os := L.NewTable()
	os.RawSetString("time", L.NewFunction(st.wrap(orig(osAll, "time"), st.markImpure)))
	os.RawSetString("clock", L.NewFunction(st.wrap(orig(osAll, "clock"), st.markImpure)))
	os.RawSetString("date", L.NewFunction(st.wrap(orig(osAll, "date"), func(L *lua.LState) { st.impure = true; st.checkDate(L) })))

	strProxy := st.readOnly(str, "string")
	base.RawSetString("string", strProxy)
	base.RawSetString("table", st.readOnly(tab, "table"))
	base.RawSetString("math", st.readOnly(mth, "math"))
	base.RawSetString("os", st.readOnly(os, "os"))
	// Strings index the real library (fast), but getmetatable("") gives
	// the read-only proxy, so no script can change what "x":rep() does.
	strMeta := L.NewTable()
	strMeta.RawSetString("__index", str)
	strMeta.RawSetString("__metatable", strProxy)
	L.SetMetatable(lua.LString(""), strMeta)

	st.hide(base, "", "io", "require", "module", "package", "dofile", "loadfile", "load", "loadstring",
		"getfenv", "setfenv", "collectgarbage", "newproxy", "debug", "coroutine", "channel", "gcinfo")
	st.hide(str, "string.", "dump")
	st.hide(mth, "math.", "randomseed")
	st.hide(os, "os.", "execute", "remove", "rename", "exit", "getenv", "tmpname", "setlocale", "difftime")
	st.base = base
	st.locked[base] = "_G"
	st.envMeta = L.NewTable()
	st.envMeta.RawSetString("__index", base)
	st.envMeta.RawSetString("__newindex", L.NewFunction(st.newGlobal))
	st.envMeta.RawSetString("__metatable", lua.LString("protected"))
	st.initValues()
	st.newEnv()

	// Nothing may reach the state's own globals table any more.
	L.G.Global = L.NewTable()
	L.G.Registry.RawSetString("_LOADED", lua.LNil)
	return st
}

func (st *state) close() { st.L.Close() }

// readOnly returns an empty table that reads through to lib and refuses
// writes. pairs and next see the library through it.
func (st *state) readOnly(lib *lua.LTable, name string) *lua.LTable {
	L := st.L
	p := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", lib)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cannot change the library table '%s'", name)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LString("protected"))
	p.Metatable = mt
	st.locked[p] = name
	st.locked[lib] = name
	return p
}

// hide makes reading one of names from t an error that says it is not
// available, instead of a puzzling "attempt to call a nil value".
func (st *state) hide(t *lua.LTable, prefix string, names ...string) {
	hidden := map[string]bool{}
	for _, n := range names {
		hidden[n] = true
	}
	mt := st.L.NewTable()
	mt.RawSetString("__index", st.L.NewFunction(func(L *lua.LState) int {
		if k, ok := L.Get(2).(lua.LString); ok && hidden[string(k)] {
			L.RaiseError("%s%s is not available in the sandbox", prefix, string(k))
		}
		return 0
	}))
	t.Metatable = mt
}

func (st *state) newGlobal(L *lua.LState) int {
	L.RaiseError("assignment to undeclared global '%s' (declare it local)", lua.LVAsString(L.Get(2)))
	return 0
}

// checkWritable refuses the library tables and the environment as the
// first argument of a function that writes to a table without asking its
// metatable.
func (st *state) checkWritable(fn string) func(*lua.LState) {
	return func(L *lua.LState) {
		t := L.CheckTable(1)
		if name, ok := st.locked[t]; ok {
			L.RaiseError("cannot change the library table '%s'", name)
		}
		if t == st.env {
			L.RaiseError("%s on the global environment is not allowed", fn)
		}
	}
}

func (st *state) rawset(L *lua.LState) int {
	st.checkWritable("rawset")(L)
	t := L.CheckTable(1)
	k := L.CheckAny(2)
	if k == lua.LNil {
		L.ArgError(2, "table index is nil")
	}
	t.RawSet(k, L.CheckAny(3))
	L.SetTop(1)
	return 1
}

// guard wraps pcall and xpcall: a broken limit cannot be caught, the call
// stops anyway.
func (st *state) guard(f lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		n := f(L)
		if err := st.ctx.Err(); err != nil {
			L.RaiseError("%s", err.Error())
		}
		if L.Get(-n) == lua.LFalse && n >= 2 {
			if msg, ok := L.Get(-n + 1).(lua.LString); ok && isDepthError(trimPosition(string(msg))) {
				st.ctx.fail(&LimitError{Limit: LimitDepth, Detail: depthDetail(st.lim)})
				L.RaiseError("%s", st.ctx.Err().Error())
			}
		}
		return n
	}
}

// trimPosition drops a leading "chunk:line: ".
func trimPosition(msg string) string {
	for i := 0; i+1 < len(msg); i++ {
		if msg[i] == ':' && msg[i+1] >= '0' && msg[i+1] <= '9' {
			j := i + 1
			for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
				j++
			}
			if j+1 < len(msg) && msg[j] == ':' && msg[j+1] == ' ' {
				return msg[j+2:]
			}
		}
	}
	return msg
}

// print writes its line in one write: calls that share a writer (a
// runner's jobs) then do not mix their lines, and a line costs one system
// call where the writer is a pipe. A line that would take the call past
// MaxString is not written.
func (st *state) print(L *lua.LState) int {
	n := L.GetTop()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
		if st.printed+b.Len()+1 > st.lim.MaxString {
			st.limit(L, LimitString, "print wrote more than "+itoa(st.lim.MaxString)+" bytes")
		}
	}
	b.WriteByte('\n')
	if st.printed += b.Len(); st.printed > st.lim.MaxString {
		st.limit(L, LimitString, "print wrote more than "+itoa(st.lim.MaxString)+" bytes")
	}
	if st.out != nil {
		io.WriteString(st.out, b.String())
	}
	return 0
}

// limit stops the call: the error is recorded first, so that no pcall can
// swallow it.
func (st *state) limit(L *lua.LState, which, detail string) {
	st.ctx.fail(&LimitError{Limit: which, Detail: detail})
	L.RaiseError("%s", st.ctx.Err().Error())
}
