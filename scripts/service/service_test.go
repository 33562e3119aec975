package service

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/internal/freeport"
	"github.com/distkv-go/distkv/internal/unitcheck"
)

var scripts = []string{"distkv-start", "distkv-rotate", "distkv-recover"}

// bin is the distkv command TestMain builds for the tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distkv-service-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "distkv")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/distkv-go/distkv/cmd/distkv").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestScriptsParse checks every script's syntax (sh -n) and its --help.
func TestScriptsParse(t *testing.T) {
	for _, name := range scripts {
		t.Run(name, func(t *testing.T) {
			if out, err := exec.Command("sh", "-n", name).CombinedOutput(); err != nil {
				t.Fatalf("sh -n %s: %v\n%s", name, err, out)
			}
			out, err := exec.Command("./"+name, "--help").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "Usage: "+name) {
				t.Errorf("%s --help: %v\n%s", name, err, out)
			}
			out, err = exec.Command("./"+name, "--no-such-flag").CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.HasPrefix(string(out), "Usage: ") {
				t.Errorf("%s --no-such-flag: %v, want exit 2 and the usage\n%s", name, err, out)
			}
		})
	}
}

// TestUnitsVerify runs systemd-analyze verify on every unit, with the
// paths of the scripts and the binary pointed at copies.
func TestUnitsVerify(t *testing.T) {
	dir := t.TempDir()
	for _, name := range scripts {
		copyFile(t, name, filepath.Join(dir, name), 0o755)
	}
	// The runner units need an executable in the binary's place; what it
	// does does not matter to verify.
	if err := os.WriteFile(filepath.Join(dir, "distkv"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	units, err := filepath.Glob("*.service")
	if err != nil {
		t.Fatal(err)
	}
	timers, _ := filepath.Glob("*.timer")
	units = append(units, timers...)
	if len(units) != 6 {
		t.Fatalf("units: %v, want 6", units)
	}
	unitcheck.Verify(t, units, strings.NewReplacer("/usr/lib/distkv/", dir+"/", "/usr/bin/distkv", dir+"/distkv"))
}

// TestService runs the main path of the scripts: a new network through
// distkv-start and distkv-rotate --wait (as distkv.service does),
// rotations, restarts from the state files, and pruning.
func TestService(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "DISTKV_INIT=Testing")
	srv := e.start()
	e.mustRun("distkv-rotate", "--wait")
	if got := e.distkv("client", "data", "get"); got != `"Testing"` {
		t.Fatalf("the root of the new network: %q", got)
	}
	e.distkv("client", "data", "set", "-v", "hello", "svc.kept")
	e.distkv("client", "data", "set", "-v", "doomed", "svc.gone")
	e.mustRun("distkv-rotate")
	if got := e.files("*.save"); len(got) != 2 {
		t.Fatalf("saves after a rotation: %v", got)
	}
	// After the newest save, only its log has these.
	e.distkv("client", "data", "delete", "svc.gone")
	e.distkv("client", "data", "set", "-v", "later", "svc.later")
	srv.stop()

	srv = e.start()
	if !strings.Contains(srv.stderr.String(), "DISTKV_INIT ignored") {
		t.Errorf("distkv-start with state files and DISTKV_INIT did not say it ignores it:\n%s", srv.stderr)
	}
	e.mustRun("distkv-rotate", "--wait")
	want := "kept:\n  _: hello\nlater:\n  _: later"
	if got := e.distkv("client", "data", "get", "-rd_", "svc"); got != want {
		t.Errorf("after a restart: got\n%s\nwant\n%s", got, want)
	}
	e.distkv("client", "data", "set", "-v", "crash", "svc.crash")
	srv.stop()

	// A crash while the newest save was written leaves its log and a
	// .tmp: the save before it and the logs from its stamp on hold
	// everything.
	saves := e.files("*.save")
	newest := filepath.Join(e.dir, saves[len(saves)-1])
	if err := os.Rename(newest, newest+".tmp"); err != nil {
		t.Fatal(err)
	}
	srv = e.start()
	e.mustRun("distkv-rotate", "--wait")
	want = "crash:\n  _: crash\n" + want
	if got := e.distkv("client", "data", "get", "-rd_", "svc"); got != want {
		t.Errorf("after a restart without the newest save: got\n%s\nwant\n%s", got, want)
	}

	// Keep two saves: the rotation deletes every file before the older
	// of them and its log, and distkv-start still finds everything.
	e.vars = append(e.vars, "DISTKV_KEEP=2")
	if out := e.mustRun("distkv-rotate"); !strings.Contains(out, "deleted ") {
		t.Errorf("distkv-rotate with DISTKV_KEEP=2 deleted nothing:\n%s", out)
	}
	saves, logs := e.files("*.save"), e.files("*.log")
	if len(saves) != 2 || len(logs) != 2 || len(e.files("*.tmp")) != 0 ||
		strings.TrimSuffix(saves[0], ".save") != strings.TrimSuffix(logs[0], ".log") {
		t.Errorf("after a rotation with DISTKV_KEEP=2: saves %v, logs %v, .tmp %v", saves, logs, e.files("*.tmp"))
	}
	e.distkv("client", "data", "set", "-v", "last", "svc.last")
	srv.stop()
	srv = e.start()
	want = strings.Replace(want, "later:", "last:\n  _: last\nlater:", 1)
	if got := e.distkv("client", "data", "get", "-rd_", "svc"); got != want {
		t.Errorf("after pruning and a restart: got\n%s\nwant\n%s", got, want)
	}
	srv.stop()
}

// TestRotateWait: distkv-rotate --wait waits while nothing listens at
// the client port, and gives up at once on any other failure.
func TestRotateWait(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "DISTKV_INIT=Testing")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rotate := e.command(ctx, "distkv-rotate", "--wait")
	out := new(syncBuffer)
	rotate.Stdout, rotate.Stderr = out, out
	if err := rotate.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rotate.Wait() }()
	for !strings.Contains(out.String(), "waiting for the server") {
		select {
		case err := <-done:
			t.Fatalf("distkv-rotate --wait without a server ended: %v\n%s", err, out)
		case <-ctx.Done():
			t.Fatalf("distkv-rotate --wait without a server said nothing:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv := e.start()
	if err := <-done; err != nil {
		t.Fatalf("distkv-rotate --wait: %v\n%s", err, out)
	}
	if len(e.files("*.save")) != 1 || len(e.files("*.log")) != 1 {
		t.Errorf("files after distkv-rotate --wait: %v", e.files("*"))
	}
	srv.stop()

	// A port that accepts and hangs up is not a server that is starting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	e.vars = append(e.vars, "DISTKV_ARGS=-c /dev/null -C connect.host=127.0.0.1 -C connect.port="+port)
	if out, err := e.run("distkv-rotate", "--wait"); err == nil || strings.Contains(out, "waiting") {
		t.Errorf("distkv-rotate --wait at a port that hangs up: %v\n%s", err, out)
	}
}

// TestRecover: a state file the server refuses keeps it from starting
// until distkv-recover moves it aside; the data of the others is back.
func TestRecover(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "DISTKV_INIT=Testing")
	srv := e.start()
	e.mustRun("distkv-rotate", "--wait")
	e.distkv("client", "data", "set", "-v", "safe", "svc.value")
	srv.stop()

	// Names that sort after the real files: logs distkv-start loads.
	garbage := filepath.Join(e.dir, "distkv.99990101T000000Z.log")
	torn := filepath.Join(e.dir, "distkv.99990101T000001Z.log")
	writeFile(t, garbage, "not a DistKV file\n")
	// Our magic and a length of 100, but 4 bytes of payload: cut short.
	writeFile(t, torn, "\xd1DKV\x00\x00\x00\x64\x00\x00\x00\x00abcd")
	e.startFails(garbage)
	out := e.mustRun("distkv-recover")
	for _, f := range []string{garbage, torn} {
		if !strings.Contains(out, "moved "+f+" to "+filepath.Join(e.dir, "broken", filepath.Base(f))) {
			t.Errorf("distkv-recover did not say it moved %s:\n%s", f, out)
		}
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is still in the state directory", f)
		}
	}
	srv = e.start()
	if got := e.distkv("client", "data", "get", "svc.value"); got != `"safe"` {
		t.Errorf("svc.value after recovering: %q", got)
	}
	srv.stop()

	// A whole record with a wrong checksum passes the script's check;
	// the server names it, and so does the operator.
	badCRC := filepath.Join(e.dir, "distkv.99990101T000002Z.log")
	writeFile(t, badCRC, "\xd1DKV\x00\x00\x00\x04\x00\x00\x00\x00abcd")
	e.startFails(badCRC)
	if out := e.mustRun("distkv-recover"); !strings.Contains(out, "give its name") {
		t.Errorf("distkv-recover with nothing to find:\n%s", out)
	}
	if out := e.mustRun("distkv-recover", filepath.Base(badCRC)); !strings.Contains(out, "moved "+badCRC) {
		t.Errorf("distkv-recover FILE:\n%s", out)
	}
	if out, err := e.run("distkv-recover", "/etc/passwd"); err == nil {
		t.Errorf("distkv-recover moved a file outside the state directory:\n%s", out)
	}
	srv = e.start()
	if got := e.distkv("client", "data", "get", "svc.value"); got != `"safe"` {
		t.Errorf("svc.value after recovering: %q", got)
	}
	srv.stop()
}

