package persist

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

func mustCreate(t testing.TB, name string, opt Options) *Writer {
	t.Helper()
	w, err := Create(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustAppend(t testing.TB, w *Writer, p []byte) uint64 {
	t.Helper()
	seq, err := w.Append(p)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// mustReadFile reads a log file; it fails on an error, not on damage.
func mustReadFile(t testing.TB, name string) ([][]byte, []Damage) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, dmg, err := readAll(t, NewReader(f, name))
	if err != nil {
		t.Fatal(err)
	}
	return recs, dmg
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testFile wraps a file to record syncs and inject failures and stalls.
type testFile struct {
	f *os.File

	mu       sync.Mutex // protects the fields below
	written  int64      // bytes written
	synced   int64      // bytes written before the last successful Sync
	syncs    int
	failW    error         // returned by Write
	failS    error         // returned by Sync
	gateW    chan struct{} // if set, Write waits for it to close
	gateS    chan struct{} // if set, Sync waits for it to close
	inWrite  bool
	inSync   bool
	syncSeen chan struct{} // closed at the first Sync call
}

func newTestFile(t *testing.T) (*testFile, string) {
	name := filepath.Join(t.TempDir(), "log")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return &testFile{f: f}, name
}

func (f *testFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	gate, fail := f.gateW, f.failW
	f.inWrite = true
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		n, _ := f.f.Write(p[:len(p)/2])
		f.add(n)
		return n, fail
	}
	n, err := f.f.Write(p)
	f.add(n)
	return n, err
}

func (f *testFile) add(n int) {
	f.mu.Lock()
	f.written += int64(n)
	f.mu.Unlock()
}

func (f *testFile) Sync() error {
	f.mu.Lock()
	gate, fail := f.gateS, f.failS
	f.inSync = true
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return fail
	}
	err := f.f.Sync()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		f.syncs++
		f.synced = f.written
	}
	return err
}

func (f *testFile) Close() error { return f.f.Close() }

func (f *testFile) get() (written, synced int64, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written, f.synced, f.syncs
}

func testWriter(t *testing.T, f *testFile, name string, opt Options) *Writer {
	opt, err := opt.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(f, name, name, opt)
	t.Cleanup(func() { w.Close() })
	return w
}

// record payloads carry the appending goroutine and its counter.
func idPayload(g, i int) []byte {
	p := testPayload(g*100000+i, 8+(g+i)%90)
	binary.BigEndian.PutUint32(p[0:], uint32(g))
	binary.BigEndian.PutUint32(p[4:], uint32(i))
	return p
}

func TestWriterConcurrent(t *testing.T) {
	const goroutines, each = 8, 500
	for _, tt := range []struct {
		name string
		opt  Options
	}{
		{"interval", Options{Sync: SyncInterval, Interval: time.Millisecond}},
		{"always", Options{Sync: SyncAlways}},
		{"never", Options{Sync: SyncNever, Interval: time.Millisecond}},
		{"small buffer", Options{Sync: SyncInterval, MaxBuffer: 300}},
		{"atomic", Options{Sync: SyncAlways, Atomic: true}},
	} {
		opt := tt.opt
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "log")
			w := mustCreate(t, name, opt)
			ctx := ctxT(t)
			var mu sync.Mutex
			bySeq := map[uint64][]byte{}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						p := idPayload(g, i)
						seq, err := w.Append(p)
						if err == nil && i%50 == 0 {
							err = w.WaitSynced(ctx, seq)
						}
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						bySeq[seq] = p
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			recs, dmg := mustReadFile(t, name)
			if len(dmg) != 0 || len(recs) != goroutines*each {
				t.Fatalf("read %d records and damage %v, want %d records", len(recs), dmg, goroutines*each)
			}
			for i, p := range recs {
				if !bytes.Equal(p, bySeq[uint64(i+1)]) {
					t.Fatalf("record %d is not the one appended with seq %d", i, i+1)
				}
			}
		})
	}
}

