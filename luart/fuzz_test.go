package luart

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// FuzzRun runs arbitrary source under small limits: whatever it does, the
// call ends with a value or one of our errors, never a panic or a hang.
func FuzzRun(f *testing.F) {
	for _, a := range attacks {
		f.Add(a.src)
	}
	f.Add(percentBody)
	f.Add(`return {1, "x", {a = bytes("y")}}`)
	f.Add(`local s = "" for i = 1, 100 do s = s .. i end return s:gsub("%d", "%0%0")`)
	rt := New(Limits{Timeout: 20 * time.Millisecond, MaxMemory: 8 << 20, MaxDepth: 50, MaxString: 64 << 10, MaxMatch: 4 << 10})
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Compile("fuzz", src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("compile: %T %v", err, err)
			}
			return
		}
		done := make(chan error, 1)
		go func() {
			_, err := rt.Call(context.Background(), s, []Var{{"value", int64(12)}}, io.Discard)
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(5 * time.Second): // a hang guard (250 deadlines), not a timing
			t.Fatalf("the call did not end: %q", src)
		}
		var se *ScriptError
		var le *LimitError
		switch {
		case err == nil, errors.As(err, &le), errors.Is(err, ErrValue):
		case errors.As(err, &se):
			if se.Panic {
				t.Fatalf("the interpreter panicked on %q: %v", src, err)
			}
		default:
			t.Fatalf("unexpected error %T %v", err, err)
		}
	})
}
