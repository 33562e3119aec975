// Package wire is DistKV's client protocol: msgpack maps over a byte
// stream, in both directions, with no other framing.
//
//	server → client  {seq: 0, version, node, tick, tock, qlen}      greeting
//	client → server  {seq: 0, qlen: N}                               optional: flow control
//	client → server  {seq: 1, action: "get_value", path: ext3(…)}    request
//	server → client  {seq: 1, value: …, tock: …}                     reply
//	server → client  {seq: 2, state: "start"} … {seq: 2, state: "end"}  a multi-reply
//	server → client  {seq: 3, error: "text", etype: "code"}          an error
//
// Requests carry increasing seq numbers; replies carry the seq of their
// request and may come in any order, so one connection runs many requests
// at once. Multi-reply items carry depth-compressed paths: "depth" leading
// elements of the previous item's path, then "path" (an array of the rest).
// Paths in requests are msgpack ext type 3 or plain arrays. The error-code
// table (Code, ErrorFor) lets a client return the error the server raised.
package wire

import (
	"errors"
	"fmt"
	"io"

	"github.com/distkv-go/distkv/core/pack"
)

// ErrTooBig is returned by a Framer for a message over its size limit.
var ErrTooBig = errors.New("message exceeds the size limit")

// Framer splits a byte stream into msgpack messages. Not safe for
// concurrent use.
type Framer struct {
	r          io.Reader
	buf        []byte
	start, end int   // unread bytes are buf[start:end]
	off        int64 // stream offset of buf[0]
	at         int64 // stream offset of the message Next returned or failed on
	max        int
	rd         pack.Reader
}

// NewFramer reads messages of at most max bytes from r.
func NewFramer(r io.Reader, max int) *Framer {
	return &Framer{r: r, buf: make([]byte, 64<<10), max: max}
}

// Next returns the next complete message. The slice is valid until the
// next call. At a clean end of stream it returns io.EOF; a stream that
// ends inside a message gives io.ErrUnexpectedEOF. A malformed message
// cannot be skipped (there is no other framing), so its error is final.
func (f *Framer) Next() ([]byte, error) {
	f.at = f.off + int64(f.start) // fill moves both, never their sum
	for {
		if f.end > f.start {
			f.rd.Reset(f.buf[f.start:f.end])
			err := f.rd.Skip()
			if err == nil {
				if f.rd.Pos() > f.max {
					return nil, fmt.Errorf("%w (%d bytes)", ErrTooBig, f.max)
				}
				msg := f.buf[f.start : f.start+f.rd.Pos()]
				f.start += f.rd.Pos()
				return msg, nil
			}
			var pe *pack.Error
			if !errors.Is(err, pack.ErrShort) && !errors.Is(err, pack.ErrTooBig) {
				if errors.As(err, &pe) {
					return nil, fmt.Errorf("malformed msgpack at stream offset %d: %w", f.off+int64(f.start+pe.Off), pe.Err)
				}
				return nil, err
			}
			if f.end-f.start >= f.max {
				return nil, fmt.Errorf("%w (%d bytes)", ErrTooBig, f.max)
			}
		}
		if err := f.fill(); err != nil {
			if err == io.EOF && f.end > f.start {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// fill reads more bytes, compacting or growing the buffer as needed.
func (f *Framer) fill() error {
	if f.start > 0 && (f.start == f.end || f.end == len(f.buf)) {
		n := copy(f.buf, f.buf[f.start:f.end])
		f.off += int64(f.start)
		f.start, f.end = 0, n
	}
	if f.end == len(f.buf) {
		size := min(2*len(f.buf), f.max+1)
		nb := make([]byte, size)
		copy(nb, f.buf[:f.end])
		f.buf = nb
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

// Offset returns the stream offset of the message Next last returned, or
// of the one it failed on, so that a reader of files can say where a bad
// record is.
func (f *Framer) Offset() int64 { return f.at }

// Buffered reports whether unread bytes are waiting (so a reply writer can
// hold back a flush while more requests are already in).
func (f *Framer) Buffered() bool { return f.end > f.start }
