package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLoadOriginalFiles starts the binary on files the original DistKV
// wrote (testdata/original: its README has the commands that wrote them
// and the state they give) and reads the state back with the client
// command.
func TestLoadOriginalFiles(t *testing.T) {
	bin := buildBinary(t)
	dir, err := filepath.Abs("../../testdata/original")
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	save, full, incr := file("save.state"), file("log-full.state"), file("log-incremental.state")

	// A stream that cannot seek: bash hands the server <(cat …) as a
	// pipe, as in the README's `-l <(cat /var/local/lib/distkv.*.state)`.
	catBin := filepath.Join(t.TempDir(), "distkv-cat")
	script := fmt.Sprintf("#!/bin/bash\nexec %q \"$@\" -l <(cat %q %q)\n", bin, full, incr)
	if err := os.WriteFile(catBin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		bin  string
		args []string
	}{
		{"save", bin, []string{"-l", save}},
		{"logs", bin, []string{"-l", full, "-l", incr}},
		{"one stream", catBin, nil},
	}
	want := []struct{ path, out string }{
		{":", `"Testing"`},
		{"one.two", "125"},
		{"a:31.b", "- 1\n- 2"},
		{"bin:vab", "!!binary |\n  AP8="}, // bytes 00 ff
		{"big", "1180591620717411303424"}, // 2**70
		{"f", "1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			args := append([]string{"server"}, tt.args...)
			sp := startServerProc(t, tt.bin, port, append(args, "test1")...)
			get := func(args ...string) (string, error) {
				c := exec.Command(bin, append([]string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1",
					"-C", "connect.port=" + strconv.Itoa(port), "client", "data", "get"}, args...)...)
				out, err := c.CombinedOutput()
				return strings.TrimRight(string(out), "\n"), err
			}
			for _, w := range want {
				if out, err := get(w.path); err != nil || out != w.out {
					t.Errorf("get %s: %q, %v; want %q", w.path, out, err, w.out)
				}
			}
			var exit *exec.ExitError
			if out, err := get("one.two.x"); !errors.As(err, &exit) || exit.ExitCode() != 1 || out != "distkv: no value at one.two.x" {
				t.Errorf("get one.two.x: %q, %v; want it deleted", out, err)
			}
			if out, err := get("-c", "one.two"); err != nil || !strings.Contains(out, "chain:\n  - node: one\n    tick: 10\n") {
				t.Errorf("get -c one.two: %q, %v; want the chain one@10", out, err)
			}
			if strings.Contains(sp.log(), "skipped") {
				t.Error("the load skipped damage")
			}
			if t.Failed() {
				t.Logf("server log:\n%s", sp.log())
			}
		})
	}
}
