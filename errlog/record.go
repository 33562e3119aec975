package errlog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

// Root is where the error records live: `.distkv error`, the original's
// default.
var Root = path.Must(".distkv", "error")

// Severity says how bad a failure is, as the original grades it: the
// smaller, the worse, from 0 to 7. The original names seven of the
// eight; 7 is below Trace.
type Severity int

const maxSeverity = 7

// The severities.
const (
	Fatal Severity = iota
	Error
	Warning
	Info
	Note
	Debug
	Trace
)

var severityNames = []string{"fatal", "error", "warning", "info", "note", "debug", "trace"}

func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// ParseSeverity reads a severity by name (fatal … trace) or number (0 … 7).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= maxSeverity {
		return Severity(n), nil
	}
	return 0, fmt.Errorf("%q is not a severity (%s, or 0 to %d)", s, strings.Join(severityNames, ", "), maxSeverity)
}

// Record is an error record as the tree holds it: one per (Path,
// Subsystem).
type Record struct {
	At        path.Path // the record's entry: Root NODE TOCK
	Path      path.Path // what failed
	Subsystem string
	Severity  Severity
	Resolved  bool // the value "resolved" is set (to the tock of the resolution)
	Count     int64
	Created   time.Time
	FirstSeen time.Time
	LastSeen  time.Time

	Value  pack.Map     // the entry's whole value, fields of other writers included
	Chain  client.Chain // the entry's chain, newest change first, as read
	Traces []NodeTrace  // the trace records, if read (Read with Traces), by node

	tock uint64 // the entry's, to tell older news from newer
}

// Node is the node that created the record (the first element of At
// below Root), or "" when that is no string.
func (r *Record) Node() string {
	rel, ok := r.At.TrimPrefix(Root)
	if !ok || rel.Len() == 0 {
		return ""
	}
	first, _ := rel.Split()
	s, _ := first.StrValue()
	return s
}

// ident is what makes a record unique.
type ident struct {
	path      string // encoded
	subsystem string
}

func (r *Record) ident() ident { return ident{r.Path.Encoded(), r.Subsystem} }

// NodeTrace is one node's trace record below an error record: the
// latest failure as that node saw it.
type NodeTrace struct {
	Node    string
	Seen    time.Time
	Tock    uint64 // the tock of the record's change that this failure made
	Trace   string
	Comment string
	Message string
	Data    any       // the failure's data, in the model of package pack
	Value   pack.Map  // the entry's whole value
	At      path.Path // the trace record's entry
}

// ErrNotRecord: an entry under Root does not hold an error record.
var ErrNotRecord = errors.New("not an error record")

// ParseRecord reads an error record's value as the tree holds it (At,
// Chain and Traces are left empty): for readers of the tree itself, such
// as a server's metrics, which count records without a client.
func ParseRecord(raw []byte) (Record, error) { return parseRecord(raw) }

// parseRecord reads an error record's value. The value comes from the
// tree, where anybody with write access may have put anything: every
// field is checked, and fields it does not know are kept in Value.
func parseRecord(raw []byte) (Record, error) {
	var rec Record
	v, err := value.Decode(raw)
	if err != nil {
		return rec, fmt.Errorf("%w: %w", ErrNotRecord, err)
	}
	m, ok := v.(pack.Map)
	if !ok {
		return rec, fmt.Errorf("%w: the value is %s, not a map", ErrNotRecord, kindOf(v))
	}
	rec.Value = m
	var hasPath, hasSub bool
	for _, kv := range m {
		k, _ := kv.Key.(string)
		switch k {
		case "path":
			if rec.Path, err = asPath(kv.Value); err != nil {
				return rec, fmt.Errorf("%w: path: %w", ErrNotRecord, err)
			}
			hasPath = true
		case "subsystem":
			if rec.Subsystem, ok = kv.Value.(string); !ok || rec.Subsystem == "" {
				return rec, fmt.Errorf("%w: subsystem: want a string, found %s", ErrNotRecord, kindOf(kv.Value))
			}
			hasSub = true
		case "severity":
			n, _ := asInt(kv.Value)
			rec.Severity = Severity(n)
		case "resolved":
			rec.Resolved = isResolved(kv.Value)
		case "count":
			rec.Count, _ = asInt(kv.Value)
		case "created":
			rec.Created = asTime(kv.Value)
		case "first_seen":
			rec.FirstSeen = asTime(kv.Value)
		case "last_seen":
			rec.LastSeen = asTime(kv.Value)
		}
	}
	switch {
	case !hasPath:
		return rec, fmt.Errorf("%w: no path", ErrNotRecord)
	case !hasSub:
		return rec, fmt.Errorf("%w: no subsystem", ErrNotRecord)
	}
	return rec, nil
}

// parseTrace reads a trace record's value, as leniently as parseRecord.
func parseTrace(raw []byte) (NodeTrace, error) {
	var t NodeTrace
	v, err := value.Decode(raw)
	if err != nil {
		return t, fmt.Errorf("not a trace record: %w", err)
	}
	m, ok := v.(pack.Map)
	if !ok {
		return t, fmt.Errorf("not a trace record: the value is %s, not a map", kindOf(v))
	}
	t.Value = m
	for _, kv := range m {
		k, _ := kv.Key.(string)
		switch k {
		case "seen":
			t.Seen = asTime(kv.Value)
		case "tock":
			n, _ := asInt(kv.Value)
			t.Tock = uint64(max(n, 0))
		case "trace":
			t.Trace, _ = kv.Value.(string)
		case "comment":
			t.Comment, _ = kv.Value.(string)
		case "message":
			t.Message, _ = kv.Value.(string)
		case "data":
			t.Data = kv.Value
		}
	}
	return t, nil
}

// asPath takes a path, or the list of elements an older writer may have
// stored.
func asPath(v any) (path.Path, error) {
	switch v := v.(type) {
	case path.Path:
		return v, nil
	case []any:
		return path.New(v...)
	}
	return path.Path{}, fmt.Errorf("want a path, found %s", kindOf(v))
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	case float64:
		if v >= math.MinInt64 && v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

// asTime reads a time stored as the original stores it: Unix seconds, a
// float. Anything else is the zero time.
func asTime(v any) time.Time {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	default:
		return time.Time{}
	}
	// Beyond ±2^52 s (about 10^8 years) nobody meant a time, and the
	// conversion below would overflow.
	if math.IsNaN(f) || math.Abs(f) > 1<<52 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// unixTime is t as stored: Unix seconds, a float.
func unixTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// isResolved reads "resolved": false, None or 0 mean open; the
// original's True and time and our tock mean resolved.
func isResolved(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case uint64:
		return v != 0
	case float64:
		return v != 0
	}
	return true
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case pack.Map:
		return "a map"
	case []any:
		return "a list"
	case string:
		return "a string"
	case []byte:
		return "bytes"
	case bool:
		return "a bool"
	case float64:
		return "a float"
	case path.Path:
		return "a path"
	}
	if _, ok := asInt(v); ok {
		return "an integer"
	}
	return fmt.Sprintf("%T", v)
}

// with returns m with key k set to v: in place if m has k, else appended.
// m is not changed.
func with(m pack.Map, kvs ...pack.KV) pack.Map {
	out := append(pack.Map(nil), m...)
	for _, kv := range kvs {
		found := false
		for i := range out {
			if out[i].Key == kv.Key {
				out[i].Value = kv.Value
				found = true
				break
			}
		}
		if !found {
			out = append(out, kv)
		}
	}
	return out
}
