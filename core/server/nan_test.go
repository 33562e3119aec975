package server_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// change sends set_value (raw value) or delete_value (value "") at p,
// with the raw prev if not "" and idem if asked, and returns the reply.
func change(t *testing.T, rc *rawConn, seq uint64, p path.Path, val, prev string, idem bool) pack.Map {
	t.Helper()
	m := wire.Begin(nil)
	m.Uint("seq", seq)
	if val != "" {
		m.Str("action", "set_value")
		m.Raw("value", mustRaw(t, val))
	} else {
		m.Str("action", "delete_value")
	}
	m.Path("path", p)
	if prev != "" {
		m.Raw("prev", mustRaw(t, prev))
	}
	if idem {
		m.Bool("idem", true)
	}
	rc.send(m.End())
	for {
		if rep := rc.next(); get(rep, "seq") == int64(seq) {
			return rep
		}
	}
}

// mustRaw decodes spaced hex into a raw value.
func mustRaw(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrevNaN: NaN is not equal to itself, as in the original, so a
// `prev` holding a NaN never matches, not even a stored NaN of the same
// bits or one nested in a list or map; and a set of a NaN over a NaN is a
// change, with idem too.
func TestPrevNaN(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	cases := []struct {
		name         string
		stored, prev string // raw values, hex
	}{
		{"float64", "cb 7ff8000000000001", "cb 7ff8000000000001"},
		{"float32", "ca 7fc00000", "ca 7fc00000"},
		{"float32 and float64", "ca ffc00001", "cb 7ff8000000000000"},
		{"in a list", "92 01 cb 7ff8000000000000", "92 01 cb 7ff8000000000000"},
		{"in a map", "81 a161 91 ca 7fc00000", "81 a161 91 ca 7fc00000"},
		{"as a map key", "81 cb 7ff8000000000000 01", "81 cb 7ff8000000000000 01"},
	}
	seq := uint64(0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := path.Must("nan", c.name)
			seq++
			if rep := change(t, rc, seq, p, c.stored, "", false); get(rep, "changed") != true {
				t.Fatalf("set: %v", rep)
			}
			for _, del := range []bool{false, true} {
				val := "01"
				if del {
					val = ""
				}
				seq++
				if rep := change(t, rc, seq, p, val, c.prev, false); get(rep, "etype") != "prev" {
					t.Errorf("delete %v with prev %s over %s: %v, want the prev-mismatch error", del, c.prev, c.stored, rep)
				}
			}
			it, _ := s.Tree().Get(p)
			if it.Value != mustRaw(t, c.stored) {
				t.Errorf("the value was changed to %x", it.Value)
			}
			// The same value again changes it: a new tick, with idem too.
			for _, idem := range []bool{false, true} {
				seq++
				before, _ := s.Tree().Get(p)
				rep := change(t, rc, seq, p, c.stored, "", idem)
				after, _ := s.Tree().Get(p)
				if get(rep, "changed") != true || after.Head.Tick == before.Head.Tick {
					t.Errorf("idem %v: set of %s over itself: %v, tick %d then %d; want a change", idem, c.stored, rep, before.Head.Tick, after.Head.Tick)
				}
			}
		})
	}
	// Values without a NaN still match and still may change nothing.
	p := path.P("nan.none")
	change(t, rc, 100, p, "92 ca 3fc00000 a161", "", false)
	if rep := change(t, rc, 101, p, "92 cb 3ff8000000000000 a161", "92 cb 3ff8000000000000 a161", false); get(rep, "error") != nil || get(rep, "changed") != false {
		t.Errorf("prev [1.5, 'a'] over [1.5 as float32, 'a']: %v", rep)
	}
	if rep := change(t, rc, 102, p, "92 cb 3ff8000000000000 a161", "", true); get(rep, "changed") != false {
		t.Errorf("idem set of an equal value: %v", rep)
	}
}
