package luart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
)

func mustCompile(t testing.TB, name, src string) *Script {
	t.Helper()
	s, err := Compile(name, src)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

func run(t testing.TB, rt *Runtime, src string, vars []Var) (any, error) {
	t.Helper()
	return rt.Call(context.Background(), mustCompile(t, "test", src), vars, nil)
}

func TestTutorial(t *testing.T) {
	rt := New(ValidatorLimits)
	intBody := `if type(value) ~= "number" or value ~= math.floor(value) then error("not an integer") end`
	pct := `if value < 0 or value > 100 then error("not a percentage") end`
	for _, v := range []any{int64(0), int64(-2), int64(123)} {
		if _, err := run(t, rt, intBody, []Var{{"value", v}}); err != nil {
			t.Errorf("int %v: %v", v, err)
		}
	}
	for _, v := range []any{1.2, "Hello"} {
		_, err := run(t, rt, intBody, []Var{{"value", v}})
		var se *ScriptError
		if !errors.As(err, &se) || se.Message != "not an integer" || se.Position != "test:1" {
			t.Errorf("int %v: %#v", v, err)
		}
	}
	_, err := run(t, rt, pct, []Var{{"value", int64(123)}})
	var se *ScriptError
	if !errors.As(err, &se) || se.Message != "not a percentage" {
		t.Errorf("percent 123: %v", err)
	}
	if v, err := run(t, rt, "return tostring(value)", []Var{{"value", 13.25}}); err != nil || v != "13.25" {
		t.Errorf("tostring: %#v %v", v, err)
	}
	if v, err := run(t, rt, "return tonumber(value)", []Var{{"value", "12.5"}}); err != nil || v != 12.5 {
		t.Errorf("tonumber: %#v %v", v, err)
	}
	var out bytes.Buffer
	v, err := rt.Call(context.Background(), mustCompile(t, "the.answer", "print(\"Forty-Two!\")\nreturn 42"), nil, &out)
	if err != nil || v != int64(42) || out.String() != "Forty-Two!\n" {
		t.Errorf("the.answer: %#v %v %q", v, err, out.String())
	}
	_, err = run(t, rt, `error("Owch")`, nil)
	if !errors.As(err, &se) || se.Message != "Owch" {
		t.Errorf("the.error: %v", err)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Compile("bad", "local x = 1\nif x then\n")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
	t.Log(se)
	_, err = Compile("bad2", "local x = 1\nx = = 2\n")
	if !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("got %#v", err)
	}
}

// TestScriptMemory: a compiled one-line validator keeps little memory
// (gopher-lua's compiler leaves about 15 KB of spare room in each
// prototype; 10,000 types and codecs took 1.3 GB), and still runs, as do
// nested functions.
func TestScriptMemory(t *testing.T) {
	const n = 500
	var scripts []*Script
	// The heap is the process's: goroutines of earlier tests may still
	// allocate, so the least of three tries counts.
	per := int64(math.MaxInt64)
	for range 3 {
		scripts = make([]*Script, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range scripts {
			// compile, not Compile: the cache would hold them too.
			s, err := compile("mem", fmt.Sprintf("if value < 0 or value > %d then error(\"not in range\") end", i))
			if err != nil {
				t.Fatal(err)
			}
			scripts[i] = s
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = min(per, (int64(after.HeapAlloc)-int64(before.HeapAlloc))/n)
	}
	t.Logf("%d bytes per compiled script", per)
	if per > 4096 {
		t.Errorf("a compiled one-line script keeps %d bytes, want under 4 KB", per)
	}
	rt := New(ValidatorLimits)
	if _, err := rt.Call(context.Background(), scripts[n-1], []Var{{"value", int64(n)}}, nil); err == nil {
		t.Errorf("value %d passes 0…%d", n, n-1)
	}
	v, err := run(t, rt, "local function f(x) local function g(y) return y * 2 end return g(x) + 1 end return f(value)", []Var{{"value", int64(20)}})
	if err != nil || v != int64(41) {
		t.Errorf("nested functions: %v, %v; want 41", v, err)
	}
	runtime.KeepAlive(scripts)
}

// TestTraceback: a script's error carries the Lua traceback.
func TestTraceback(t *testing.T) {
	rt := New(ValidatorLimits)
	_, err := run(t, rt, "local function inner() error(\"Owch\") end\nlocal function outer() inner() end\nouter()", nil)
	var se *ScriptError
	if !errors.As(err, &se) || se.Message != "Owch" {
		t.Fatalf("%v", err)
	}
	if !strings.HasPrefix(se.Trace, "stack traceback:") || !strings.Contains(se.Trace, "test:1: in function 'inner'") && !strings.Contains(se.Trace, "test:1:") {
		t.Fatalf("trace %q", se.Trace)
	}
	t.Log(se.Trace)
}

// writeLog records each write on its own.
type writeLog struct{ writes []string }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestPrintOneWrite: print writes its whole line at once, so that the
// lines of calls that share a writer (a runner's jobs, each writing under
// a lock) do not mix, and a line costs one write to a pipe, not one per
// argument and separator.
func TestPrintOneWrite(t *testing.T) {
	rt := New(JobLimits)
	for _, tt := range []struct{ src, want string }{
		{`print("LAT", 12, 0.5)`, "LAT\t12\t0.5\n"},
		{`print()`, "\n"},
		{`print(nil, true)`, "nil\ttrue\n"},
	} {
		var w writeLog
		if _, err := rt.Call(context.Background(), mustCompile(t, "p", tt.src), nil, &w); err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if len(w.writes) != 1 || w.writes[0] != tt.want {
			t.Errorf("%s: writes %q, want one: %q", tt.src, w.writes, tt.want)
		}
	}
	// A line over the limit is refused whole.
	lim := JobLimits
	lim.MaxString = 10
	var w writeLog
	_, err := New(lim).Call(context.Background(), mustCompile(t, "p", `print("12345") print("12345", "x")`), nil, &w)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitString || len(w.writes) != 1 || w.writes[0] != "12345\n" {
		t.Errorf("over the limit: %v, writes %q", err, w.writes)
	}
}
