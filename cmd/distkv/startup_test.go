package main

import (
	"context"
	"errors"
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

// runServerToEnd runs a server that is expected to stop by itself and
// returns its output (stdout and stderr) and exit status.
func runServerToEnd(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"-c", "/dev/null", "-C", "server.bind_default.host=127.0.0.1",
		"-C", "server.bind_default.port=" + strconv.Itoa(freePort(t))}, loopbackPorts()...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // it would not end
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(full, args...)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case ctx.Err() != nil:
		t.Fatalf("server %v did not end:\n%s", args, out)
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatal(err)
	return "", 0
}

// serfBind are the flags that bind a test server's gossip to a fixed loopback port.
func serfBind(port int) []string {
	return []string{"-C", "server.serf.bind=127.0.0.1:" + strconv.Itoa(port)}
}

// getValue reads p through a new connection to the client port.
func getValue(ctx context.Context, port int, p path.Path) (any, error) {
	cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: port})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	e, err := cl.Get(ctx, p)
	if err != nil {
		return nil, err
	}
	return e.Value()
}

// TestNameTaken: a server whose name a running server of the network has
// refuses to start, naming that server's gossip address, whether it joins
// that server or another one; the running server keeps serving its data.
func TestNameTaken(t *testing.T) {
	bin := buildBinary(t)
	p1, p2 := freePort(t), freePort(t)
	g1, g2 := freePort(t), freePort(t)
	startServerProc(t, bin, p1, append(serfBind(g1), "server", "-i", "Testing", "one")...)
	startServerProc(t, bin, p2, append(serfBind(g2), "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: p1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Set(ctx, path.P("kept"), "by one"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, join string }{
		{"through one", strconv.Itoa(g1)},
		{"through two", strconv.Itoa(g2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runServerToEnd(t, bin, "server", "--join", "127.0.0.1:"+tc.join, "one")
			want := fmt.Sprintf(`distkv: refusing to start: another server named "one" is running (gossip address 127.0.0.1:%d)`, g1)
			if code == 0 || !strings.Contains(out, want) {
				t.Fatalf("second one: exit %d, want an error %q:\n%s", code, want, out)
			}
			if strings.Contains(out, "Running.") {
				t.Errorf("the second one ran:\n%s", out)
			}
		})
	}
	// The first one serves on, with its data, and still replicates.
	if e, err := cl.Get(ctx, path.P("kept")); err != nil || !e.HasValue {
		t.Fatalf("one: kept = %+v, %v", e, err)
	}
	if _, err := cl.Set(ctx, path.P("after"), "the refusals"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if v, err := getValue(ctx, p2, path.P("after")); err == nil && v == "the refusals" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("one's change after the refusals did not reach two")
		}
	}
}

// TestRestartAtOnce: `kill PID; distkv server …` with the same name and
// ports, five times in a row: the old server stops within its bounded
// leave, the new one waits for the ports it still holds, copies the data
// from the second server and serves it intact.
func TestRestartAtOnce(t *testing.T) {
	bin := buildBinary(t)
	p1, p2 := freePort(t), freePort(t)
	g1, g2 := freePort(t), freePort(t)
	one := startServerProc(t, bin, p1, append(serfBind(g1), "server", "-i", "Testing", "one")...)
	startServerProc(t, bin, p2, append(serfBind(g2), "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	set := func(port int, key string, v any) {
		t.Helper()
		cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := cl.Set(ctx, path.P(key), v); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]any{"": "Testing"}
	for i := range 5 {
		key := fmt.Sprintf("round.r%d", i)
		set(p1, key+".one", int64(i))
		want[key+".one"] = int64(i)
		// Wait until two has it: what the old one alone had dies with it.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if v, err := getValue(ctx, p2, path.P(key+".one")); err == nil && v == int64(i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: two did not get one's change", i)
			}
		}
		old := one
		old.cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { exited <- old.cmd.Wait() }()
		one = startServerProc(t, bin, p1, append(serfBind(g1), "server", "--join", "127.0.0.1:"+strconv.Itoa(g2), "one")...)
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("round %d: the old one exited with %v:\n%s", i, err, old.log())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the old one did not stop:\n%s", i, old.log())
		}
		set(p2, key+".two", "while one restarted")
		want[key+".two"] = "while one restarted"
		for k, w := range want {
			p := path.Root
			if k != "" {
				p = path.P(k)
			}
			var got any
			var err error
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if got, err = getValue(ctx, p1, p); err == nil && got == w {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d: the restarted one has %s = %v (%v), want %v:\n%s", i, k, got, err, w, one.log())
				}
			}
		}
	}
}

