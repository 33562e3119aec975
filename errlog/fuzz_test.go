package errlog

import (
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

// FuzzParse feeds arbitrary bytes, as anybody with write access may
// store them below Root, to the readers of records and trace records:
// they return an error or a result, never panic; and a record they
// accept can be counted up, merged and resolved into values that encode
// and read back.
func FuzzParse(f *testing.F) {
	for _, v := range []any{
		pack.Map{{Key: "path", Value: path.P("a.b")}, {Key: "subsystem", Value: "run"}, {Key: "severity", Value: int64(1)},
			{Key: "resolved", Value: false}, {Key: "created", Value: 1.7e9}, {Key: "count", Value: int64(3)},
			{Key: "first_seen", Value: 1.7e9}, {Key: "last_seen", Value: 1.8e9}, {Key: "other", Value: []any{1.5, "x"}}},
		pack.Map{{Key: "path", Value: []any{"a", int64(1)}}, {Key: "subsystem", Value: "type"}, {Key: "resolved", Value: int64(12)}},
		pack.Map{{Key: "seen", Value: 1.7e9}, {Key: "tock", Value: int64(5)}, {Key: "trace", Value: "x\ny"}, {Key: "data", Value: pack.Map{}}},
		pack.Map{{Key: "path", Value: "a.b"}, {Key: "subsystem", Value: ""}},
		"x", nil, int64(1),
	} {
		raw, err := value.Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		parseTrace(raw)
		rec, err := parseRecord(raw)
		if err != nil {
			return
		}
		if rec.Subsystem == "" {
			t.Fatal("a record without a subsystem was accepted")
		}
		rec.At = Root.Join(path.Must("n", int64(1)))
		now := time.Unix(1_800_000_000, 0)
		for name, v := range map[string]pack.Map{
			"counted":  counted(rec, Failure{Path: rec.Path, Subsystem: rec.Subsystem, Severity: Warning}, now),
			"merged":   merged(rec, rec),
			"resolved": resolved(rec, 9),
		} {
			out, err := value.Encode(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			again, err := parseRecord(out)
			if err != nil {
				t.Fatalf("%s does not read back: %v", name, err)
			}
			if again.Path != rec.Path || again.Subsystem != rec.Subsystem {
				t.Fatalf("%s changed the identity: %v %q", name, again.Path, again.Subsystem)
			}
			switch name {
			case "counted":
				if again.Count != max(rec.Count, 0)+1 || again.Resolved || !again.LastSeen.Equal(now) {
					t.Fatalf("counted: count %d → %d, resolved %v", rec.Count, again.Count, again.Resolved)
				}
			case "resolved":
				if !again.Resolved {
					t.Fatal("resolved reads as open")
				}
			}
		}
	})
}
