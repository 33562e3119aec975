package persist

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/latency"
)

// SyncPolicy says when a Writer fsyncs its file, and so what WaitSynced
// waits for. Its text form is "interval", "always" or "never".
type SyncPolicy int

const (
	// SyncInterval fsyncs every Options.Interval when records were
	// appended since the last fsync. WaitSynced returns within about one
	// Interval. This is the default.
	SyncInterval SyncPolicy = iota
	// SyncAlways fsyncs as soon as a WaitSynced caller waits for a record
	// not yet synced: group commit, one fsync covers every record appended
	// before it started. Records nobody waits for are synced every Interval.
	SyncAlways
	// SyncNever writes the buffer to the OS when it is large or every
	// Interval, and fsyncs only on Sync and Close. WaitSynced waits until
	// the record is written to the OS: it survives a crash of the process,
	// not of the machine.
	SyncNever
)

var syncNames = [...]string{SyncInterval: "interval", SyncAlways: "always", SyncNever: "never"}

// String returns the policy's name.
func (p SyncPolicy) String() string {
	if p >= 0 && int(p) < len(syncNames) {
		return syncNames[p]
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy returns the policy named s: "interval", "always" or "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	for p, name := range syncNames {
		if s == name {
			return SyncPolicy(p), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want interval, always or never)", ErrSyncPolicy, s)
}

// MarshalText implements encoding.TextMarshaler.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if p < 0 || int(p) >= len(syncNames) {
		return nil, fmt.Errorf("%w %d", ErrSyncPolicy, int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseSyncPolicy(string(b))
	if err == nil {
		*p = v
	}
	return err
}

// Defaults for Options fields left zero.
const (
	DefaultInterval  = 100 * time.Millisecond
	DefaultMaxBuffer = 16 << 20
)

// Options configure a Writer. The zero value is the default. Create copies
// them: changing them later has no effect.
type Options struct {
	// Sync is when the file is fsynced. Default SyncInterval.
	Sync SyncPolicy
	// Interval is the period of SyncInterval's fsyncs and of SyncNever's
	// writes. Default DefaultInterval.
	Interval time.Duration
	// Atomic writes NAME.tmp (truncating a stale one) and renames it to NAME
	// on a successful Close, so NAME appears whole or not at all. Use it for
	// save files. Without it, Create appends to NAME, never truncating it.
	Atomic bool
	// MaxBuffer is how many framed bytes may wait in memory before Append
	// blocks until the background writer catches up. Default
	// DefaultMaxBuffer.
	MaxBuffer int
	// Dir is where names are: nil for the whole file system, an *os.Root
	// to keep every name below one directory.
	Dir Dir
	// Stats, if set, counts the Writer's records, bytes and fsyncs.
	Stats *Stats
}

// withDefaults fills in zero fields and validates the result.
func (o Options) withDefaults() (Options, error) {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Dir == nil {
		o.Dir = anywhere{}
	}
	if o.MaxBuffer == 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	switch {
	case o.Sync < 0 || int(o.Sync) >= len(syncNames):
		return o, fmt.Errorf("%w %d", ErrSyncPolicy, int(o.Sync))
	case o.Interval < 0:
		return o, fmt.Errorf("negative sync interval %v", o.Interval)
	case o.MaxBuffer < 0:
		return o, fmt.Errorf("negative buffer size %d", o.MaxBuffer)
	}
	return o, nil
}

// file is what a Writer needs of its file; tests substitute failing ones.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// Writer appends records to a file. A background goroutine writes and fsyncs.
//
// All methods are safe for concurrent use. Records are stored in the order of
// their sequence numbers. After an error writing or syncing the file, every
// later call returns that error.
type Writer struct {
	name, path string // the file's final name; the file written (name or name.tmp)
	f          file
	opt        Options
	chunk      int // capacity of a buffer chunk
	maxFree    int // chunks kept for reuse
	flushAt    int // buffered bytes that make the background writer write

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	kick      chan struct{} // wakes the background writer
	closeOnce sync.Once
	closeErr  error

	ioMu       sync.Mutex // serialises writes and fsyncs; protects the fields below
	out        [][]byte   // emptied list of chunks written, kept for reuse
	unsynced   bool       // bytes written since the last fsync
	fileClosed bool

	mu      sync.Mutex    // protects the fields below
	space   sync.Cond     // signalled when chunks are taken, on error and on close
	chunks  [][]byte      // framed records not yet written; all but the last are full
	size    int           // bytes in chunks
	free    [][]byte      // empty chunks for reuse
	seq     uint64        // seq of the last record appended
	durable uint64        // seq of the last record synced (see SyncPolicy)
	want    uint64        // highest seq a WaitSynced caller has waited for
	changed chan struct{} // closed and replaced when durable or err changes
	err     error         // sticky write or sync error
	closed  bool
	blocked int // Append calls waiting for buffer space
}

// Create opens the log file name for appending, creating it with mode
// 0600 if needed, and starts the background writer. An existing file must
// be a DistKV file (ErrNotOurs otherwise): Create never appends to, nor
// with opt.Atomic replaces, a file of any other kind, and follows no
// symbolic link at name. With opt.Atomic it writes a new temporary file
// beside name and renames it to name on Close.
func Create(name string, opt Options) (*Writer, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", name, err)
	}
	if opt.Atomic {
		if err := replaceable(opt.Dir, name); err != nil {
			return nil, fmt.Errorf("save to %s: %w", name, err)
		}
		f, tmp, err := createTemp(opt.Dir, name)
		if err != nil {
			return nil, fmt.Errorf("save to %s: %w", name, err)
		}
		return newWriter(f, name, tmp, opt), nil
	}
	f, err := openExisting(opt.Dir, name)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", name, err)
	}
	// The file may be new: make its directory entry durable too.
	if err := syncDir(opt.Dir, filepath.Dir(name)); err != nil {
		f.Close()
		return nil, fmt.Errorf("create log %s: %w", name, err)
	}
	return newWriter(f, name, name, opt), nil
}

