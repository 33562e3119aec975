package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// A save or log file is a persist stream of msgpack maps: first a header
//
//	{distkv: "save" | "log", version: 1, node, tick, tock, time}
//
// then update records (wire.AppendUpdate): every entry ever set, with its
// chain (a deleted entry without a value), and in a log every change
// after that. Loading applies them by chain rules, so order and
// duplicates do not matter and files can be concatenated.

const fileVersion = 1

func (s *Server) appendHeader(b []byte, kind string) []byte {
	tick, tock := s.tree.Ticks()
	m := wire.Begin(b)
	m.Str("distkv", kind)
	m.Uint("version", fileVersion)
	m.Str("node", s.cfg.Node)
	m.Uint("tick", tick)
	m.Uint("tock", tock)
	m.Key("time")
	m.B = pack.AppendFloat(m.B, float64(time.Now().UnixMicro())/1e6)
	return m.End()
}

// writeState appends every entry ever set to w.
func (s *Server) writeState(w *persist.Writer) error {
	var err error
	var buf []byte
	s.tree.Walk(path.Root, tree.WalkOptions{Which: tree.Chained, MaxDepth: -1, Batch: 1024}, func(items []tree.Item) bool {
		for i := range items {
			buf = wire.AppendUpdate(buf[:0], &items[i])
			if _, err = w.Append(buf); err != nil {
				return false
			}
		}
		return true
	})
	return err
}

// place resolves a file name a save or log request gives: with
// Config.LogDir set, it must lie below that directory (a relative name is
// taken from there), and the file is opened through it so that neither
// ".." nor a symbolic link leads out.
func (s *Server) place(name string) (persist.Dir, string, func(), error) {
	if s.cfg.LogDir == "" {
		return nil, name, func() {}, nil
	}
	rel := name
	if filepath.IsAbs(name) {
		dir, err := filepath.Abs(s.cfg.LogDir)
		if err != nil {
			return nil, "", nil, err
		}
		if rel, err = filepath.Rel(dir, filepath.Clean(name)); err != nil {
			return nil, "", nil, err
		}
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, "", nil, fmt.Errorf("%w: %s is not below server.log.dir (%s)", wire.ErrBadRequest, name, s.cfg.LogDir)
	}
	root, err := os.OpenRoot(s.cfg.LogDir)
	if err != nil {
		return nil, "", nil, fmt.Errorf("server.log.dir: %w", err)
	}
	return root, rel, func() { root.Close() }, nil
}