// TestNoClientsDuringCopy: a server without -i and -l opens its client
// port only once it has the network's data: a client that connects while
// it copies a large tree never sees it empty or half there, and so cannot
// write into it.
func TestNoClientsDuringCopy(t *testing.T) {
	bin := buildBinary(t)
	p1, g1 := freePort(t), freePort(t)
	startServerProc(t, bin, p1, append(serfBind(g1), "server", "-i", "Testing", "one")...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: p1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// What two may load: a save from before the burst.
	old := filepath.Join(t.TempDir(), "old.save")
	if _, err := cl.Set(ctx, path.P("big.old"), "before the burst"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Request(ctx, "save", client.Args{{Key: "path", Value: old}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Delete(ctx, path.P("big.old")); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	if acked := writeBurst(ctx, cl, "big", n); len(acked) != n {
		t.Fatalf("only %d of %d writes acknowledged", len(acked), n)
	}
	blob := strings.Repeat("x", 64<<10)
	for i := range 100 {
		if _, err := cl.Set(ctx, path.P(fmt.Sprintf("blob.b%d", i)), blob); err != nil {
			t.Fatal(err)
		}
	}
	count := func(cl *client.Client) (int, error) {
		k := 0
		for e, err := range cl.GetTree(ctx, path.P("big"), client.TreeOptions{}) {
			if err != nil {
				return k, err
			}
			if e.HasValue {
				k++
			}
		}
		return k, nil
	}

	// Probe two's client port from before it starts until after it runs:
	// started empty, and started with an old save while the network runs.
	for i, load := range [][]string{nil, {"-l", old}} {
		p2 := freePort(t)
		name := fmt.Sprint("two", i)
		args := append(append([]string{"server", "--join", "127.0.0.1:" + strconv.Itoa(g1)}, load...), name)
		seen, bad := probeWhileStarting(ctx, t, p2, func(c2 *client.Client) string {
			k, err := count(c2)
			root, _ := c2.Get(ctx, path.Root)
			v, _ := root.Value()
			if err != nil || k != n || v != "Testing" {
				return fmt.Sprintf("%d entries (%v), root %v", k, err, v)
			}
			return ""
		}, func() { startServerProc(t, bin, p2, args...) })
		if len(bad) > 0 || seen == 0 {
			t.Fatalf("%v: clients of %s saw %d times an incomplete tree: %v (of %d looks)", load, name, len(bad), bad, seen)
		}
	}
}

// probeWhileStarting looks at the server on port with look, over and
// over, from before start starts it until a few looks after; look says
// what is wrong, or "". It returns how many looks it made, and what they
// found wrong.
func probeWhileStarting(ctx context.Context, t *testing.T, port int, look func(*client.Client) string, start func()) (seen int, bad []string) {
	t.Helper()
	stop := make(chan struct{})
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c2, err := client.Open(ctx, client.Config{Host: "127.0.0.1", Port: port, Timeout: time.Second})
			if err != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			wrong := look(c2)
			c2.Close()
			mu.Lock()
			seen++
			if wrong != "" {
				bad = append(bad, wrong)
			}
			mu.Unlock()
		}
	})
	start()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := seen >= 3
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
	}
	close(stop)
	wg.Wait()
	return seen, bad
}

// TestWaitingForData: a server that finds no network to copy from says
// what it waits for, with the ways out, and server.sync_timeout ends the
// wait with an error that says the same; a --join that fails is named.
func TestWaitingForData(t *testing.T) {
	bin := buildBinary(t)
	t.Run("nothing to join", func(t *testing.T) {
		t.Parallel()
		out, code := runServerToEnd(t, bin, "-C", "server.sync_timeout=2s", "server", "lonely")
		want := "distkv: no data after 2s (server.sync_timeout): this server knows no other: no --join given, and discovery is off; " +
			"give --join HOST:PORT with the gossip address of a running server, turn on discovery on the LAN (-C server.serf.discover=true), " +
			"start a new network with -i VALUE, or load data with -l FILE"
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, want %q:\n%s", code, want, out)
		}
	})
	t.Run("join refused", func(t *testing.T) {
		t.Parallel()
		join := "127.0.0.1:" + strconv.Itoa(freePort(t)) // nobody listens there
		out, code := runServerToEnd(t, bin, "-C", "server.sync_timeout=6s", "server", "--join", join, "lonely")
		if code == 0 || !strings.Contains(out, "distkv: no data after 6s (server.sync_timeout): no server answered at --join "+join+"; give --join HOST:PORT") {
			t.Fatalf("exit %d, no error naming the join address:\n%s", code, out)
		}
		hint := `msg="still waiting for a server of the network to copy its data from" for=5s because="no server answered at --join ` + join + `" help="give --join HOST:PORT`
		if !strings.Contains(out, hint) {
			t.Errorf("no hint while it waited:\n%s", out)
		}
	})
}
