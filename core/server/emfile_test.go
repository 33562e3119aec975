package server_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/server"
)

// emfileEnv makes a re-executed test the server of TestRealEMFILE.
const emfileEnv = "DISTKV_EMFILE_SERVER"

// TestRealEMFILE runs a server in a child process with a limit of 64 open
// files, fills them with connections, and checks that the server accepts
// again once they close, having logged the failures once.
func TestRealEMFILE(t *testing.T) {
	if os.Getenv(emfileEnv) != "" {
		emfileServer()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealEMFILE$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logBuffer // a server process's log
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("the server did not start: %q %v\n%s", line, err, stderr.String())
	}
	// greeted reports whether the server greets a connection within d.
	greeted := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := c.Read(make([]byte, 1))
		return err == nil
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Connect until one is not served: the server is out of files.
	for !strings.Contains(stderr.String(), "too many open files") {
		if len(conns) == 200 {
			t.Fatalf("200 connections and the server did not run out of files:\n%s", stderr.String())
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		greeted(c, 100*time.Millisecond)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, c)
	if !greeted(c, 10*time.Second) {
		t.Fatalf("the server accepts no more after running out of files:\n%s", stderr.String())
	}
	if n := strings.Count(stderr.String(), "accept failed"); n != 1 {
		t.Fatalf("%d log lines about accept failures, want 1 a minute:\n%s", n, stderr.String())
	}
}

// emfileServer is the child of TestRealEMFILE: a server with few files,
// until stdin closes.
func emfileServer() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		panic(err)
	}
	lim.Cur = 64
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		panic(err)
	}
	s, err := server.New(server.Config{Node: "emfile", Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		panic(err)
	}
	if err := s.Start(); err != nil {
		panic(err)
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}
