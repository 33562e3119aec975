package luart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// Runtime runs scripts on pooled, sandboxed states under one set of
// limits. It is safe for concurrent use; each state belongs to one call at
// a time.
type Runtime struct {
	lim     Limits
	pool    sync.Pool // of *state
	modules func(name string) (string, bool)

	// What the calls did (see Stats).
	calls, failed atomic.Uint64
	broke         [len(limitNames)]atomic.Uint64 // by limitNames
}

// limitNames are the limits a *LimitError names, in the order Stats
// counts them.
var limitNames = [...]string{LimitTimeout, LimitMemory, LimitDepth, LimitString, LimitMatch}

// Stats count a Runtime's calls since it was made, for monitoring.
type Stats struct {
	Calls  uint64            // Call and CallPure calls
	Errors uint64            // those that returned an error (broken limits included)
	Limits map[string]uint64 // the broken limits, by name (LimitTimeout …); every name is there
}

// Stats returns the counts.
func (rt *Runtime) Stats() Stats {
	st := Stats{Calls: rt.calls.Load(), Errors: rt.failed.Load(), Limits: make(map[string]uint64, len(limitNames))}
	for i, name := range limitNames {
		st.Limits[name] = rt.broke[i].Load()
	}
	return st
}

// count counts a call that returned err.
func (rt *Runtime) count(err error) {
	rt.calls.Add(1)
	if err == nil {
		return
	}
	rt.failed.Add(1)
	var le *LimitError
	if errors.As(err, &le) {
		for i, name := range limitNames {
			if le.Limit == name {
				rt.broke[i].Add(1)
			}
		}
	}
}

// SetModules says where require finds modules: source returns the Lua
// text of the module of a name, and false if there is none. Without it,
// require fails. Call it before the first Call. Modules never come from
// files.
func (rt *Runtime) SetModules(source func(name string) (string, bool)) {
	rt.modules = source
}

// New returns a runtime whose calls run under l (zero fields take the
// ValidatorLimits values).
func New(l Limits) *Runtime {
	return &Runtime{lim: l.withDefaults()}
}

// Limits returns the limits of every call (defaults filled in).
func (rt *Runtime) Limits() Limits { return rt.lim }

// Var is a variable of a call: the script sees it as a global.
type Var struct {
	Name  string
	Value any // in the pack value model (see the package doc)
}

// Call runs the chunk with vars as globals of a fresh environment and
// returns what it returns (the first value), converted to the pack value
// model (see the package doc). print() output goes to out (nil:
// discarded). An error raised by the script is a *ScriptError, a broken
// limit a *LimitError; if ctx ends first, ctx's error. A value that cannot
// cross the bridge is an error wrapping ErrValue.
func (rt *Runtime) Call(ctx context.Context, s *Script, vars []Var, out io.Writer) (any, error) {
	v, _, err := rt.CallPure(ctx, s, vars, out)
	return v, err
}

// CallPure is Call that also reports whether the result depends on vars
// alone: true unless the script asked for the time (os.time, os.clock,
// os.date), a random number or a module, or broke a limit or was stopped.
// The sandbox gives a script nothing else that changes between calls, so
// a pure result may be remembered for the same variables (types and
// codecs do). What the script prints is not part of its result.
func (rt *Runtime) CallPure(ctx context.Context, s *Script, vars []Var, out io.Writer) (any, bool, error) {
	v, pure, err := rt.callPure(ctx, s, vars, out)
	rt.count(err)
	return v, pure, err
}

func (rt *Runtime) callPure(ctx context.Context, s *Script, vars []Var, out io.Writer) (any, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	st, _ := rt.pool.Get().(*state)
	if st == nil {
		st = newState(rt.lim)
	}
	c := st.ctx
	c.reset(ctx, rt.lim)
	st.out, st.printed = out, 0
	st.modules, st.loaded, st.loading, st.impure = rt.modules, nil, nil, false
	v, err := st.call(s, vars)
	pure := !st.impure
	unwatch(c)
	c.release()
	st.out, st.modules, st.loaded, st.loading = nil, nil, nil, nil
	if e := c.Err(); e != nil {
		// The state broke a limit (or was stopped half-way): it may hold
		// garbage of any size or a half-done built-in. Let it go.
		st.close()
		return nil, false, e
	}
	var le *LimitError
	if st.broken || errors.As(err, &le) {
		st.close()
		pure = false
	} else {
		rt.pool.Put(st)
	}
	return v, pure, err
}

