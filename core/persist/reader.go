package persist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
)

// readBuffer is the Reader's initial buffer size. It grows to hold a record
// larger than this.
const readBuffer = 1 << 20

// Damage describes one stretch of bytes a Reader skipped because no valid
// record starts in it. It is a plain value.
type Damage struct {
	Name    string // the name given to NewReader
	Offset  int64  // stream offset of the first skipped byte
	Skipped int64  // number of bytes skipped
	Reason  string // why the first skipped byte does not start a valid record
	Torn    bool   // the stretch is a record cut off by the end of the stream
}

// String says where the damage is, what was skipped and why, in one sentence.
func (d Damage) String() string {
	if d.Torn {
		return fmt.Sprintf("%s: skipped a torn last record at offset %d (%d bytes): %s",
			d.Name, d.Offset, d.Skipped, d.Reason)
	}
	return fmt.Sprintf("%s: skipped %d damaged bytes at offset %d: %s",
		d.Name, d.Skipped, d.Offset, d.Reason)
}

// Reader reads records from a stream, skipping damage. It does not seek.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd       io.Reader
	name     string
	onDamage func(Damage)

	buf  []byte // buf[pos:end] is read but not consumed
	pos  int
	end  int
	base int64 // stream offset of buf[0]
	eof  bool  // rd returned io.EOF
	err  error // sticky I/O error
	last int64 // offset of the record last returned

	damaged bool   // inside a damaged stretch, described by the fields below
	dmgAt   int64  // its stream offset
	dmgWhy  string // why its first byte does not start a record
	dmgCut  bool   // its first record is cut off by the end of the stream
}

// NewReader returns a Reader of the records in r. name identifies the stream
// in Damage reports and errors.
func NewReader(r io.Reader, name string) *Reader {
	return newReaderSize(r, name, readBuffer)
}

func newReaderSize(r io.Reader, name string, size int) *Reader {
	return &Reader{rd: r, name: name, buf: make([]byte, max(size, headerSize)), last: -1}
}

// OnDamage sets the function called, from within Next, for each skipped
// stretch. It may block (reading waits) but must not call Next. Without one,
// damage is logged by slog.Default at level Warn.
func (r *Reader) OnDamage(fn func(Damage)) { r.onDamage = fn }

// Offset returns the stream offset of the record last returned by Next, or
// -1 before the first.
func (r *Reader) Offset() int64 { return r.last }

// Next returns the payload of the next valid record. The payload is valid
// until the next call. At the end of the stream Next returns io.EOF; any
// other error comes from the underlying reader and is returned again by every
// later call.
func (r *Reader) Next() ([]byte, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		size, why, cut, err := r.record()
		switch {
		case err == io.EOF:
			r.report(r.dmgCut)
			return nil, io.EOF
		case err != nil:
			return nil, err
		case size > 0:
			r.report(false)
			p := r.buf[r.pos+headerSize : r.pos+size]
			r.last = r.base + int64(r.pos)
			r.pos += size
			return p, nil
		}
		if !r.damaged {
			r.damaged, r.dmgAt, r.dmgWhy, r.dmgCut = true, r.base+int64(r.pos), why, cut
		}
		// Resume one byte after the failed start, never after its claimed
		// length: that may be garbage and hide good records.
		r.pos++
		if i := bytes.IndexByte(r.buf[r.pos:r.end], magic[0]); i >= 0 {
			r.pos += i
		} else {
			r.pos = r.end
		}
	}
}

// record looks at the bytes at r.pos. It returns the size of the valid record
// there, or 0 and why there is none (cut: because the stream ends inside it).
// The error is io.EOF at the end of the stream or an I/O error.
func (r *Reader) record() (size int, why string, cut bool, err error) {
	if err := r.fill(headerSize); err != nil && err != io.EOF {
		return 0, "", false, err
	}
	b := r.buf[r.pos:r.end]
	switch {
	case len(b) == 0:
		return 0, "", false, io.EOF
	case len(b) < headerSize:
		m := min(len(b), len(magic))
		if bytes.Equal(b[:m], magic[:m]) {
			return 0, fmt.Sprintf("the stream ends %d bytes into a record header", len(b)), true, nil
		}
		return 0, "bad magic: no record starts here", false, nil
	case [4]byte(b) != magic:
		return 0, "bad magic: no record starts here", false, nil
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if n > MaxRecord {
		return 0, fmt.Sprintf("impossible record length %d", n), false, nil
	}
	size = headerSize + int(n)
	if err := r.fill(size); err == io.EOF {
		return 0, fmt.Sprintf("the stream ends %d bytes into a record of %d bytes",
			r.end-r.pos, size), true, nil
	} else if err != nil {
		return 0, "", false, err
	}
	b = r.buf[r.pos : r.pos+size]
	if binary.BigEndian.Uint32(b[8:12]) != checksum(n, b[headerSize:]) {
		return 0, fmt.Sprintf("checksum mismatch in a record of %d bytes", size), false, nil
	}
	return size, "", false, nil
}

// fill reads until buf[pos:end] holds at least n bytes. It returns io.EOF if
// the stream ends first, or a (sticky) I/O error.
func (r *Reader) fill(n int) error {
	empty := 0
	for r.end-r.pos < n {
		if r.err != nil {
			return r.err
		}
		if r.eof {
			return io.EOF
		}
		// Move the unconsumed bytes to the front, and grow the buffer only
		// as data arrives: a damaged length must not allocate MaxRecord.
		if r.pos > 0 {
			r.end = copy(r.buf, r.buf[r.pos:r.end])
			r.base += int64(r.pos)
			r.pos = 0
		}
		if r.end == len(r.buf) {
			nb := make([]byte, min(2*len(r.buf), headerSize+MaxRecord))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
		m, err := r.rd.Read(r.buf[r.end:])
		r.end += m
		switch {
		case err == io.EOF:
			r.eof = true
		case err != nil:
			r.err = fmt.Errorf("read %s: %w", r.name, err)
		case m == 0:
			if empty++; empty == 100 {
				r.err = fmt.Errorf("read %s: %w", r.name, io.ErrNoProgress)
			}
		}
	}
	return nil
}

// report ends the damaged stretch, if any, at r.pos and reports it.
func (r *Reader) report(torn bool) {
	if !r.damaged {
		return
	}
	r.damaged = false
	d := Damage{
		Name:    r.name,
		Offset:  r.dmgAt,
		Skipped: r.base + int64(r.pos) - r.dmgAt,
		Reason:  r.dmgWhy,
		Torn:    torn,
	}
	if r.onDamage != nil {
		r.onDamage(d)
		return
	}
	slog.Warn("skipped damaged records", "file", d.Name, "offset", d.Offset,
		"bytes", d.Skipped, "reason", d.Reason, "torn", d.Torn)
}
