package luart

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHostFunctions(t *testing.T) {
	rt := New(ValidatorLimits)
	var got []any
	mod := Module{
		"add": func(_ context.Context, args []any) ([]any, error) {
			got = args
			return []any{args[0].(int64) + args[1].(int64), "two"}, nil
		},
		"fail": func(context.Context, []any) ([]any, error) { return nil, errors.New("no such entry") },
		"count": func(context.Context, []any) ([]any, error) {
			n := int64(0)
			next := Func(func(context.Context, []any) ([]any, error) {
				if n++; n > 3 {
					return nil, nil
				}
				return []any{n}, nil
			})
			return []any{next}, nil
		},
	}
	v, pure, err := rt.CallPure(context.Background(), mustCompile(t, "t", `local a, b = dkv.add(40, 2, "x") return a .. b`), []Var{{"dkv", mod}}, nil)
	if err != nil || v != "42two" || pure {
		t.Fatalf("add: %v %v %v", v, pure, err)
	}
	if len(got) != 3 || got[2] != "x" {
		t.Fatalf("arguments: %#v", got)
	}
	_, err = rt.Call(context.Background(), mustCompile(t, "t", `dkv.fail()`), []Var{{"dkv", mod}}, nil)
	var se *ScriptError
	if !errors.As(err, &se) || se.Message != "no such entry" {
		t.Fatalf("fail: %v", err)
	}
	v, err = rt.Call(context.Background(), mustCompile(t, "t", `local ok, e = pcall(dkv.fail) return tostring(ok) .. " " .. e`), []Var{{"dkv", mod}}, nil)
	if err != nil || !strings.HasSuffix(v.(string), "no such entry") || !strings.HasPrefix(v.(string), "false") {
		t.Fatalf("pcall: %v %v", v, err)
	}
	v, err = rt.Call(context.Background(), mustCompile(t, "t", `local s = 0 for i in dkv.count() do s = s + i end return s`), []Var{{"dkv", mod}}, nil)
	if err != nil || v != int64(6) {
		t.Fatalf("iterator: %v %v", v, err)
	}
	if _, err := rt.Call(context.Background(), mustCompile(t, "t", `dkv.add(function() end, 1)`), []Var{{"dkv", mod}}, nil); err == nil || !strings.Contains(err.Error(), "bad argument #1") {
		t.Fatalf("a function as argument: %v", err)
	}
}

// TestHostBlocks: a host function that blocks ends with the call: at its
// deadline, or when the caller's context ends; pcall cannot catch either.
func TestHostBlocks(t *testing.T) {
	sleep := Func(func(ctx context.Context, _ []any) ([]any, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return nil, nil
		}
	})
	vars := []Var{{"dkv", Module{"sleep": sleep}}}
	src := mustCompile(t, "t", `pcall(dkv.sleep) return "caught"`)
	rt := New(Limits{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := rt.Call(context.Background(), src, vars, nil)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitTimeout {
		t.Fatalf("deadline: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the call took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = New(JobLimits).Call(ctx, src, vars, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	// The runtime goes on working.
	if v, err := rt.Call(context.Background(), mustCompile(t, "t", `return 1`), nil, nil); err != nil || v != int64(1) {
		t.Fatalf("after: %v %v", v, err)
	}
}
