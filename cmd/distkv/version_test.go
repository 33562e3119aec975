package main

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"testing"
)

// TestVersion: --version prints one line and exits 0, before any config
// is read; the text is the stamp, else what the toolchain recorded. The
// tutorial transcript cannot hold it: it changes with every commit.
func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-c", "/nonexistent", "--version"}, nil, &out, &errOut)
	if code != 0 || errOut.Len() > 0 {
		t.Fatalf("--version: exit %d, stderr %q", code, errOut.String())
	}
	// Unstamped, as go test builds it.
	if !regexp.MustCompile(`^distkv devel( [0-9a-f]{7}(-dirty)?)?\n$`).MatchString(out.String()) {
		t.Errorf("--version printed %q", out.String())
	}

	defer func(v string) { version = v }(version)
	version = "v0.3.0-12-gabc1234"
	out.Reset()
	if code := run([]string{"--version"}, nil, &out, &errOut); code != 0 || out.String() != "distkv v0.3.0-12-gabc1234\n" {
		t.Errorf("stamped --version: exit %d, printed %q", code, out.String())
	}
}

func TestDevelVersion(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "devel"},
		{[]debug.BuildSetting{{Key: "vcs", Value: "git"}}, "devel"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "54ce5fb2df7c2c0efc0c5b7d316d1d12ed8f6ef2"}, {Key: "vcs.modified", Value: "false"}}, "devel 54ce5fb"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "54ce5fb2df7c"}}, "devel 54ce5fb-dirty"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "devel abc"},
	} {
		if got := develVersion(tc.settings); got != tc.want {
			t.Errorf("develVersion(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
}
