package main

import "testing"

func TestConsoleURL(t *testing.T) {
	for _, tc := range []struct{ told, host, want, note string }{
		{"http://localhost:27587/", "localhost", "http://localhost:27587/", ""},
		{"http://127.0.0.1:27587/", "127.0.0.1", "http://127.0.0.1:27587/", ""},
		{"https://0.0.0.0:8443/", "kv.example", "https://kv.example:8443/", ""},
		{"http://[::]:27587/", "fe80::1", "http://[fe80::1]:27587/", ""},
		{"http://:27587/", "kv.example", "http://kv.example:27587/", ""},
		{"http://kv.example:27587/", "10.0.0.2", "http://kv.example:27587/", ""},
		{"http://localhost:27587/", "kv.example", "http://localhost:27587/",
			"the console listens on loopback of kv.example only: reach it through ssh -L 27587:localhost:27587 kv.example"},
	} {
		got, note, err := consoleURL(tc.told, tc.host)
		if err != nil || got != tc.want || note != tc.note {
			t.Errorf("consoleURL(%q, %q) = %q, %q, %v; want %q, %q", tc.told, tc.host, got, note, err, tc.want, tc.note)
		}
	}
	for _, bad := range []string{"", "not a url", "http://nohostport/", "::"} {
		if _, _, err := consoleURL(bad, "h"); err == nil {
			t.Errorf("consoleURL(%q) took it", bad)
		}
	}
}
