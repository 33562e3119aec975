package codecs

import (
	"context"
	"github.com/distkv-go/distkv/internal/memo"
	"testing"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

type countProc struct {
	n    *int
	pure bool
}

func (p countProc) Call(_ context.Context, v any) (any, bool, error) {
	*p.n++
	return v, p.pure, nil
}

// TestMemo: a pure conversion of a value runs once; an impure one every
// time.
func TestMemo(t *testing.T) {
	raw, _ := value.Encode("12.5")
	for _, pure := range []bool{true, false} {
		n := 0
		cd := &codec{name: path.P("c"), enc: countProc{&n, pure}, encMemo: memo.New[[]byte]()}
		for range 3 {
			out, err := cd.convert("encode", cd.enc, cd.encMemo, path.P("x"), raw)
			if err != nil || string(out) != string(raw) {
				t.Fatalf("%q %v", out, err)
			}
		}
		if want := map[bool]int{true: 1, false: 3}[pure]; n != want {
			t.Errorf("pure %v: %d runs, want %d", pure, n, want)
		}
	}
}