// env is one test's installation: a state directory, a server's ports,
// and the environment the scripts get.
type env struct {
	t    *testing.T
	dir  string   // the state directory
	args []string // DISTKV_ARGS, split
	vars []string // DISTKV_* of every script; a later one wins
}

func newEnv(t *testing.T) *env {
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(port)
	// No config file, loopback on free ports, no discovery: tests that
	// run side by side must not find each other.
	args := []string{"-c", "/dev/null",
		"-C", "server.bind_default.host=127.0.0.1", "-C", "server.bind_default.port=" + p,
		"-C", "connect.host=127.0.0.1", "-C", "connect.port=" + p,
		"-C", "server.serf.bind=127.0.0.1:0", "-C", "server.serf.profile=local",
		"-C", "server.peer.bind=127.0.0.1:0", "-C", "server.serf.discover=false",
		"-C", "server.http.bind=127.0.0.1:0"}
	dir := t.TempDir()
	return &env{t: t, dir: dir, args: args, vars: []string{
		"DISTKV_STATE_DIR=" + dir,
		"DISTKV_BIN=" + bin,
		"DISTKV_ARGS=" + strings.Join(args, " "),
		"DISTKV_NAME=svc-test",
	}}
}

// command returns a script's command with the test's environment (and no
// DISTKV_* of the caller's).
func (e *env) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "./"+name, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "DISTKV_") })
	cmd.Env = append(cmd.Env, "HOME="+e.dir)
	cmd.Env = append(cmd.Env, e.vars...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a script to its end and returns its output.
func (e *env) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.command(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		e.t.Fatalf("%s %v did not end:\n%s", name, args, out)
	}
	return string(out), err
}

