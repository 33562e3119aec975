package luart

import (
	"errors"
	"testing"
)

func TestStatsCountCallsAndLimits(t *testing.T) {
	rt := New(Limits{MaxString: 1 << 10})
	for _, src := range []string{
		`return 1`,
		`error("no")`,
		`return string.rep("x", 4096)`, // the string limit
		`local function f() return f() + 1 end return f()`, // the depth limit
	} {
		run(t, rt, src, nil)
	}
	st := rt.Stats()
	if st.Calls != 4 || st.Errors != 3 {
		t.Errorf("calls %d, errors %d; want 4, 3", st.Calls, st.Errors)
	}
	want := map[string]uint64{LimitString: 1, LimitDepth: 1, LimitTimeout: 0, LimitMemory: 0, LimitMatch: 0}
	for name, n := range want {
		if got, ok := st.Limits[name]; !ok || got != n {
			t.Errorf("limit %s broken %d times (listed: %v), want %d", name, got, ok, n)
		}
	}
	if len(st.Limits) != len(want) {
		t.Errorf("limits %v", st.Limits)
	}
	_, err := run(t, rt, `return string.rep("x", 4096)`, nil)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err %v", err)
	}
}