// call runs s on st. It never panics: gopher-lua's own faults are
// recovered and reported as a *ScriptError with Panic set.
func (st *state) call(s *Script, vars []Var) (v any, err error) {
	L := st.L
	defer func() {
		if r := recover(); r != nil {
			st.broken = true
			v, err = nil, &ScriptError{Script: s.name, Message: clip(anyString(r)), Panic: true}
		}
		L.RemoveContext()
		L.SetTop(0)
	}()
	if err := st.bind(vars); err != nil {
		return nil, err
	}
	fn := st.fn
	if st.fnScript != s {
		// A script is often called many times in a row; its function
		// value can be reused, since no script can reach it.
		fn = L.NewFunctionFromProto(s.proto)
		st.fn, st.fnScript = fn, s
	}
	fn.Env = st.env
	L.SetContext(st.ctx)
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		L.RemoveContext()
		if e := st.ctx.Err(); e != nil {
			return nil, e
		}
		return nil, st.scriptError(s, err)
	}
	L.RemoveContext()
	return st.fromLua(L.Get(-1), 0)
}

// The environment table is reused: a new one per call costs two Go maps,
// more than the rest of a short call. Nothing but the variables and _G can
// be stored in it (new globals, rawset and the table library refuse it),
// so a call sees only its own variables once bind has removed the names of
// the last call's that it does not have and set the others (a call's
// values stay referenced until the state's next call or its end).
// gopher-lua never forgets a key a table has held, so a table that has
// seen many names is replaced.
const maxEnvNames = 64

// bind makes vars the environment's variables, and _G the environment.
func (st *state) bind(vars []Var) error {
	env := st.env
	if !sameNames(st.bound, vars) {
		for _, k := range st.bound {
			env.RawSetString(k, lua.LNil)
		}
		st.bound = st.bound[:0]
		for _, v := range vars {
			st.envNames[v.Name] = struct{}{}
		}
		if len(st.envNames) > maxEnvNames {
			st.newEnv()
			env = st.env
		}
		for _, v := range vars {
			st.bound = append(st.bound, v.Name)
		}
	}
	for _, v := range vars {
		lv, err := st.toLua(v.Value, 0)
		if err != nil {
			return fmt.Errorf("variable %s: %w", v.Name, err)
		}
		env.RawSetString(v.Name, lv)
	}
	if env.RawGetString("_G") != env {
		env.RawSetString("_G", env)
	}
	return nil
}

func sameNames(names []string, vars []Var) bool {
	if len(names) != len(vars) {
		return false
	}
	for i, v := range vars {
		if names[i] != v.Name {
			return false
		}
	}
	return true
}

func (st *state) newEnv() {
	st.env = st.L.CreateTable(0, 4)
	st.env.Metatable = st.envMeta
	st.envNames = map[string]struct{}{"_G": {}}
	st.bound = st.bound[:0]
}

// scriptError turns what PCall returned into a *ScriptError, or a
// *LimitError for the call stack, which gopher-lua reports as a message.
func (st *state) scriptError(s *Script, err error) error {
	ae, ok := err.(*lua.ApiError)
	if !ok {
		return &ScriptError{Script: s.name, Message: clip(err.Error())}
	}
	if ae.Type == lua.ApiErrorPanic {
		st.broken = true
		return &ScriptError{Script: s.name, Message: clip(lua.LVAsString(ae.Object)), Panic: true}
	}
	e := &ScriptError{Script: s.name, Trace: clip(strings.TrimSpace(ae.StackTrace))}
	switch o := ae.Object.(type) {
	case lua.LString:
		e.Message = string(o)
		e.Position, e.Message = splitPosition(s.name, e.Message)
		if isDepthError(e.Message) {
			st.broken = true
			return &LimitError{Limit: LimitDepth, Detail: depthDetail(st.lim)}
		}
	case lua.LNumber:
		e.Message = o.String()
	case *lua.LNilType:
		e.Message = "(error object is nil)"
	default:
		e.Message = "(error object is a " + o.Type().String() + " value)"
	}
	e.Message = clip(e.Message)
	return e
}

func isDepthError(msg string) bool {
	return msg == "stack overflow" || strings.HasSuffix(msg, "callstack overflow") || msg == "registry overflow"
}

// splitPosition splits "name:12: message" into "name:12" and "message".
func splitPosition(name, msg string) (pos, rest string) {
	p := name + ":"
	if !strings.HasPrefix(msg, p) {
		return "", msg
	}
	i := len(p)
	j := i
	for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
		j++
	}
	if j == i || !strings.HasPrefix(msg[j:], ": ") {
		return "", msg
	}
	if _, err := strconv.Atoi(msg[i:j]); err != nil {
		return "", msg
	}
	return msg[:j], msg[j+2:]
}

// clip bounds a message to MaxMessage bytes on a rune boundary.
func clip(s string) string {
	if len(s) <= MaxMessage {
		return s
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	default:
		return fmt.Sprint(x)
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func depthDetail(l Limits) string {
	return "stack overflow (at most " + strconv.Itoa(l.MaxDepth) + " nested calls)"
}