// Save writes the whole tree to a new file, atomically: the file appears
// complete or not at all. An existing file is replaced only if it is a
// DistKV file.
func (s *Server) Save(name string) error {
	dir, rel, done, err := s.place(name)
	if err != nil {
		return fmt.Errorf("save to %s: %w", name, err)
	}
	defer done()
	w, err := persist.Create(rel, persist.Options{Sync: persist.SyncNever, Atomic: true, Dir: dir})
	if err != nil {
		return err // it names the file
	}
	if _, err := w.Append(s.appendHeader(nil, "save")); err != nil {
		w.Close()
		return err
	}
	if err := s.writeState(w); err != nil {
		w.Close()
		return fmt.Errorf("save to %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("save to %s: %w", name, err)
	}
	return nil
}

// changeLog is an open `log dest` file: every change is appended as it
// happens.
type changeLog struct {
	name    string
	w       *persist.Writer
	cancel  func() // ends the watch
	lastSeq func() uint64
	failure atomic.Pointer[error] // why logging stopped; nil while it works
}

// fail stops logging for good, loudly: no record is skipped silently,
// and under sync "always" no change after it is acknowledged. It may run
// under the tree lock.
func (cl *changeLog) fail(log *slog.Logger, err error) {
	err = fmt.Errorf("%w: %w; no change is logged from here on (give `log dest` again to start a new log)", wire.ErrLog, err)
	if cl.failure.CompareAndSwap(nil, &err) {
		log.Error("the change log failed", "file", cl.name, "err", err)
	}
}

// failed returns why logging stopped, or nil.
func (cl *changeLog) failed() error {
	if p := cl.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// StartLog opens name for appending and logs every change to it from now
// on; with state, the current state is written first. A log already
// running is closed once the new one is ready. An existing file is
// appended to only if it is a DistKV file.
func (s *Server) StartLog(name string, state bool) error {
	dir, rel, done, err := s.place(name)
	if err != nil {
		return fmt.Errorf("log to %s: %w", name, err)
	}
	defer done()
	w, err := persist.Create(rel, persist.Options{Sync: s.cfg.LogSync, Interval: s.cfg.LogInterval, Dir: dir, Stats: &s.stats.log})
	if err != nil {
		return err // it names the file
	}
	if _, err := w.Append(s.appendHeader(nil, "log")); err != nil {
		w.Close()
		return err
	}
	cl := &changeLog{name: name, w: w}
	var seq atomic.Uint64 // the last record appended
	var buf []byte        // used under the tree lock only
	_, cl.cancel = s.tree.Watch(path.Root, func(it *tree.Item) {
		// This runs under the tree lock: Append only blocks when the disk
		// has fallen MaxBuffer behind.
		if cl.failure.Load() != nil {
			return
		}
		buf = wire.AppendUpdate(buf[:0], it)
		n, err := w.Append(buf)
		if err != nil {
			cl.fail(s.log, fmt.Errorf("log the change at %v to %s: %w", it.Path, name, err))
			return
		}
		seq.Store(n)
	})
	cl.lastSeq = seq.Load
	if state {
		if err := s.writeState(w); err != nil {
			cl.cancel()
			w.Close()
			return fmt.Errorf("log to %s: %w", name, err)
		}
	}
	if err := w.Sync(); err != nil {
		cl.cancel()
		w.Close()
		return fmt.Errorf("log to %s: %w", name, err)
	}
	s.mu.Lock()
	old := s.changes
	s.changes = cl
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	s.log.Info("logging changes", "file", name, "sync", s.cfg.LogSync.String())
	return nil
}

func (cl *changeLog) close() error {
	cl.cancel()
	return cl.w.Close()
}

// stopLog closes the change log, if one is open.
func (s *Server) stopLog() error {
	s.mu.Lock()
	cl := s.changes
	s.changes = nil
	s.mu.Unlock()
	if cl == nil {
		return nil
	}
	if err := cl.close(); err != nil {
		return fmt.Errorf("close log %s: %w", cl.name, err)
	}
	return nil
}

// StopLog ends logging.
func (s *Server) StopLog() error { return s.stopLog() }

// durableLog returns the change log when its policy is "always" (a change
// is acknowledged only once on disk), else nil.
func (s *Server) durableLog() *changeLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changes == nil || s.cfg.LogSync != persist.SyncAlways {
		return nil
	}
	return s.changes
}

// waitDurable returns once every change made so far is on disk, when the
// log's policy is "always".
func (s *Server) waitDurable(ctx context.Context) error {
	if cl := s.durableLog(); cl != nil {
		if err := cl.failed(); err != nil {
			return err
		}
		if err := cl.w.WaitSynced(ctx, cl.lastSeq()); err != nil {
			if ctx.Err() != nil {
				return err
			}
			cl.fail(s.log, err)
			return cl.failed()
		}
	}
	return nil
}

// LoadStats tells what a load did. A stream with neither Records nor
// Headers held no valid record at all: it was empty (Bytes 0), damaged
// throughout, or not a DistKV file.
type LoadStats struct {
	Records int   // update records read
	Applied int   // records that changed the tree
	Damaged int   // stretches of damaged data skipped
	Headers int   // file headers read (a log with no change yet holds only one)
	Bytes   int64 // bytes read from the stream
}

// load applies the records of r, by chain rules. The first byte tells
// our format from the original DistKV's (persist.Sniff).
func (s *Server) load(r io.Reader, name string) (LoadStats, error) {
	format, r, err := persist.Sniff(r)
	if err != nil {
		return LoadStats{}, fmt.Errorf("read %s: %w", name, err)
	}
	cr := &countingReader{r: r}
	l := &loader{s: s, name: name, names: map[string]string{}}
	if format == persist.Original {
		err = l.original(cr)
	} else {
		err = l.native(cr)
	}
	l.st.Bytes = cr.n
	return l.st, err
}

// loader is one load's state: what it did and the node names it saw.
type loader struct {
	s     *Server
	name  string
	st    LoadStats
	names map[string]string
}

// native reads a stream of our format.
func (l *loader) native(r io.Reader) error {
	rd := persist.NewReader(r, l.name)
	rd.OnDamage(l.damage)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", l.name, err)
		}
		if isHeader(rec) {
			l.st.Headers++
			continue
		}
		u, err := wire.DecodeUpdate(rec, l.intern)
		if err != nil {
			l.bad(rd.Offset(), err)
			continue
		}
		l.apply(u, rd.Offset())
	}
}

// intern returns node names as strings, allocating each name once.
func (l *loader) intern(b []byte) string {
	if s, ok := l.names[string(b)]; ok {
		return s
	}
	s := string(b)
	l.names[s] = s
	return s
}

// damage reports a stretch of the stream that was skipped.
func (l *loader) damage(d persist.Damage) {
	l.st.Damaged++
	l.s.log.Warn("skipped damaged data", "detail", d.String())
}

// bad reports a record that was read but not understood.
func (l *loader) bad(offset int64, err error) {
	l.st.Damaged++
	l.s.log.Warn("skipped a bad record", "file", l.name, "offset", offset, "err", err)
}

// apply applies an update read at offset.
func (l *loader) apply(u tree.Update, offset int64) {
	if err := checkValue(u); err != nil {
		l.bad(offset, err)
		return
	}
	out, err := l.s.tree.Apply(u)
	if err != nil {
		l.bad(offset, err)
		return
	}
	l.st.Records++
	if out == tree.Applied || out == tree.Overruled {
		l.st.Applied++
	}
}

func checkValue(u tree.Update) error {
	if !u.HasValue {
		return nil
	}
	return value.Validate(u.Value)
}

// isHeader tells a file header from an update record by its "distkv" key.
func isHeader(rec []byte) bool {
	r := pack.NewReader(rec)
	n, err := r.ReadMapHeader()
	if err != nil {
		return false
	}
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return false
		}
		if string(k) == "distkv" {
			return true
		}
		if r.Skip() != nil {
			return false
		}
	}
	return false
}
