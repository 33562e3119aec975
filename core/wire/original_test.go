package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// describe renders a record in one line, for comparisons.
func describe(rec OriginalRecord) string {
	if h := rec.Header; h != nil {
		return fmt.Sprintf("header node=%s tock=%d nodes=%v known=%s deleted=%s",
			h.Node, h.Tock, h.Nodes, describeRanges(h.Known), describeRanges(h.Deleted))
	}
	u := rec.Update
	v := "deleted"
	if u.HasValue {
		d, err := pack.Decode(u.Value)
		if err != nil {
			v = err.Error()
		} else {
			v = fmt.Sprintf("%#v", d)
		}
	}
	return fmt.Sprintf("%s = %s chain=%v tock=%d", u.Path, v, u.Chain, u.Tock)
}

func describeRanges(m map[string]chain.RangeSet) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+":"+m[k].String())
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// readOriginal decodes every record of an original file.
func readOriginal(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../testdata/original", name))
	if err != nil {
		t.Fatal(err)
	}
	f := NewFramer(bytes.NewReader(data), 1<<20)
	var d OriginalDecoder
	var out []string
	for {
		msg, err := f.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s at %d: %v", name, f.Offset(), err)
		}
		rec, err := d.Decode(msg)
		if err != nil {
			t.Fatalf("%s at %d: %v", name, f.Offset(), err)
		}
		out = append(out, describe(rec))
	}
}

