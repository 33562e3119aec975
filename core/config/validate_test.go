package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		key    string // "" when valid
		msg    string
	}{
		{"port 0", func(c *Config) { c.Server.BindDefault.Port = 0 }, "", ""},
		{"port 65535", func(c *Config) { c.Server.BindDefault.Port = 65535 }, "", ""},
		{"port 65536", func(c *Config) { c.Server.BindDefault.Port = 65536 }, "server.bind_default.port", "invalid value 65536: want 0..65535"},
		{"port -1", func(c *Config) { c.Server.BindDefault.Port = -1 }, "server.bind_default.port", "invalid value -1: want 0..65535"},
		{"connect port 0", func(c *Config) { c.Connect.Port = 0 }, "connect.port", "invalid value 0: want 1..65535"},
		{"connect port 65536", func(c *Config) { c.Connect.Port = 65536 }, "connect.port", "invalid value 65536: want 1..65535"},
		{"change 1", func(c *Config) { c.Server.Change.Length = 1 }, "", ""},
		{"change 100", func(c *Config) { c.Server.Change.Length = 100 }, "", ""},
		{"change 0", func(c *Config) { c.Server.Change.Length = 0 }, "server.change.length", "invalid value 0: want 1..100"},
		{"change 101", func(c *Config) { c.Server.Change.Length = 101 }, "server.change.length", "invalid value 101: want 1..100"},
		{"sync always", func(c *Config) { c.Server.Log.Sync = SyncAlways }, "", ""},
		{"sync never", func(c *Config) { c.Server.Log.Sync = SyncNever }, "", ""},
		{"sync Always", func(c *Config) { c.Server.Log.Sync = "Always" }, "server.log.sync", `invalid value "Always": want always, interval, never`},
		{"sync empty", func(c *Config) { c.Server.Log.Sync = "" }, "server.log.sync", `invalid value "": want always, interval, never`},
		{"interval 1ns", func(c *Config) { c.Server.Log.Interval = 1 }, "", ""},
		{"interval 0", func(c *Config) { c.Server.Log.Interval = 0 }, "server.log.interval", "invalid value 0s: want more than 0"},
		{"queue 10", func(c *Config) { c.Server.Conn.Queue = 10 }, "", ""},
		{"queue 9", func(c *Config) { c.Server.Conn.Queue = 9 }, "server.conn.queue", "invalid value 9: want at least 10"},
		{"max_message 64KiB", func(c *Config) { c.Server.Conn.MaxMessage = 64 * KiB }, "", ""},
		{"max_message 64KiB-1", func(c *Config) { c.Server.Conn.MaxMessage = 64*KiB - 1 }, "server.conn.max_message", "invalid value 65535: want 64KiB to 255MiB"},
		{"max_message 255MiB", func(c *Config) { c.Server.Conn.MaxMessage = 255 * MiB }, "", ""},
		{"max_message 1GiB", func(c *Config) { c.Server.Conn.MaxMessage = 1024 * MiB }, "server.conn.max_message", "invalid value 1GiB: want 64KiB to 255MiB"},
		{"input_budget 1MiB", func(c *Config) { c.Server.Conn.InputBudget = MiB }, "", ""},
		{"input_budget below max_message", func(c *Config) { c.Server.Conn.InputBudget = 2 * MiB }, "", ""},
		{"input_budget 1MiB-1", func(c *Config) { c.Server.Conn.InputBudget = MiB - 1 }, "server.conn.input_budget", "invalid value 1048575: want at least 1MiB"},
		{"level debug", func(c *Config) { c.Logging.Level = LevelDebug }, "", ""},
		{"level error", func(c *Config) { c.Logging.Level = LevelError }, "", ""},
		{"level verbose", func(c *Config) { c.Logging.Level = "verbose" }, "logging.level", `invalid value "verbose": want debug, info, warn, error`},
		{"root empty", func(c *Config) { c.Server.Root = "" }, "server.root", "invalid value: the network name must not be empty"},
		{"timeout -1s", func(c *Config) { c.Connect.Timeout = Duration(-time.Second) }, "connect.timeout", "invalid value -1s: want more than 0"},
		{"ssl cert and key", func(c *Config) { c.Server.BindDefault.SSL = ServerSSL{Cert: "c", Key: "k"} }, "", ""},
		{"ssl key only", func(c *Config) { c.Server.BindDefault.SSL.Key = "k" }, "server.bind_default.ssl", "invalid value: TLS needs both cert and key"},
		{"ssl ca only", func(c *Config) { c.Server.BindDefault.SSL.CA = "ca" }, "server.bind_default.ssl", "invalid value: TLS needs both cert and key"},
		{"peer ssl cert only", func(c *Config) { c.Server.Peer.SSL.Cert = "c" }, "server.peer.ssl", "invalid value: TLS needs both cert and key"},
		{"connect ssl ca", func(c *Config) { c.Connect.SSL.CA = "ca" }, "", ""},
		{"connect ssl cert only", func(c *Config) { c.Connect.SSL.Cert = "c" }, "connect.ssl", "invalid value: a client certificate needs both cert and key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) || e.Key != tt.key {
				t.Fatalf("Validate = %v; want an *Error for %s", err, tt.key)
			}
			if want := tt.key + ": " + tt.msg; err.Error() != want {
				t.Errorf("Validate = %q, want %q", err, want)
			}
		})
	}
}

// TestValidateAll checks that Validate reports every bad key, and that it
// names only keys that exist.
func TestValidateAll(t *testing.T) {
	var zero Config
	err := zero.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		keys = append(keys, e.(*Error).Key)
	}
	want := []string{"logging.level", "server.root", "server.change.length", "server.log.sync", "server.log.interval",
		"server.conn.queue", "server.conn.max_message", "server.conn.input_budget", "server.serf.bind", "server.serf.port", "server.serf.profile",
		"server.ack", "server.ack_timeout", "connect.port", "connect.timeout", "runner.timeout"}
	if !slices.Equal(keys, want) {
		t.Errorf("Validate of the zero Config names %q, want %q", keys, want)
	}
	var all []string
	for _, k := range Keys() {
		all = append(all, k.Name)
	}
	for _, k := range keys {
		if !slices.Contains(all, k) {
			t.Errorf("Validate names %s, which is not a key", k)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("%d lines of error, want %d:\n%v", n, len(want), err)
	}
}
