package luart

import (
	"context"
	"strings"
	"testing"
)

// TestRequire: require loads stored modules only, once per call, each in
// an environment of its own; cycles, missing modules and a runtime
// without modules are clear errors.
func TestRequire(t *testing.T) {
	mods := map[string]string{
		"util":    `local M = {} function M.double(x) return 2 * x end return M`,
		"counter": `n = 1 return n`, // a new global: refused
		"a":       `return require("b")`,
		"b":       `return require("a")`,
		"none":    `local x = 1`,
		"bad":     `return (`,
	}
	rt := New(ValidatorLimits)
	rt.SetModules(func(name string) (string, bool) { s, ok := mods[name]; return s, ok })
	run := func(src string) (any, error) {
		s, err := Compile("test", src)
		if err != nil {
			t.Fatal(err)
		}
		return rt.Call(context.Background(), s, nil, nil)
	}
	if v, err := run(`local u = require("util") return u.double(21) + (require("util") == u and 0 or 1)`); err != nil || v != int64(42) {
		t.Fatalf("util: %v, %v", v, err)
	}
	if v, err := run(`return require("none")`); err != nil || v != true {
		t.Fatalf("a module that returns nothing: %v, %v", v, err)
	}
	for src, want := range map[string]string{
		`return require("nope")`:    "no such module",
		`return require("a")`:       "cycle",
		`return require("counter")`: "n",
		`return require("bad")`:     "module bad",
	} {
		if _, err := run(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", src, err, want)
		}
	}
	plain := New(ValidatorLimits)
	s, _ := Compile("test", `return require("util")`)
	if _, err := plain.Call(context.Background(), s, nil, nil); err == nil || !strings.Contains(err.Error(), "no modules") {
		t.Fatalf("without modules: %v", err)
	}
}

// TestCallPure: a result depends on the variables alone unless the
// script asked for the time, a random number or a module.
func TestCallPure(t *testing.T) {
	rt := New(ValidatorLimits)
	rt.SetModules(func(string) (string, bool) { return "return 1", true })
	for src, want := range map[string]bool{
		`return value + 1`:                         true,
		`if value < 0 then error("neg") end`:       true,
		`return os.time()`:                         false,
		`return os.clock()`:                        false,
		`return os.date("%Y")`:                     false,
		`return math.random(10)`:                   false,
		`return require("m")`:                      false,
		`local f = os.time return value`:           true,  // named, not called
		`local function f(n) return f(n) end f(1)`: false, // a limit
	} {
		s, err := Compile("test", src)
		if err != nil {
			t.Fatal(err)
		}
		_, pure, _ := rt.CallPure(context.Background(), s, []Var{{"value", int64(1)}}, nil)
		if pure != want {
			t.Errorf("%s: pure %v, want %v", src, pure, want)
		}
	}
}
