package config

import (
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads Go syntax ("100ms", "1.5s", "1h30m")
// or a plain number of seconds ("0.1", "10").
type Duration time.Duration

// ParseDuration reads a Duration from its text form.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f*float64(time.Second)) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a duration (such as 100ms, 1.5s, or 0.1 seconds)", s)
	}
	return Duration(math.Round(f * float64(time.Second))), nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints d in Go syntax without trailing zero units: "100ms", "10s",
// "1m", "1h30m".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, d) }

// Size is a number of bytes. Its text form is a plain number or one with a
// binary suffix: "65536", "64KiB", "1.5 MiB". Every suffix is a power of
// 1024, whatever its spelling: k, K, KB and KiB all mean 1024 bytes; so do
// M, G and T for the next powers. Case does not matter.
type Size int64

// Binary size units.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = map[string]Size{
	"": 1, "b": 1,
	"k": KiB, "kb": KiB, "kib": KiB,
	"m": MiB, "mb": MiB, "mib": MiB,
	"g": GiB, "gb": GiB, "gib": GiB,
	"t": TiB, "tb": TiB, "tib": TiB,
}

// ParseSize reads a Size from its text form.
func ParseSize(s string) (Size, error) {
	text := strings.TrimSpace(s)
	i := strings.IndexFunc(text, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(text)
	}
	num, suffix := text[:i], strings.ToLower(strings.TrimSpace(text[i:]))
	unit, ok := sizeUnits[suffix]
	var r big.Rat
	if !ok || num == "" || num[0] == '.' || num[len(num)-1] == '.' || strings.Count(num, ".") > 1 {
		return 0, fmt.Errorf("%q is not a size (such as 65536, 64KiB or 1.5MiB)", s)
	}
	r.SetString(num) // cannot fail: digits with one dot inside
	r.Mul(&r, new(big.Rat).SetInt64(int64(unit)))
	switch {
	case !r.IsInt():
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(r.Num().Int64()), nil
}

// String prints s with the largest binary unit that divides it: "64MiB",
// "1536KiB", "1000".
func (s Size) String() string {
	for _, u := range []struct {
		size Size
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, s) }

// unmarshalScalar is UnmarshalYAML for types with a text form: a YAML
// number or string is read as text.
func unmarshalScalar(n *yaml.Node, v interface{ UnmarshalText([]byte) error }) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a scalar, not %s", n.Line, describe(n))
	}
	if err := v.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Level is the logging threshold: "debug", "info", "warn" or "error".
type Level string

// Logging levels.
const (
	LevelDebug Level = "debug"
	LevelInfo  Level = "info"
	LevelWarn  Level = "warn"
	LevelError Level = "error"
)

func (l Level) String() string { return string(l) }

// Slog returns l as a slog.Level; an unknown level is slog.LevelInfo
// (Validate refuses those).
func (l Level) Slog() slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Sync is when the server fsyncs the file it logs changes to (`log dest`).
type Sync string

// Sync policies, from safest to fastest.
const (
	// SyncAlways fsyncs after every record: a record is on disk before the
	// change is acknowledged.
	SyncAlways Sync = "always"
	// SyncInterval fsyncs every server.log.interval: a crash of the machine
	// loses at most that much.
	SyncInterval Sync = "interval"
	// SyncNever leaves it to the operating system.
	SyncNever Sync = "never"
)

func (s Sync) String() string { return string(s) }

// oneOf checks that v is one of allowed.
func oneOf[T ~string](v T, allowed ...T) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	return fmt.Errorf("%w %q: want %s", ErrInvalid, string(v), strings.Join(words, ", "))
}
