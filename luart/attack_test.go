package luart

import (
	"context"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An attack is a hostile script and how it must fail.
type attack struct {
	name   string
	src    string
	limit  string // the LimitError expected; "" means a ScriptError
	limit2 string // another acceptable limit (memory bombs may hit the deadline first)
	msg    string // a substring the error must hold
}

var attacks = []attack{
	// files and processes
	{name: "io.open", src: `return io.open("/etc/passwd"):read("*a")`, msg: "io"},
	{name: "os.execute", src: `return os.execute("touch /tmp/luart-pwned")`, msg: "execute"},
	{name: "os.remove", src: `return os.remove("/tmp/x")`, msg: "remove"},
	{name: "os.getenv", src: `return os.getenv("HOME")`, msg: "getenv"},
	{name: "os.exit", src: `os.exit(1)`, msg: "exit"},
	{name: "require", src: `return require("os")`, msg: "require"},
	{name: "dofile", src: `return dofile("/etc/passwd")`, msg: "dofile"},
	{name: "loadfile", src: `return loadfile("/etc/passwd")`, msg: "loadfile"},
	{name: "load", src: `return load(function() return nil end)`, msg: "load is not available"},
	{name: "loadstring", src: `return loadstring("return 1")()`, msg: "loadstring"},
	{name: "string.dump", src: `return string.dump(function() end)`, msg: "dump"},
	{name: "bytecode via method", src: `return ("x").dump(print)`, msg: "dump"},
	{name: "package", src: `return package.loaded`, msg: "package"},
	{name: "debug", src: `return debug.getinfo(1)`, msg: "debug"},
	{name: "collectgarbage", src: `collectgarbage()`, msg: "collectgarbage"},
	{name: "newproxy", src: `return newproxy(true)`, msg: "newproxy"},
	{name: "channel", src: `return channel.make()`, msg: "channel"},
	// environment escapes
	{name: "getfenv", src: `return getfenv(1)`, msg: "getfenv"},
	{name: "setfenv", src: `setfenv(1, {})`, msg: "setfenv"},
	{name: "string metatable", src: `getmetatable("").rep = nil`, msg: "cannot change the library table 'string'"},
	{name: "string metatable __index", src: `getmetatable("").__index = {}`, msg: "cannot change"},
	{name: "setmetatable on string lib", src: `setmetatable(string, {})`, msg: "protected metatable"},
	{name: "library write", src: `string.rep = function() return "pwned" end`, msg: "cannot change the library table 'string'"},
	{name: "math write", src: `math.floor = nil`, msg: "cannot change the library table 'math'"},
	{name: "rawset library", src: `rawset(string, "rep", nil)`, msg: "cannot change the library table 'string'"},
	{name: "rawset _G", src: `rawset(_G, "x", 1)`, msg: "rawset on the global environment"},
	{name: "table.insert library", src: `table.insert(string, "x")`, msg: "cannot change the library table 'string'"},
	{name: "table.insert _G", src: `table.insert(_G, "x")`, msg: "table.insert on the global environment"},
	{name: "table.sort library", src: `table.sort(math)`, msg: "cannot change the library table 'math'"},
	{name: "global", src: `pwned = true`, msg: "assignment to undeclared global 'pwned'"},
	{name: "_G global", src: `_G.print = nil`, msg: "undeclared global 'print'"},
	{name: "library metatable", src: `getmetatable(string).__index.rep = nil`, msg: "index"},
	{name: "env metatable", src: `setmetatable(_G, nil)`, msg: "protected metatable"},
	{name: "bytes metatable", src: `getmetatable(bytes("x")).__len = nil`, msg: "index"},
	{name: "randomseed", src: `math.randomseed(1)`, msg: "randomseed"},
	// time
	{name: "infinite loop", src: `while true do end`, limit: LimitTimeout},
	{name: "loop in pcall", src: `while true do pcall(function() while true do end end) end`, limit: LimitTimeout},
	{name: "xpcall handler loops", src: `xpcall(function() error("x") end, function() while true do end end)`, limit: LimitTimeout},
	{name: "sort comparator loops", src: `table.sort({3, 2, 1}, function(a, b) while true do end end)`, limit: LimitTimeout},
	{name: "quadratic pattern", src: `return string.find(string.rep("a", 60000), ".-.-b")`, limit: LimitMatch},
	{name: "exponential pattern", src: `return string.find(string.rep("a", 30), string.rep("a?", 30) .. string.rep("a", 30) .. "b")`, limit: LimitMatch},
	{name: "pattern subject", src: `return string.match(string.rep("a", 1000000), "^a+$")`, limit: LimitMatch},
	// depth
	{name: "recursion", src: `local function f() return 1 + f() end return f()`, limit: LimitDepth},
	{name: "recursion in pcall", src: `local function f() return 1 + f() end for i = 1, 100 do pcall(f) end return "survived"`, limit: LimitDepth},
	{name: "__index recursion", src: `local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x`, limit: LimitDepth},
	{name: "gsub recursion", src: `local function f(s) return (s:gsub(".", f)) end return f("abc")`, limit: LimitDepth},
	{name: "tostring recursion", src: `local t t = setmetatable({}, {__tostring = function() return tostring(t) end}) return tostring(t)`, limit: LimitDepth},
	// allocation
	{name: "string.rep", src: `return string.rep("x", 1e9)`, limit: LimitString},
	{name: "rep by method", src: `return ("xx"):rep(1e8)`, limit: LimitString},
	{name: "concat doubling", src: `local s = string.rep("x", 1e6) while true do s = s .. s end`, limit: LimitMemory, limit2: LimitTimeout},
	{name: "table.concat", src: `local t = {} for i = 1, 2000 do t[i] = string.rep("x", 1000) end return table.concat(t, string.rep("y", 1000))`, limit: LimitString},
	{name: "format width", src: `return string.format("%999999999d", 1)`, msg: "width or precision too long"},
	{name: "format args", src: `local s = string.rep("x", 1e6) return string.format("%s%s%s", s, s, s)`, limit: LimitString},
	{name: "unpack", src: `return unpack({}, 1, 1e8)`, limit: LimitString},
	{name: "string.byte", src: `return string.byte(string.rep("x", 1e6), 1, -1)`, limit: LimitString},
	{name: "data stack", src: `local t = {} local function f(...) t[#t+1] = 1 return f(unpack({}, 1, 7999), ...) end return f()`, limit: LimitDepth, limit2: LimitTimeout},
	{name: "gsub growth", src: `return string.gsub(string.rep("x", 60000), "x", string.rep("y", 100))`, limit: LimitString},
	{name: "gsub doubling", src: `local s = "x" for i = 1, 40 do s = s:gsub(".", "%0%0") end return s`, limit: LimitString, limit2: LimitMatch},
	{name: "gsub function growth", src: `return string.gsub(string.rep("x", 60000), "x", function() return string.rep("y", 100) end)`, limit: LimitString, limit2: LimitTimeout},
	{name: "upper of huge", src: `local s = string.rep("x", 1e6) s = s .. s return s:upper()`, limit: LimitString},
	{name: "bytes doubling", src: `local b = bytes("x") while true do b = b .. b end`, limit: LimitString},
	{name: "bigint squaring", src: `local b = big while true do b = b * b end`, limit: LimitString},
	{name: "table growth", src: `local t, i = {}, 0 while true do i = i + 1 t[i] = {i} end`, limit: LimitMemory, limit2: LimitTimeout},
	{name: "sparse arrays", src: `local all = {} for i = 1, 1e6 do local t = {} t[1048575] = i all[i] = t end`, limit: LimitMemory, limit2: LimitTimeout},
	{name: "strings in a table", src: `local s, t = string.rep("x", 1e6), {} for i = 1, 1e6 do t[i] = s .. i end`, limit: LimitMemory, limit2: LimitTimeout},
	{name: "print flood", src: `while true do print(string.rep("x", 1000)) end`, limit: LimitString},
	{name: "os.date format", src: `return os.date(string.rep("%c", 1e5))`, msg: "os.date format"},
	// coroutines
	{name: "coroutine bomb", src: `local t = {} for i = 1, 1e6 do t[i] = coroutine.create(function() end) end`, msg: "coroutine"},
	{name: "yield", src: `coroutine.yield(1)`, msg: "coroutine"},
	{name: "wrap", src: `return coroutine.wrap(function() end)`, msg: "coroutine"},
	// error values
	{name: "huge error", src: `error(string.rep("x", 1e6))`, msg: "xxxx…"},
	{name: "table error", src: `error({})`, msg: "(error object is a table value)"},
	{name: "nil error", src: `error(nil)`, msg: "(error object is nil)"},
	{name: "error with looping __tostring", src: `error(setmetatable({}, {__tostring = function() while true do end end}))`, msg: "table value"},
	{name: "error in error handler", src: `error(setmetatable({}, {__index = function() error("inner") end}))`, msg: "table value"},
	{name: "bytes error", src: `error(bytes("x"))`, msg: "userdata value"},
}

func TestAttacks(t *testing.T) {
	if len(attacks) < 30 {
		t.Fatalf("only %d attacks", len(attacks))
	}
	rt := New(ValidatorLimits)
	pct := mustCompile(t, "int.percent", percentBody)
	intact := mustCompile(t, "intact", `return ("ab"):rep(2) .. string.upper("x") .. tostring(getmetatable("").rep == string.rep) .. type(string.rep) .. type(pwned) .. #string .. tostring(_G[1]) .. type(value)`)

	// Normal calls keep running beside the attacks, and all succeed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := rt.Call(context.Background(), pct, []Var{{"value", int64(12)}}, nil)
			calls.Add(1)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()

	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			s := mustCompile(t, "attack", a.src)
			done := make(chan error, 1)
			go func() {
				_, err := rt.Call(context.Background(), s, []Var{{"big", new(big.Int).Lsh(big.NewInt(1), 70)}}, nil)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second): // a hang guard, not a timing
				t.Fatal("the call did not end")
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("%v", err)
			var le *LimitError
			var se *ScriptError
			switch {
			case a.limit != "":
				if !errors.As(err, &le) || (le.Limit != a.limit && le.Limit != a.limit2) {
					t.Fatalf("want a %s limit error, got %T %v", a.limit, err, err)
				}
			case !errors.As(err, &se):
				t.Fatalf("want a script error, got %T %v", err, err)
			case se.Panic:
				t.Fatalf("the interpreter panicked: %v", err)
			case len(se.Message) > MaxMessage+len("…"):
				t.Fatalf("message of %d bytes", len(se.Message))
			}
			if !strings.Contains(err.Error(), a.msg) {
				t.Fatalf("error %q does not hold %q", err, a.msg)
			}
			v, err := rt.Call(context.Background(), intact, nil, nil)
			if err != nil || v != "ababXtruefunctionnil0nilnil" {
				t.Fatalf("after the attack: %v %v", v, err)
			}
		})
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || calls.Load() == 0 {
		t.Errorf("normal calls: %d of %d failed (%v)", failed.Load(), calls.Load(), firstErr.Load())
	}
}

