package main

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMonitorUpdate runs `data monitor -s`, makes changes, and feeds what
// it printed to `data update` under another path.
func TestMonitorUpdate(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	startServerProc(t, bin, port, "server", "-i", "x", "n1")
	flags := []string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port=" + strconv.Itoa(port)}
	dkd := func(stdin string, args ...string) string {
		t.Helper()
		c := exec.Command(bin, append(append(flags, "client", "data"), args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dkd("", "set", "-ev", "1", "one.a")

	mon := exec.Command(bin, append(flags, "client", "data", "monitor", "-s", "one")...)
	stdout, _ := mon.StdoutPipe()
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer mon.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	waitFor := func(s string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("monitor ended before %q:\n%s", s, strings.Join(out, "\n"))
				}
				out = append(out, l)
				if strings.Contains(l, s) {
					return
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %q from monitor:\n%s", s, strings.Join(out, "\n"))
			}
		}
	}
	waitFor("up to date")
	dkd("", "set", "-v", "hello", "one.b.c")
	dkd("", "delete", "one.a")
	waitFor("deleted: true")
	mon.Process.Signal(syscall.SIGTERM)
	for l := range lines {
		out = append(out, l)
	}
	if err := mon.Wait(); err != nil {
		t.Fatalf("monitor on SIGTERM: %v", err)
	}
	want := "---\npath: a\nvalue: 1\ntock: 2\n--- # up to date\n---\npath: b.c\nvalue: hello\ntock: 3\n---\npath: a\ndeleted: true\ntock: 4"
	if got := strings.Join(out, "\n"); got != want {
		t.Fatalf("monitor printed:\n%s\nwant:\n%s", got, want)
	}
	// The same stream, replayed elsewhere.
	dkd(strings.Join(out, "\n")+"\n", "update", "copy")
	if got := dkd("", "get", "-rd_", "copy"); got != "b:\n  c:\n    _: hello\n" {
		t.Fatalf("after update:\n%s", got)
	}
}
