package luart

import (
	lua "github.com/yuin/gopher-lua"
)

// require(name) loads a stored module (Runtime.SetModules): its chunk
// runs once per call, in an environment of its own that refuses new
// globals like a script's, and what it returns is what require returns
// (true if nothing). A module that requires itself, directly or through
// others, is an error, as is a name no module has. Modules run under the
// call's limits.
func (st *state) require(L *lua.LState) int {
	name := L.CheckString(1)
	st.impure = true // a module may change between calls
	if v, ok := st.loaded[name]; ok {
		L.Push(v)
		return 1
	}
	if st.modules == nil {
		L.RaiseError("require %q: no modules are available here", name)
	}
	if st.loading[name] {
		L.RaiseError("require %q: the module requires itself (a cycle)", name)
	}
	src, ok := st.modules(name)
	if !ok {
		L.RaiseError("require %q: no such module (modules are stored with distkv client code module set)", name)
	}
	s, err := Compile("module "+name, src)
	if err != nil {
		L.RaiseError("require %q: %s", name, err.Error())
	}
	if st.loading == nil {
		st.loading = map[string]bool{}
		st.loaded = map[string]lua.LValue{}
	}
	st.loading[name] = true
	env := L.CreateTable(0, 4)
	env.Metatable = st.envMeta
	env.RawSetString("_G", env)
	fn := L.NewFunctionFromProto(s.proto)
	fn.Env = env
	L.Push(fn)
	L.Call(0, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == lua.LNil {
		v = lua.LTrue
	}
	delete(st.loading, name)
	st.loaded[name] = v
	L.Push(v)
	return 1
}
