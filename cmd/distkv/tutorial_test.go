package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/internal/freeport"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// buildBinary builds the distkv command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "distkv")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port free for TCP and UDP (freeport).
func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// loopbackPorts are the flags that keep a test server's gossip, peer and
// HTTP listeners on loopback, on free ports, with fast gossip timings, and
// its discovery off (tests running side by side must not find each other).
func loopbackPorts() []string {
	return []string{"-C", "server.serf.bind=127.0.0.1:0", "-C", "server.serf.profile=local", "-C", "server.peer.bind=127.0.0.1:0",
		"-C", "server.serf.discover=false", "-C", "server.http.bind=127.0.0.1:0"}
}

// script runs a transcript (see testdata/tutorial.txt) against the binary.
type script struct {
	t       *testing.T
	dir     string
	prelude []string // shell function definitions, run before each command
	bg      []*exec.Cmd
	host    string
}

func TestTutorial(t *testing.T) { runScript(t, "testdata/tutorial.txt") }

// runScript runs a transcript against a fresh binary on a port of its own.
func runScript(t *testing.T, file string) {
	bin := buildBinary(t)
	port := freePort(t)
	dir := t.TempDir()
	host, _ := os.Hostname()
	s := &script{t: t, dir: dir, host: host}
	s.prelude = []string{fmt.Sprintf(`distkv() { %s -c /dev/null -C server.bind_default.port=%d -C connect.port=%d %s "$@"; }`,
		bin, port, port, strings.Join(loopbackPorts(), " "))}
	defer s.stopAll()
	s.run(file)
}

var (
	exitRe = regexp.MustCompile(`\s+# exit (\d+)$`)
	funcRe = regexp.MustCompile(`^\w+\(\) \{.*\}$`)
)

func (s *script) run(file string) {
	t := s.t
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out []string // the file, rewritten
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out = append(out, line)
		cmd, ok := strings.CutPrefix(line, "$ ")
		if !ok {
			continue
		}
		var want []string
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "$ ") && !strings.HasPrefix(lines[i+1], "#") && lines[i+1] != "" {
			i++
			want = append(want, lines[i])
		}
		got := s.exec(cmd, i+1)
		out = append(out, got...)
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: $ %s\n--- got:\n%s\n--- want:\n%s", file, i+1, cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs one command line and returns its output lines.
func (s *script) exec(cmd string, lineNo int) []string {
	t := s.t
	wantExit := 0
	if m := exitRe.FindStringSubmatch(cmd); m != nil {
		wantExit, _ = strconv.Atoi(m[1])
	}
	switch {
	case funcRe.MatchString(cmd):
		s.prelude = append(s.prelude, cmd)
		return nil
	case cmd == "kill %1":
		s.stopLast()
		return nil
	case strings.HasSuffix(cmd, " &"):
		return s.start(strings.TrimSuffix(cmd, " &"))
	}
	c := exec.Command("bash", "-c", strings.Join(append(s.prelude, cmd), "\n"))
	c.Dir = s.dir
	c.Env = append(os.Environ(), "HOME="+s.dir)
	var buf bytes.Buffer
	c.Stdout, c.Stderr = &buf, &buf
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- c.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		c.Process.Kill()
		t.Fatalf("line %d: %q did not finish", lineNo, cmd)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Errorf("line %d: %q exited %d, want %d\n%s", lineNo, cmd, code, wantExit, buf.String())
	}
	return s.lines(buf.String())
}

// clockTick finds a tick that a server counts from its clock (see
// server.ClockTick): different in every run.
var clockTick = regexp.MustCompile(`(tick: |@)1[0-9]{15}\b`)

func (s *script) lines(text string) []string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return nil
	}
	if s.host != "" {
		text = strings.ReplaceAll(text, s.host, "TESTHOST")
	}
	if s.dir != "" {
		text = strings.ReplaceAll(text, s.dir, "TESTDIR")
	}
	text = clockTick.ReplaceAllString(text, "${1}CLOCK")
	return strings.Split(text, "\n")
}

// start runs a server in the background until it prints "Running.".
func (s *script) start(cmd string) []string {
	t := s.t
	c := exec.Command("bash", "-c", strings.Join(append(s.prelude, cmd), "\n"))
	c.Dir = s.dir
	c.Env = append(os.Environ(), "HOME="+s.dir)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s.bg = append(s.bg, c)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("%q ended before it ran:\n%s", cmd, stderr.String())
		}
		go func() {
			for range lines {
			}
		}()
		return []string{l}
	case <-time.After(30 * time.Second):
		t.Fatalf("%q did not start:\n%s", cmd, stderr.String())
	}
	return nil
}

// stopLast stops the newest background server, as `kill` would.
func (s *script) stopLast() {
	if len(s.bg) == 0 {
		s.t.Fatal("kill: no server running")
	}
	c := s.bg[len(s.bg)-1]
	s.bg = s.bg[:len(s.bg)-1]
	syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		s.t.Error("the server did not stop on SIGTERM")
		<-done
	}
}

func (s *script) stopAll() {
	for len(s.bg) > 0 {
		s.stopLast()
	}
}

// TestACLCommands runs the acl commands through the binary
// (testdata/acl.txt).
func TestACLCommands(t *testing.T) { runScript(t, "testdata/acl.txt") }
