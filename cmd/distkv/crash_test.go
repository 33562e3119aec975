package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
)

// serverProc is a distkv server process of a test.
type serverProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex // protects stderr
	stderr *strings.Builder
}

func startServerProc(t *testing.T, bin string, port int, args ...string) *serverProc {
	t.Helper()
	sp, err := launchServerProc(t, bin, port, 30*time.Second, args...)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// launchServerProc starts a server and waits up to timeout until it
// prints "Running."; the error of one that ends first or takes too long
// holds its log, and the process comes with it. The test's cleanup kills
// it.
func launchServerProc(t *testing.T, bin string, port int, timeout time.Duration, args ...string) (*serverProc, error) {
	t.Helper()
	// Later -C arguments win, so args may override these.
	full := append([]string{"-c", "/dev/null", "-C", "server.bind_default.host=127.0.0.1", "-C", "server.bind_default.port=" + strconv.Itoa(port)}, loopbackPorts()...)
	full = append(full, args...)
	c := exec.Command(bin, full...)
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sp := &serverProc{cmd: c, stderr: &strings.Builder{}}
	c.Stderr = syncWriter{sp.stderr, &sp.mu}
	if err := c.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == "Running."
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			c.Process.Kill()
			c.Wait() // its stderr is complete then
			return sp, fmt.Errorf("server %v did not start:\n%s", args, sp.log())
		}
	case <-time.After(timeout):
		return sp, fmt.Errorf("server %v did not start within %v:\n%s", args, timeout, sp.log())
	}
	return sp, nil
}

// log is what the server wrote to stderr so far.
func (sp *serverProc) log() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.stderr.String()
}

type syncWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestCrashRecovery kills a logging server with SIGKILL while clients
// write; a restart from the log must have every write that was
// acknowledged (with sync: always, acknowledged means fsynced).
func TestCrashRecovery(t *testing.T) {
	bin := buildBinary(t)
	for _, policy := range []string{"always", "interval"} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			logFile := filepath.Join(dir, "crash.state")
			port := freePort(t)
			sp := startServerProc(t, bin, port, "-C", "server.log.sync="+policy, "server", "-i", "crash", "n1")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: port})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Request(ctx, "log", client.Args{{Key: "path", Value: logFile}, {Key: "fetch", Value: true}}); err != nil {
				t.Fatal(err)
			}
			// Writers: each key gets increasing values; acked[w] is the last
			// value acknowledged for writer w's key k (w, k).
			const writers = 8
			var mu sync.Mutex
			acked := map[string]int64{}
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := int64(1); ; i++ {
						key := fmt.Sprintf("w%d.k%d", w, i%50)
						if _, err := cl.Set(ctx, path.P(key), i); err != nil {
							return // the server is gone
						}
						mu.Lock()
						acked[key] = i
						mu.Unlock()
					}
				})
			}
			time.Sleep(1500 * time.Millisecond) // let writes pile up; not a timing assertion
			sp.cmd.Process.Signal(syscall.SIGKILL)
			sp.cmd.Wait()
			wg.Wait()
			cl.Close()
			mu.Lock()
			if len(acked) == 0 {
				t.Fatal("no write was acknowledged")
			}
			mu.Unlock()

			// Restart from the log.
			port2 := freePort(t)
			sp2 := startServerProc(t, bin, port2, "server", "-l", logFile, "n1")
			cl2, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: port2})
			if err != nil {
				t.Fatal(err)
			}
			defer cl2.Close()
			lost := 0
			for key, want := range acked {
				e, err := cl2.Get(ctx, path.P(key))
				if err != nil {
					t.Fatal(err)
				}
				var got int64
				if e.HasValue {
					v, _ := e.Value()
					got, _ = v.(int64)
				}
				// A later write may have reached the log without its ack
				// reaching us: the restored value is never older.
				if got < want {
					lost++
					if policy == "always" {
						t.Errorf("%s: restored %d, but %d was acknowledged", key, got, want)
					}
				}
			}
			t.Logf("%s: %d keys checked, %d older than acknowledged; server log:\n%s", policy, len(acked), lost, sp2.log())
		})
	}
}