// TestOriginalFiles decodes the files the original wrote (see
// testdata/original/README.md for the commands that made them).
func TestOriginalFiles(t *testing.T) {
	want := map[string][]string{
		"save.state": {
			"header node=one tock=115 nodes=map[one:10] known={one:{2..3,5}} deleted={one:{7}}",
			`: = "Testing" chain=[{one 1}] tock=3`,
			"one.two = 125 chain=[{one 10}] tock=102",
			"a:31.b = []interface {}{1, 2} chain=[{one 4}] tock=30",
			"bin:vab = []byte{0x0, 0xff} chain=[{one 6}] tock=55",
			"big = 1180591620717411303424 chain=[{one 8}] tock=72",
			"f = 1.5 chain=[{one 9}] tock=94",
		},
		"log-full.state": {
			"header node=one tock=37 nodes=map[one:4] known={} deleted={}",
			"header node=one tock=38 nodes=map[one:4] known={} deleted={}",
			`: = "Testing" chain=[{one 1}] tock=3`,
			"one.two = 123 chain=[{one 2}] tock=12",
			`one.two.x = "hello" chain=[{one 3}] tock=21`, // depth 2, path ["x"]
			"a:31.b = []interface {}{1, 2} chain=[{one 4}] tock=30",
			"one.two = 124 chain=[{one 5}] tock=46", // the change records
			"bin:vab = []byte{0x0, 0xff} chain=[{one 6}] tock=55",
			"one.two.x = deleted chain=[{one 7}] tock=63",
			"big = 1180591620717411303424 chain=[{one 8}] tock=72",
		},
		"log-incremental.state": {
			"header node=one tock=85 nodes=map[one:8] known={one:{2..3}} deleted={one:{7}}",
			"f = 1.5 chain=[{one 9}] tock=94",
			"one.two = 125 chain=[{one 10}] tock=102",
		},
	}
	for name, want := range want {
		t.Run(name, func(t *testing.T) {
			if got := readOriginal(t, name); !slices.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// origMsg builds a record.
func origMsg(build func(m *Msg)) []byte {
	m := Begin(nil)
	build(&m)
	return m.End()
}

// changeRecord adds a change record's chain and value.
func changeRecord(m *Msg, tick uint64) {
	m.Str("node", "one")
	m.Uint("tick", tick)
	m.Nil("prev")
	m.Uint("value", tick)
}

func TestOriginalBadRecords(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"not a map", pack.AppendInt(nil, 5), ErrNotMap.Error()},
		{"empty map", origMsg(func(m *Msg) {}), "neither an entry"},
		{"no chain", origMsg(func(m *Msg) { m.Path("path", path.P("a")); m.Nil("chain") }), "needs a chain"},
		{"no tick", origMsg(func(m *Msg) { m.Path("path", path.P("a")); m.Str("node", "one") }), "needs a chain"},
		{"negative depth", origMsg(func(m *Msg) { m.PathArray("path", path.P("a")); m.Int("depth", -1); changeRecord(m, 1) }), "negative depth"},
		{"depth too deep", origMsg(func(m *Msg) { m.PathArray("path", path.P("a")); m.Int("depth", 1); changeRecord(m, 1) }), "beyond the previous path"},
		{"bad path", origMsg(func(m *Msg) { m.Int("path", 5); changeRecord(m, 1) }), "path:"},
		{"bad chain", origMsg(func(m *Msg) { m.Path("path", path.P("a")); m.Uint("chain", 1) }), "chain:"},
		{"bad tick", origMsg(func(m *Msg) { m.Path("path", path.P("a")); changeRecord(m, 1); m.Int("tick", -1) }), "tick:"},
		{"bad prev", origMsg(func(m *Msg) { m.Path("path", path.P("a")); changeRecord(m, 1); m.Str("prev", "x") }), "prev:"},
		{"bad tock", origMsg(func(m *Msg) { m.Path("path", path.P("a")); changeRecord(m, 1); m.Str("tock", "x") }), "tock:"},
		{"a key not a string", pack.AppendInt(pack.AppendInt(pack.AppendMapHeader(nil, 1), 1), 1), "expected string"},
		{"bad nodes", origMsg(func(m *Msg) { m.Key("nodes"); m.B = pack.AppendArrayHeader(m.B, 0) }), "nodes:"},
		{"bad known", origMsg(func(m *Msg) {
			m.Key("known")
			m.B = pack.AppendMapHeader(m.B, 1)
			m.B = pack.AppendString(pack.AppendString(m.B, "one"), "x")
		}), "not a list"},
		{"bad deleted range", origMsg(func(m *Msg) {
			m.Key("deleted")
			m.B = pack.AppendMapHeader(m.B, 1)
			m.B = pack.AppendString(m.B, "one")
			m.B = pack.AppendArrayHeader(m.B, 1)
			m.B = pack.AppendInt(pack.AppendInt(pack.AppendArrayHeader(m.B, 2), 5), 2)
		}), "bad tick range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d OriginalDecoder
			_, err := d.Decode(tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if tt.name == "not a map" && !errors.Is(err, ErrNotMap) {
				t.Fatalf("got %v, want ErrNotMap", err)
			}
		})
	}
}

// TestOriginalDepthAfterDamage: a record whose path cannot be read leaves
// the records that extend it unreadable until one gives a whole path; a
// record that is bad in other ways still sets the base for the next.
func TestOriginalDepthAfterDamage(t *testing.T) {
	steps := []struct {
		msg  []byte
		want string // the path, or the error
	}{
		{origMsg(func(m *Msg) { m.Path("path", path.P("a.b")); m.Int("depth", 0); changeRecord(m, 1) }), "a.b"},
		{origMsg(func(m *Msg) { m.PathArray("path", path.P("c")); m.Int("depth", 1); changeRecord(m, 2) }), "a.c"},
		{origMsg(func(m *Msg) { m.Int("path", 5); changeRecord(m, 3) }), "error"},
		{origMsg(func(m *Msg) { m.PathArray("path", path.P("c")); m.Int("depth", 1); changeRecord(m, 4) }), "error"},
		{origMsg(func(m *Msg) { m.Path("path", path.P("x.y")); changeRecord(m, 5); m.Str("tock", "bad") }), "error"},
		{origMsg(func(m *Msg) { m.Uint("tock", 9); m.Key("nodes"); m.B = pack.AppendMapHeader(m.B, 0) }), "header"},
		{origMsg(func(m *Msg) { m.PathArray("path", path.P("z")); m.Int("depth", 1); changeRecord(m, 6) }), "x.z"},
		{origMsg(func(m *Msg) { m.PathArray("path", path.P("w")); m.Int("depth", 2); changeRecord(m, 7) }), "x.z.w"},
	}
	var d OriginalDecoder
	for i, st := range steps {
		rec, err := d.Decode(st.msg)
		got := rec.Update.Path.String()
		switch {
		case err != nil:
			got = "error"
		case rec.Header != nil:
			got = "header"
		}
		if got != st.want {
			t.Fatalf("step %d: %s (%v), want %s", i, got, err, st.want)
		}
	}
}