const percentBody = `if value < 0 or value > 100 then error("not a percentage") end`

func TestContextCanceled(t *testing.T) {
	rt := New(JobLimits)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rt.Call(ctx, mustCompile(t, "loop", "while true do end"), nil, nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// TestGlobalsDoNotLeak: one state runs calls one after another; none sees
// another's variables or what it did to its environment.
func TestGlobalsDoNotLeak(t *testing.T) {
	st := newState(ValidatorLimits)
	defer st.close()
	call := func(src string, vars ...Var) (any, error) {
		t.Helper()
		st.ctx.reset(context.Background(), st.lim)
		defer unwatch(st.ctx)
		return st.call(mustCompile(t, "test", src), vars)
	}
	for i, c := range []struct {
		src  string
		vars []Var
		want any // a string starting with "error: " is an error's start
	}{
		{`local x = 1 value = 5 return value`, []Var{{"value", int64(1)}}, int64(5)},
		{`return type(value)`, nil, "nil"},
		{`value = 1`, nil, "error: assignment to undeclared global 'value'"},
		{`return a + b`, []Var{{"a", int64(1)}, {"b", int64(2)}}, int64(3)},
		{`return type(b)`, []Var{{"a", int64(1)}}, "nil"},
		{`b = 2`, []Var{{"a", int64(1)}}, "error: assignment to undeclared global 'b'"},
		{`a = nil _G = nil return 1`, []Var{{"a", int64(1)}}, int64(1)},
		{`return _G.a + a`, []Var{{"a", int64(4)}}, int64(8)},
		{`return rawequal(_G, _G._G) and _G.a == nil`, nil, true},
		{`_G.value = {} return 1`, []Var{{"value", "x"}}, int64(1)},
		{`return value`, []Var{{"value", "y"}}, "y"},
		{`rawset(_G, "z", 1)`, nil, "error: rawset on the global environment is not allowed"},
		{`return type(z)`, nil, "nil"},
	} {
		got, err := call(c.src, c.vars...)
		if want, ok := c.want.(string); ok && strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("%d %s: %v %v, want %s", i, c.src, got, err, want)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%d %s: %#v %v, want %#v", i, c.src, got, err, c.want)
		}
	}
	// Many names over time: the environment is replaced, and still holds
	// only the call's own.
	for i := range 3 * maxEnvNames {
		name := "v" + strconv.Itoa(i)
		got, err := call(`return `+name+` + (v0 or 0)`, Var{name, int64(i)})
		if err != nil || got != int64(i) { // v0 is nil but in the first call
			t.Fatalf("%s: %v %v", name, got, err)
		}
	}
}

func TestMathRandom(t *testing.T) {
	rt := New(ValidatorLimits)
	for _, src := range []string{`return math.random(0)`, `return math.random(5, 1)`, `return math.random(1, 1e300)`} {
		if _, err := run(t, rt, src, nil); err == nil || strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", src, err)
		}
	}
	v, err := run(t, rt, `local x = math.random(3, 4) return x >= 3 and x <= 4 and math.random() < 1`, nil)
	if err != nil || v != true {
		t.Fatalf("%v %v", v, err)
	}
}