func (e *env) mustRun(name string, args ...string) string {
	e.t.Helper()
	out, err := e.run(name, args...)
	if err != nil {
		e.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// distkv runs a client command of the binary and returns its output.
func (e *env) distkv(args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(slices.Clone(e.args), args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("distkv %v: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// files lists the state directory's files that match pattern, by name.
func (e *env) files(pattern string) []string {
	m, err := filepath.Glob(filepath.Join(e.dir, pattern))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// server is a server that distkv-start started.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// launch runs distkv-start and returns once the server prints
// "Running." (true) or the process has ended (false).
func (e *env) launch() (*server, bool) {
	t := e.t
	t.Helper()
	cmd := e.command(context.Background(), "distkv-start")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "Running." {
				close(running)
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-running:
		return s, true
	case <-s.exited:
		return s, false
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start within a minute:\n%s", s.stderr)
	}
	return nil, false
}

// start starts the server through distkv-start.
func (e *env) start() *server {
	e.t.Helper()
	s, ok := e.launch()
	if !ok {
		e.t.Fatalf("distkv-start: %v\n%s", s.cmd.ProcessState, s.stderr)
	}
	return s
}

// startFails checks that distkv-start fails, naming file.
func (e *env) startFails(file string) {
	e.t.Helper()
	s, ok := e.launch()
	if ok {
		s.stop()
		e.t.Fatalf("the server started with %s in the state directory", file)
	}
	if !strings.Contains(s.stderr.String(), file) {
		e.t.Errorf("distkv-start failed without naming %s:\n%s", file, s.stderr)
	}
}

// stop ends the server as systemd does (SIGTERM) and waits for it. It
// may be called again.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("the server did not stop on SIGTERM:\n%s", s.stderr)
	}
}

// syncBuffer is a bytes.Buffer that a process may write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
