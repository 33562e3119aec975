package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		text string // String(); "" for an error
	}{
		{"100ms", 100 * time.Millisecond, "100ms"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{" 2s ", 2 * time.Second, "2s"},
		{"0.1", 100 * time.Millisecond, "100ms"},
		{"10", 10 * time.Second, "10s"},
		{"0", 0, "0s"},
		{"90", 90 * time.Second, "1m30s"},
		{"60", time.Minute, "1m"},
		{"1h", time.Hour, "1h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"-1s", -time.Second, "-1s"},
		{"1e-3", time.Millisecond, "1ms"},
		{"", 0, ""},
		{"soon", 0, ""},
		{"5 s", 0, ""},
		{"NaN", 0, ""},
		{"inf", 0, ""},
		{"1e10", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if tt.text == "" {
				if err == nil || !strings.Contains(err.Error(), "is not a duration") {
					t.Errorf("ParseDuration(%q) = %v, %v; want an error", tt.in, d, err)
				}
				return
			}
			if err != nil || d.D() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, d, err, tt.want)
			}
			if d.String() != tt.text {
				t.Errorf("String() = %q, want %q", d.String(), tt.text)
			}
			if back, err := ParseDuration(d.String()); err != nil || back != d {
				t.Errorf("ParseDuration(String()) = %v, %v", back, err)
			}
		})
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  string // part of the error; "" for none
	}{
		{"0", 0, ""},
		{"65536", 64 * KiB, ""},
		{"1000", 1000, ""},
		{"1_000", 0, "not a size"},
		{"1.", 0, "not a size"},
		{".5k", 0, "not a size"},
		{"1.2.3", 0, "not a size"},
		{"007", 7, ""},
		{"64KiB", 64 * KiB, ""},
		{"64 KiB", 64 * KiB, ""},
		{"64k", 64 * KiB, ""},
		{"64K", 64 * KiB, ""},
		{"64kb", 64 * KiB, ""},
		{"64M", 64 * MiB, ""},
		{"64MiB", 64 * MiB, ""},
		{"2G", 2 * GiB, ""},
		{"2gib", 2 * GiB, ""},
		{"1T", TiB, ""},
		{"1.5MiB", 1536 * KiB, ""},
		{"0.5k", 512, ""},
		{"10b", 10, ""},
		{"1.5", 0, "not a whole number"},
		{"0.3k", 0, "not a whole number"},
		{"8388608T", 0, "too large"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"9000000000000000000.5", 0, "not a whole number"},
		{"-1", 0, "not a size"},
		{"", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"64 apples", 0, "not a size"},
		{"1e6", 0, "not a size"},
		{"0x10", 0, "not a size"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSize(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseSize(%q) = %v, %v; want an error with %q", tt.in, s, err, tt.err)
				}
				return
			}
			if err != nil || s != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, s, err, tt.want)
			}
			if back, err := ParseSize(s.String()); err != nil || back != s {
				t.Errorf("ParseSize(%q) = %v, %v", s.String(), back, err)
			}
		})
	}
	for s, want := range map[Size]string{0: "0", 1000: "1000", 1024: "1KiB", 1536 * KiB: "1536KiB", 64 * MiB: "64MiB", 3 * GiB: "3GiB", 5 * TiB: "5TiB", 64*KiB + 1: "65537"} {
		if s.String() != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), s.String(), want)
		}
	}
}

// TestUnmarshalYAML checks the types on their own, outside Load.
func TestUnmarshalYAML(t *testing.T) {
	var v struct {
		D []Duration `yaml:"d"`
		S []Size     `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("d: [0.1, 2s, 3]\ns: [1024, 2MiB, \"3 k\"]\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D[0].D() != 100*time.Millisecond || v.D[1].D() != 2*time.Second || v.D[2].D() != 3*time.Second {
		t.Errorf("durations %v", v.D)
	}
	if v.S[0] != KiB || v.S[1] != 2*MiB || v.S[2] != 3*KiB {
		t.Errorf("sizes %v", v.S)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d:\n    - 100ms\n    - 2s\n    - 3s\ns:\n    - 1KiB\n    - 2MiB\n    - 3KiB\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
	for _, bad := range []string{"d: [soon]", "d: [{a: 1}]", "s: [-5]", "s: [[1]]"} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Unmarshal(%q): %v", bad, err)
		}
	}
}

func TestLevelSlog(t *testing.T) {
	for l, want := range map[Level]string{LevelDebug: "DEBUG", LevelInfo: "INFO", LevelWarn: "WARN", LevelError: "ERROR", "loud": "INFO"} {
		if got := l.Slog().String(); got != want {
			t.Errorf("%s.Slog() = %s, want %s", l, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := schemaOf(reflect.TypeFor[Config]()).names()
	tests := []struct{ name, want string }{
		{"server.bind_defualt.port", "server.bind_default.port"},
		{"server.bind_defualt", "server.bind_default"},
		{"servr", "server"},
		{"conect.host", "connect.host"},
		{"connect.hots", "connect.host"},
		{"server.log.snyc", "server.log.sync"},
		{"server.port", "server.bind_default.port or server.serf.port"},
		{"server.conn.max_msg", ""},
		{"frobnicate", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64KiB", "1.5 MiB", "9223372036854775807", "8388608T", "-1", "1e6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSize(in)
		if err != nil {
			return
		}
		if s < 0 {
			t.Fatalf("ParseSize(%q) = %d", in, s)
		}
		if back, err := ParseSize(s.String()); err != nil || back != s {
			t.Fatalf("ParseSize(%q) = %d, reads back as %d, %v", in, s, back, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"100ms", "0.1", "1h30m", "-1s", "1e300", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDuration(in)
		if err != nil {
			return
		}
		if back, err := ParseDuration(d.String()); err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, reads back as %v, %v", in, d, back, err)
		}
	})
}