// TestWaitSynced checks that WaitSynced returns only once the record is
// written and, except for SyncNever, fsynced; and that SyncAlways and
// SyncNever do not wait for the interval.
func TestWaitSynced(t *testing.T) {
	for _, tt := range []struct {
		opt   Options
		fsync bool
	}{
		{Options{Sync: SyncAlways, Interval: time.Hour}, true},
		{Options{Sync: SyncInterval, Interval: 5 * time.Millisecond}, true},
		{Options{Sync: SyncNever, Interval: time.Hour}, false},
	} {
		t.Run(tt.opt.Sync.String(), func(t *testing.T) {
			f, name := newTestFile(t)
			w := testWriter(t, f, name, tt.opt)
			ctx := ctxT(t)
			var size int64
			for i := range 20 {
				p := testPayload(i, i*10)
				size += int64(len(p) + headerSize)
				seq := mustAppend(t, w, p)
				if err := w.WaitSynced(ctx, seq); err != nil {
					t.Fatal(err)
				}
				written, synced, _ := f.get()
				if written != size || tt.fsync && synced != size {
					t.Fatalf("record %d: written %d, synced %d; want %d", seq, written, synced, size)
				}
			}
			if _, _, syncs := f.get(); !tt.fsync && syncs != 0 {
				t.Errorf("%d fsyncs with SyncNever", syncs)
			}
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			if written, synced, _ := f.get(); synced != written {
				t.Errorf("after Sync: written %d, synced %d", written, synced)
			}
		})
	}
}

// TestGroupCommit: records appended while an fsync runs share the next one.
func TestGroupCommit(t *testing.T) {
	f, name := newTestFile(t)
	gate := make(chan struct{})
	f.gateS = gate
	w := testWriter(t, f, name, Options{Sync: SyncAlways, Interval: time.Hour})
	ctx := ctxT(t)

	var wg sync.WaitGroup
	first := mustAppend(t, w, []byte("first"))
	wg.Go(func() {
		if err := w.WaitSynced(ctx, first); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the first fsync", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.inSync })
	const n = 10
	for i := range n {
		seq := mustAppend(t, w, testPayload(i, 30))
		wg.Go(func() {
			if err := w.WaitSynced(ctx, seq); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "every waiter", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.want == first+n })
	close(gate)
	wg.Wait()
	if _, _, syncs := f.get(); syncs != 2 {
		t.Errorf("%d fsyncs, want 2: one for the first record, one for the %d others", syncs, n)
	}
}

// TestBackground: without WaitSynced or Sync, data still reaches the file:
// written and fsynced each interval (SyncInterval, SyncAlways), or written
// (SyncNever).
func TestBackground(t *testing.T) {
	for _, p := range []SyncPolicy{SyncInterval, SyncAlways, SyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			f, name := newTestFile(t)
			w := testWriter(t, f, name, Options{Sync: p, Interval: time.Millisecond})
			mustAppend(t, w, []byte("hello"))
			waitFor(t, "the background write", func() bool {
				written, synced, _ := f.get()
				return written > 0 && (p == SyncNever || synced == written)
			})
			if _, _, syncs := f.get(); p == SyncNever && syncs != 0 {
				t.Errorf("%d fsyncs with SyncNever before Close", syncs)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if written, synced, _ := f.get(); synced != written {
				t.Errorf("after Close: written %d, synced %d", written, synced)
			}
		})
	}
}

func TestBackpressure(t *testing.T) {
	f, name := newTestFile(t)
	gate := make(chan struct{})
	f.gateW = gate
	const maxBuf, n = 1000, 100
	w := testWriter(t, f, name, Options{MaxBuffer: maxBuf, Interval: time.Hour})
	p := make([]byte, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if _, err := w.Append(p); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	waitFor(t, "Append to block", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.blocked > 0 })
	w.mu.Lock()
	buffered := w.size
	w.mu.Unlock()
	if buffered > maxBuf+len(p)+headerSize {
		t.Errorf("%d bytes buffered, want at most %d", buffered, maxBuf+len(p)+headerSize)
	}
	close(gate)
	<-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if recs, dmg := mustReadFile(t, name); len(recs) != n || len(dmg) != 0 {
		t.Errorf("read %d records and damage %v, want %d", len(recs), dmg, n)
	}
}

func TestStickyError(t *testing.T) {
	errDisk := errors.New("injected disk error")
	for _, tt := range []struct {
		name  string
		setup func(*testFile)
		sync  SyncPolicy
		op    func(context.Context, *Writer, uint64) error
	}{
		{"write fails in Sync", func(f *testFile) { f.failW = errDisk }, SyncInterval,
			func(_ context.Context, w *Writer, _ uint64) error { return w.Sync() }},
		{"fsync fails in Sync", func(f *testFile) { f.failS = errDisk }, SyncNever,
			func(_ context.Context, w *Writer, _ uint64) error { return w.Sync() }},
		{"fsync fails in background", func(f *testFile) { f.failS = errDisk }, SyncAlways,
			func(ctx context.Context, w *Writer, seq uint64) error { return w.WaitSynced(ctx, seq) }},
		{"write fails in background", func(f *testFile) { f.failW = errDisk }, SyncNever,
			func(ctx context.Context, w *Writer, seq uint64) error { return w.WaitSynced(ctx, seq) }},
		{"write fails in Close", func(f *testFile) { f.failW = errDisk }, SyncInterval,
			func(_ context.Context, w *Writer, _ uint64) error { return w.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, name := newTestFile(t)
			tt.setup(f)
			w := testWriter(t, f, name, Options{Sync: tt.sync, Interval: time.Hour})
			ctx := ctxT(t)
			seq := mustAppend(t, w, []byte("doomed"))
			if err := tt.op(ctx, w, seq); !errors.Is(err, errDisk) {
				t.Fatalf("got %v, want the injected error", err)
			}
			if err := w.Err(); !errors.Is(err, errDisk) {
				t.Errorf("Err() = %v", err)
			}
			if _, err := w.Append(nil); !errors.Is(err, errDisk) {
				t.Errorf("Append after the error: %v", err)
			}
			if err := w.WaitSynced(ctx, seq); !errors.Is(err, errDisk) {
				t.Errorf("WaitSynced after the error: %v", err)
			}
			if err := w.Sync(); !errors.Is(err, errDisk) {
				t.Errorf("Sync after the error: %v", err)
			}
			for range 2 {
				if err := w.Close(); !errors.Is(err, errDisk) {
					t.Errorf("Close after the error: %v", err)
				}
			}
		})
	}
}

func TestDiskFull(t *testing.T) {
	w, err := Create("/dev/full", Options{})
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	mustAppend(t, w, []byte("x"))
	if err := w.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Sync on /dev/full: %v, want ENOSPC", err)
	}
	if _, err := w.Append([]byte("y")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Append after ENOSPC: %v", err)
	}
	if err := w.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close after ENOSPC: %v", err)
	}
}

