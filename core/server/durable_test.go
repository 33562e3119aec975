package server_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// fullDiskEnv names the small file system a re-executed test writes to.
const fullDiskEnv = "DISTKV_FULL_DISK"

// onFullDisk runs the test again in a private mount namespace where dir is
// a 512 KiB tmpfs, and reports whether this is that run.
func onFullDisk(t *testing.T) (dir string, inside bool) {
	t.Helper()
	if d := os.Getenv(fullDiskEnv); d != "" {
		return d, true
	}
	dir = t.TempDir()
	const script = `PATH=$PATH:/usr/sbin:/sbin
mount -t tmpfs -o size=512k distkv-test "$DISTKV_FULL_DISK" || exit 97
exec "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fullDiskEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s on a small tmpfs (needs root and unshare -m): %v\n%s", t.Name(), err, out)
	}
	t.Logf("ran on a full file system:\n%s", out)
	return "", false
}

// TestLogDiskFull fills the disk under a log with sync "always": every
// acknowledged change is in the log, the first change that is not gets an
// error, so do all after it, and the server goes on answering.
func TestLogDiskFull(t *testing.T) {
	dir, inside := onFullDisk(t)
	if !inside {
		return
	}
	s := startServer(t, server.Config{LogSync: persist.SyncAlways})
	c := connect(t, s)
	ctx := ctxT(t)
	name := filepath.Join(dir, "changes.log")
	if err := s.StartLog(name, false); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 8<<10)
	var acked []string
	var failed error
	for i := range 200 {
		p := fmt.Sprintf("k%03d", i)
		if _, err := c.Set(ctx, path.P(p), value); err != nil {
			failed = err
			break
		}
		acked = append(acked, p)
	}
	if failed == nil {
		t.Fatal("200 sets of 8 KiB fit on a 512 KiB file system")
	}
	if !errors.Is(failed, wire.ErrLog) || !strings.Contains(failed.Error(), "not on disk") {
		t.Errorf("the failed set: %v", failed)
	}
	if _, err := c.Set(ctx, path.P("after"), 1); !errors.Is(err, wire.ErrLog) {
		t.Errorf("a set after the log failed: %v", err)
	}
	if _, err := c.Get(ctx, path.P("k000")); err != nil {
		t.Errorf("the server stopped answering: %v", err)
	}
	if err := s.Close(); err == nil {
		t.Log("closing the failed log reported no error")
	}
	// Every acknowledged change is in the log.
	s2, _ := server.New(server.Config{Node: "reader", Listen: "127.0.0.1:0"})
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := s2.Load(fh, name); err != nil {
		t.Fatal(err)
	}
	for _, p := range acked {
		if it, ok := s2.Tree().Get(path.P(p)); !ok || !it.HasValue {
			t.Fatalf("%s was acknowledged but is not in the log (%d acknowledged)", p, len(acked))
		}
	}
	t.Logf("%d changes acknowledged before the disk was full; then: %v", len(acked), failed)
}

// TestDurableRepliesInOrder pipelines changes and reads under sync
// "always": the replies come in request order although the changes' wait
// for the disk.
func TestDurableRepliesInOrder(t *testing.T) {
	for _, sync := range []persist.SyncPolicy{persist.SyncAlways, persist.SyncInterval, persist.SyncNever} {
		s := startServer(t, server.Config{LogSync: sync})
		if err := s.StartLog(filepath.Join(t.TempDir(), "log"), false); err != nil {
			t.Fatal(err)
		}
		rc := dialRaw(t, s)
		var batch []byte
		for i := range 200 {
			seq := int64(i + 1)
			switch i % 3 {
			case 0:
				batch = append(batch, req(t, "seq", seq, "action", "set_value", "path", path.P(fmt.Sprintf("k%d", i%7)), "value", int64(i))...)
			case 1:
				batch = append(batch, req(t, "seq", seq, "action", "get_value", "path", path.P("k0"))...)
			default:
				batch = append(batch, req(t, "seq", seq, "action", "no_such_action")...)
			}
		}
		rc.send(batch)
		for i := range 200 {
			if rep := rc.next(); get(rep, "seq") != int64(i+1) {
				t.Fatalf("sync %v: reply %d is %v", sync, i+1, rep)
			}
		}
	}
}
