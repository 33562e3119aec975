package persist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashEnv makes TestCrashChild run: "file|policy|run".
const crashEnv = "DISTKV_PERSIST_CRASH_CHILD"

// crashPayload is record i of run run: mostly small, every 97th 100 KiB so
// that kills land inside large writes too.
func crashPayload(run, i int) []byte {
	size := 16 + (i*7919)%300
	if i%97 == 0 {
		size = 100 << 10
	}
	p := testPayload(run*1000003+i, size)
	binary.BigEndian.PutUint64(p[0:], uint64(run))
	binary.BigEndian.PutUint64(p[8:], uint64(i))
	return p
}

// TestCrashChild is the process TestCrash kills. It appends records in a
// loop and prints "synced N" whenever WaitSynced or Sync reported record N
// (and every earlier one) synced.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("runs only as the child of TestCrash")
	}
	parts := strings.Split(spec, "|")
	policy, err := ParseSyncPolicy(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	run, _ := strconv.Atoi(parts[2])
	w, err := Create(parts[0], Options{Sync: policy, Interval: 2 * time.Millisecond, MaxBuffer: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(run), 1))
	ctx := context.Background()
	// The parent kills us long before this; the limit only stops an orphan.
	for i, end := 1, time.Now().Add(time.Minute); time.Now().Before(end); i++ {
		seq, err := w.Append(crashPayload(run, i))
		if err == nil && rng.IntN(8) == 0 {
			if rng.IntN(2) == 0 {
				err = w.Sync()
			} else {
				err = w.WaitSynced(ctx, seq)
			}
			fmt.Printf("synced %d\n", seq)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("not killed")
}

// TestCrash kills a writing process with SIGKILL at arbitrary moments, three
// times in a row on the same log, and checks after each kill that every
// record reported synced is in the file, whole, in order, and that the file
// reads with damage only at the torn ends of runs.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "crash.log")
			synced := []int{0} // per run, from 1
			for run := 1; run <= 3; run++ {
				synced = append(synced, crashRun(t, name, policy, run, 5+rng.IntN(60)))
				checkCrashLog(t, name, synced)
			}
		})
	}
}

// crashRun starts a child writing to name, kills it after it reported kill
// syncs, and returns the last record it reported synced.
func crashRun(t *testing.T, name string, policy SyncPolicy, run, kill int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", crashEnv, name, policy, run))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan int)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "synced "); ok {
				v, _ := strconv.Atoi(n)
				lines <- v
			}
		}
	}()
	last, seen, killed := 0, 0, false
	timeout := time.After(60 * time.Second)
	for {
		select {
		case n, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				if !killed {
					t.Fatalf("child ended by itself: %v\n%s", err, stderr.Bytes())
				}
				return last
			}
			last = max(last, n)
			if seen++; seen == kill && !killed {
				// The child has moved on since printing: the kill lands
				// anywhere in its loop.
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("child reported %d syncs in 60 s, want %d\n%s", seen, kill, stderr.Bytes())
		}
	}
}

// checkCrashLog reads the log written by runs 1..len(synced)-1.
func checkCrashLog(t *testing.T, name string, synced []int) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, name)
	var dmg []Damage
	r.OnDamage(func(d Damage) { dmg = append(dmg, d) })
	runs := len(synced) - 1
	count := make([]int, runs+1) // records read per run
	prevRun := 0
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		run, i := int(binary.BigEndian.Uint64(p)), int(binary.BigEndian.Uint64(p[8:]))
		if run < prevRun || run > runs || i != count[run]+1 || !bytes.Equal(p, crashPayload(run, i)) {
			t.Fatalf("at offset %d: record %d of run %d, want record %d of run %d or a later run",
				r.Offset(), i, run, count[max(run, prevRun)]+1, max(run, prevRun))
		}
		if n := len(dmg); n > 0 && dmg[n-1].Offset+dmg[n-1].Skipped == r.Offset() && run == prevRun {
			t.Fatalf("damage inside run %d: %v", run, dmg[n-1])
		}
		count[run]++
		prevRun = run
	}
	for run := 1; run <= runs; run++ {
		if count[run] < synced[run] {
			t.Fatalf("run %d: %d records in the file, but %d were reported synced", run, count[run], synced[run])
		}
	}
	if len(dmg) > runs {
		t.Errorf("%d damaged stretches after %d runs: %v", len(dmg), runs, dmg)
	}
	for _, d := range dmg[:max(0, len(dmg)-1)] {
		if d.Torn {
			t.Errorf("torn damage before the end: %v", d)
		}
	}
	t.Logf("after run %d: records per run %v, synced %v, damage %v", runs, count[1:], synced[1:], dmg)
}