func TestAtomic(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before []byte // content of NAME before, if any
		fail   bool   // writing fails
	}{
		{"new", nil, false},
		{"replace", first(testStream([]byte("old content"))), false},
		{"failure keeps the old file", first(testStream([]byte("old content"))), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "x.state")
			if tt.before != nil {
				if err := os.WriteFile(name, tt.before, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var w *Writer
			if tt.fail {
				f, err := os.OpenFile(name+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				opt, _ := Options{Atomic: true}.withDefaults()
				w = newWriter(&testFile{f: f, failW: errors.New("injected")}, name, name+".tmp", opt)
				t.Cleanup(func() { w.Close() })
			} else {
				w = mustCreate(t, name, Options{Atomic: true, Sync: SyncAlways})
			}
			var want [][]byte
			for i := range 100 {
				p := testPayload(i, i)
				want = append(want, p)
				seq := mustAppend(t, w, p)
				if !tt.fail && i%10 == 0 {
					if err := w.WaitSynced(ctxT(t), seq); err != nil {
						t.Fatal(err)
					}
				}
			}
			if b, err := os.ReadFile(name); !bytes.Equal(b, tt.before) || tt.before == nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("before Close, %s holds %q (%v)", name, b, err)
			}
			err := w.Close()
			if _, serr := os.Stat(name + ".tmp"); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("after Close, %s.tmp exists (%v)", name, serr)
			}
			if tt.fail {
				if err == nil {
					t.Fatal("Close succeeded despite a write error")
				}
				if b, _ := os.ReadFile(name); !bytes.Equal(b, tt.before) {
					t.Errorf("a failed save replaced %s", name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs, dmg := mustReadFile(t, name)
			checkRecords(t, recs, want)
			if len(dmg) != 0 {
				t.Errorf("damage %v", dmg)
			}
		})
	}
}

func TestCreateAppends(t *testing.T) {
	name := filepath.Join(t.TempDir(), "log")
	var want [][]byte
	for round := range 3 {
		w := mustCreate(t, name, Options{})
		for i := range 5 {
			p := testPayload(round*10+i, 20)
			want = append(want, p)
			mustAppend(t, w, p)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := mustReadFile(t, name)
	checkRecords(t, recs, want)
}

// TestAppendAfterTorn: a log whose last record was torn by a crash is
// appended to; readers skip the torn bytes and read everything else.
func TestAppendAfterTorn(t *testing.T) {
	name := filepath.Join(t.TempDir(), "log")
	var want [][]byte
	w := mustCreate(t, name, Options{})
	for i := range 4 {
		p := testPayload(i, 100)
		want = append(want, p)
		mustAppend(t, w, p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, int64(3*(100+headerSize)+50)); err != nil {
		t.Fatal(err)
	}
	want = want[:3]
	w = mustCreate(t, name, Options{})
	for i := range 3 {
		p := testPayload(10+i, 100)
		want = append(want, p)
		mustAppend(t, w, p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, dmg := mustReadFile(t, name)
	checkRecords(t, recs, want)
	if len(dmg) != 1 || dmg[0].Torn || dmg[0].Skipped != 50 {
		t.Errorf("damage %v, want 50 bytes in the middle", dmg)
	}
}

func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	name := filepath.Join(t.TempDir(), "log")
	w, err := Create(name, Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	seq := mustAppend(t, w, []byte("a"))
	mustAppend(t, w, []byte("b"))
	for range 2 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	ctx := ctxT(t)
	if _, err := w.Append(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := w.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
	if err := w.WaitSynced(ctx, seq+1); err != nil {
		t.Errorf("WaitSynced for an appended record after Close: %v", err)
	}
	if err := w.WaitSynced(ctx, seq+2); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("WaitSynced for a record never appended: %v", err)
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
	waitFor(t, "the background goroutine to end", func() bool { return runtime.NumGoroutine() <= before })
	if recs, _ := mustReadFile(t, name); len(recs) != 2 {
		t.Errorf("read %d records, want 2", len(recs))
	}
}

func TestAppendTooLarge(t *testing.T) {
	w := mustCreate(t, filepath.Join(t.TempDir(), "log"), Options{})
	if _, err := w.Append(make([]byte, MaxRecord+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
	if err := w.Err(); err != nil {
		t.Errorf("a refused record made the writer fail: %v", err)
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		opt  Options
		want error
	}{
		{"bad policy", Options{Sync: 7}, ErrSyncPolicy},
		{"negative policy", Options{Sync: -1}, ErrSyncPolicy},
		{"negative interval", Options{Interval: -time.Second}, nil},
		{"negative buffer", Options{MaxBuffer: -1}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(filepath.Join(dir, "log"), tt.opt)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want an error (%v)", err, tt.want)
			}
		})
	}
	if _, err := Create(filepath.Join(dir, "no", "such", "dir"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create in a missing directory: %v", err)
	}
}

func TestSyncPolicy(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    SyncPolicy
	}{
		{"interval", SyncInterval},
		{"always", SyncAlways},
		{"never", SyncNever},
	} {
		if got, err := ParseSyncPolicy(tt.name); got != tt.p || err != nil {
			t.Errorf("ParseSyncPolicy(%q) = %v, %v", tt.name, got, err)
		}
		if tt.p.String() != tt.name {
			t.Errorf("String() = %q, want %q", tt.p.String(), tt.name)
		}
		var p SyncPolicy
		if b, err := tt.p.MarshalText(); err != nil || p.UnmarshalText(b) != nil || p != tt.p {
			t.Errorf("text round trip of %v: %q, %v, %v", tt.p, b, err, p)
		}
	}
	for _, s := range []string{"", "Always", "sometimes"} {
		if _, err := ParseSyncPolicy(s); !errors.Is(err, ErrSyncPolicy) {
			t.Errorf("ParseSyncPolicy(%q): %v", s, err)
		}
	}
	if s := SyncPolicy(9).String(); s != "SyncPolicy(9)" {
		t.Errorf("String of an unknown policy: %q", s)
	}
	if _, err := SyncPolicy(9).MarshalText(); !errors.Is(err, ErrSyncPolicy) {
		t.Errorf("MarshalText of an unknown policy: %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, bm := range []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS; 0: one goroutine
	}{
		{"1goroutine", 0},
		{"16goroutines", max(1, 16/runtime.GOMAXPROCS(0))},
	} {
		b.Run(bm.name, func(b *testing.B) {
			w := mustCreate(b, filepath.Join(b.TempDir(), "log"), Options{})
			p := testPayload(0, 60)
			b.SetBytes(int64(len(p) + headerSize))
			b.ReportAllocs()
			b.ResetTimer()
			if bm.parallelism == 0 {
				for range b.N {
					w.Append(p)
				}
			} else {
				b.SetParallelism(bm.parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						w.Append(p)
					}
				})
			}
			b.StopTimer()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestStatsCountAcrossWriters(t *testing.T) {
	var st Stats
	name := filepath.Join(t.TempDir(), "log")
	for range 2 {
		w, err := Create(name, Options{Sync: SyncAlways, Stats: &st})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"one", "two"} {
			if _, err := w.Append([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Records.Load(); n != 4 {
		t.Errorf("Records = %d, want 4", n)
	}
	if n := st.Bytes.Load(); n != uint64(fi.Size()) {
		t.Errorf("Bytes = %d, the file has %d", n, fi.Size())
	}
	if n := st.Fsyncs.Snapshot().Count; n < 2 {
		t.Errorf("%d fsyncs counted, want one per Sync at least", n)
	}
}
