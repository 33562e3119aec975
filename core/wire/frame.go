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
// at once. A request under the seq of one still open on the connection (a
// multi-reply that has not ended, a change whose acknowledgement waits for
// the disk) is refused with an error under that seq and not run; a seq is
// free again once its request's last message is out. Seq 0 is the hello,
// never a request. Multi-reply items carry depth-compressed paths: "depth" leading
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

// ErrTooBig is the error of a message over a size limit: a Framer (and
// the client, before it sends one) returns it as a *TooBigError.
var ErrTooBig = errors.New("message exceeds the size limit")

// TooBigError is a message over a size limit. It names both, so that
// whoever sent the message learns what the limit is.
type TooBigError struct {
	Size    int  // the message's size in bytes, or with AtLeast a lower bound
	AtLeast bool // the message did not arrive whole: it has at least Size bytes
	Limit   int
}

func (e *TooBigError) Error() string {
	atLeast := ""
	if e.AtLeast {
		atLeast = "at least "
	}
	return fmt.Sprintf("message of %s%d bytes exceeds the size limit of %d bytes", atLeast, e.Size, e.Limit)
}

// Unwrap returns ErrTooBig.
func (e *TooBigError) Unwrap() error { return ErrTooBig }

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
					return nil, &TooBigError{Size: f.rd.Pos(), Limit: f.max}
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
			if n := announced(f.buf[f.start:f.end]); n > f.max {
				return nil, &TooBigError{Size: n, AtLeast: true, Limit: f.max}
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

// announced returns a lower bound of the size of the incomplete message
// that b starts: more than b, and as much as the header of the value that
// runs past the end of b announces (a request is a map, and the one big
// value in a too big request is usually a string or bytes).
func announced(b []byte) int {
	low := len(b) + 1
	r := pack.NewReader(b)
	n, err := r.ReadMapHeader()
	if err != nil {
		return max(low, valueEnd(b, 0))
	}
	for i := range 2 * n {
		start := r.Pos()
		if r.Skip() != nil {
			// The values after this one take a byte each at least.
			return max(low, valueEnd(b, start)+2*n-i-1)
		}
	}
	return low
}

// valueEnd returns where the string, bytes or extension value at b[pos:]
// ends by its header, or 0 for other values and incomplete headers.
func valueEnd(b []byte, pos int) int {
	if pos >= len(b) {
		return 0
	}
	c := b[pos]
	var lenSize, extra int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return pos + 1 + int(c&0x1f)
	case c == 0xc4 || c == 0xd9:
		lenSize = 1
	case c == 0xc5 || c == 0xda:
		lenSize = 2
	case c == 0xc6 || c == 0xdb:
		lenSize = 4
	case c >= 0xc7 && c <= 0xc9:
		lenSize, extra = 1<<(c-0xc7), 1 // then the type byte
	default:
		return 0
	}
	if len(b) < pos+1+lenSize {
		return 0
	}
	var n int
	for _, x := range b[pos+1 : pos+1+lenSize] {
		n = n<<8 | int(x)
	}
	return pos + 1 + lenSize + extra + n
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
