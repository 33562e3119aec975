// Package unitcheck verifies systemd unit files in tests, with
// systemd-analyze verify.
package unitcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Verify runs systemd-analyze verify on the unit files named by units
// (paths), copied into a temporary directory with replace applied to
// their text: systemd checks that every command a unit runs exists and
// is executable, so the caller points the installed paths at copies. A
// template (name@.service) is verified as an instance of it. Every line
// of the output about a unit of ours (one that names distkv) fails t:
// verify reports most mistakes (unknown keys, bad values) as warnings
// with exit status 0. Without systemd-analyze, Verify skips t.
func Verify(t testing.TB, units []string, replace *strings.Replacer) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the units are not verified")
	}
	dir := t.TempDir()
	var args []string
	for _, unit := range units {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(unit)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(replace.Replace(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "./"+strings.Replace(name, "@.", "@test.", 1))
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var bad []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "distkv") {
			bad = append(bad, line)
		}
	}
	if err != nil || len(bad) > 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", args, err, strings.Join(bad, "\n"))
	}
	t.Logf("systemd-analyze verified %v", args)
}