// newWriter starts a Writer on f; opt must be complete.
func newWriter(f file, name, path string, opt Options) *Writer {
	// The buffer is a list of chunks, so that it grows without copying.
	chunk := min(1<<20, max(4<<10, opt.MaxBuffer))
	w := &Writer{
		name:    name,
		path:    path,
		f:       f,
		opt:     opt,
		chunk:   chunk,
		maxFree: opt.MaxBuffer/chunk + 2,
		flushAt: max(1, min(opt.MaxBuffer/2, chunk)),
		kick:    make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
	w.space.L = &w.mu
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.wg.Add(1)
	go w.run()
	return w
}

// Append frames payload and buffers it; the caller may reuse payload when
// Append returns. It returns the record's sequence number: the first record
// of a Writer has seq 1. Append does no I/O (it wakes the background writer
// when the buffer fills); it blocks only while more than MaxBuffer bytes wait
// to be written.
func (w *Writer) Append(payload []byte) (seq uint64, err error) {
	if len(payload) > MaxRecord {
		return 0, fmt.Errorf("append %d bytes: %w", len(payload), ErrTooLarge)
	}
	var h [headerSize]byte
	header(h[:], payload)

	w.mu.Lock()
	for w.size > w.opt.MaxBuffer && w.err == nil && !w.closed {
		w.wake()
		w.blocked++
		w.space.Wait()
		w.blocked--
	}
	if err := w.stateErr(); err != nil {
		w.mu.Unlock()
		return 0, err
	}
	before := w.size
	w.put(h[:])
	w.put(payload)
	w.seq++
	seq = w.seq
	after := w.size
	w.mu.Unlock()
	if st := w.opt.Stats; st != nil {
		st.Records.Add(1)
	}
	if before < w.flushAt && after >= w.flushAt {
		w.wake()
	}
	return seq, nil
}

// put copies b to the end of the buffer. w.mu must be held.
func (w *Writer) put(b []byte) {
	w.size += len(b)
	for len(b) > 0 {
		n := len(w.chunks)
		if n == 0 || len(w.chunks[n-1]) == w.chunk {
			var c []byte
			if k := len(w.free); k > 0 {
				c, w.free = w.free[k-1], w.free[:k-1]
			} else {
				c = make([]byte, 0, w.chunk)
			}
			w.chunks = append(w.chunks, c)
			n++
		}
		c := w.chunks[n-1]
		k := copy(c[len(c):w.chunk], b)
		w.chunks[n-1] = c[:len(c)+k]
		b = b[k:]
	}
}

// WaitSynced blocks until record seq and all records before it are synced,
// as the SyncPolicy defines it, or ctx is done.
func (w *Writer) WaitSynced(ctx context.Context, seq uint64) error {
	for {
		w.mu.Lock()
		switch {
		case seq <= w.durable:
			w.mu.Unlock()
			return nil
		case w.err != nil:
			err := w.err
			w.mu.Unlock()
			return err
		case seq > w.seq:
			last := w.seq
			w.mu.Unlock()
			return fmt.Errorf("wait for record %d of %d: %w", seq, last, ErrUnknownRecord)
		}
		w.want = max(w.want, seq)
		ch := w.changed
		w.mu.Unlock()
		if w.opt.Sync != SyncInterval {
			w.wake()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sync writes out every record appended so far and fsyncs the file, whatever
// the policy.
func (w *Writer) Sync() error {
	w.mu.Lock()
	err := w.stateErr()
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return w.flush(true)
}

// Close writes out and fsyncs all records, stops the background writer and
// closes the file. For Atomic it then renames the file into place and
// fsyncs the directory; after a failure it removes the .tmp file instead.
// Close returns the same result when called again.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *Writer) close() error {
	w.mu.Lock()
	w.closed = true
	w.space.Broadcast()
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()

	err := w.flush(true)
	w.ioMu.Lock()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", w.path, cerr)
	}
	w.fileClosed = true
	w.ioMu.Unlock()
	if !w.opt.Atomic {
		return err
	}
	if err == nil {
		// Look again: the name may have been taken meanwhile.
		if err = replaceable(w.opt.Dir, w.name); err != nil {
			err = fmt.Errorf("save %s: %w", w.name, err)
		} else if err = w.opt.Dir.Rename(w.path, w.name); err != nil {
			err = fmt.Errorf("save %s: %w", w.name, err)
		} else if err = syncDir(w.opt.Dir, filepath.Dir(w.name)); err != nil {
			return fmt.Errorf("save %s: %w", w.name, err)
		}
	}
	if err != nil {
		w.opt.Dir.Remove(w.path)
	}
	return err
}

// Err returns the sticky write or sync error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// stateErr returns the sticky error or ErrClosed. w.mu must be held.
func (w *Writer) stateErr() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// wake makes the background writer look at the buffer; it never blocks.
func (w *Writer) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run is the background writer.
func (w *Writer) run() {
	defer w.wg.Done()
	tick := time.NewTicker(w.opt.Interval)
	defer tick.Stop()
	for {
		timer := false
		select {
		case <-w.ctx.Done():
			return
		case <-w.kick:
		case <-tick.C:
			timer = true
		}
		w.mu.Lock()
		pending, want, seq, durable := w.size, w.want, w.seq, w.durable
		w.mu.Unlock()
		var fsync, write bool
		switch w.opt.Sync {
		case SyncAlways:
			fsync = want > durable || timer && seq > durable
		case SyncInterval:
			fsync = timer && seq > durable
		case SyncNever:
			write = want > durable || timer && pending > 0
		}
		if fsync || write || pending >= w.flushAt {
			w.flush(fsync) // an error is sticky: every caller sees it
		}
	}
}

// flush writes the buffer to the file and, if fsync, syncs it. Records
// appended meanwhile go to the other buffer.
func (w *Writer) flush(fsync bool) error {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()

	w.mu.Lock()
	if w.err != nil || w.fileClosed {
		// Close synced everything appended before it, or failed.
		err := w.err
		w.mu.Unlock()
		return err
	}
	out, seq := w.chunks, w.seq
	w.chunks, w.size, w.out = w.out, 0, nil
	w.space.Broadcast()
	w.mu.Unlock()

	var err error
	st := w.opt.Stats
	for _, c := range out {
		w.unsynced = true
		n, werr := w.f.Write(c)
		if st != nil {
			st.Bytes.Add(uint64(n))
		}
		if werr != nil {
			err = fmt.Errorf("write %s: %w", w.path, werr)
			break
		}
	}
	if err == nil && fsync && w.unsynced {
		start := latency.Now()
		serr := w.f.Sync()
		if st != nil {
			st.Fsyncs.Since(start)
		}
		if serr != nil {
			err = fmt.Errorf("sync %s: %w", w.path, serr)
		} else {
			w.unsynced = false
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for i, c := range out {
		if len(w.free) < w.maxFree {
			w.free = append(w.free, c[:0])
		}
		out[i] = nil
	}
	w.out = out[:0]
	switch {
	case err != nil:
		w.err = err
		w.space.Broadcast()
	case (fsync || w.opt.Sync == SyncNever) && seq > w.durable:
		w.durable = seq
	default:
		return nil
	}
	close(w.changed)
	w.changed = make(chan struct{})
	return err
}

var _ file = (*os.File)(nil)
