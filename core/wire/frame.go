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
	"context"
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
//
// Its buffer grows with the bytes that arrive, never by what a header
// announces: a stranger who announces 256 MiB and sends 10 bytes costs a
// buffer of the base size (64 KiB, or max+1 if smaller). Between messages
// the buffer goes back to its base size, so a connection does not keep a
// large message's memory. With a Budget (UseBudget), the bytes the buffer
// takes beyond its base size are drawn from it.
type Framer struct {
	r          io.Reader
	buf        []byte
	start, end int   // unread bytes are buf[start:end]
	off        int64 // stream offset of buf[0]
	at         int64 // stream offset of the message Next returned or failed on
	max        int
	base       int // the buffer's size between messages
	want       int // a lower bound of the size of the incomplete message at start
	rd         pack.Reader

	budget Budget          // nil: the buffer grows freely
	ctx    context.Context // ends the budget's waits
	held   int             // taken from budget
}

// Budget is what a Framer's buffer draws on beyond its base size: a share
// of a budget that many connections use (core/budget's *Account).
type Budget interface {
	// Grow takes n more bytes. It may block while none are to be had; it
	// fails when ctx ends.
	Grow(ctx context.Context, n int) error
	// Release gives back everything taken.
	Release()
}

// baseSize is a framer's buffer between messages, at most: most messages
// fit, and a read takes many of them at once.
const baseSize = 64 << 10

// NewFramer reads messages of at most max bytes from r.
func NewFramer(r io.Reader, max int) *Framer {
	f := &Framer{r: r}
	f.SetMax(max)
	return f
}

// SetMax changes the size limit for the messages to come: a peer
// connection allows only small messages until the peer has proved who it
// is.
func (f *Framer) SetMax(max int) {
	f.max = max
	f.base = min(baseSize, max+1)
	if f.buf != nil && len(f.buf) < f.base {
		f.resize(f.base)
	}
}

// UseBudget makes the buffer draw the bytes it takes beyond its base size
// from b; waits for b end with ctx. Call it before the first Next.
func (f *Framer) UseBudget(ctx context.Context, b Budget) {
	f.ctx, f.budget = ctx, b
}

// Release drops the buffer and gives back what it drew from the budget:
// for when the stream is done with. A Next after it starts afresh, with
// any unread bytes lost.
func (f *Framer) Release() {
	f.buf, f.off, f.start, f.end = nil, f.off+int64(f.end), 0, 0
	f.giveBack()
}

func (f *Framer) giveBack() {
	if f.held > 0 {
		f.budget.Release()
		f.held = 0
	}
}

// Next returns the next complete message. The slice is valid until the
// next call. At a clean end of stream it returns io.EOF; a stream that
// ends inside a message gives io.ErrUnexpectedEOF. A malformed message
// cannot be skipped (there is no other framing), so its error is final.
// With a budget, Next may wait for budget before it reads on.
func (f *Framer) Next() ([]byte, error) {
	if len(f.buf) > f.base && f.end-f.start <= f.base {
		// The large message that grew the buffer is done with.
		f.resize(f.base)
	}
	f.at = f.off + int64(f.start) // fill moves both, never their sum
	f.want = 0
	// Where the scan of an incomplete message stopped, and the values it
	// still has to skip: it goes on from there as bytes arrive.
	scanned, pending := 0, 1
	for {
		if f.end > f.start+scanned {
			f.rd.Reset(f.buf[f.start+scanned : f.end])
			left, err := f.rd.SkipPending(pending)
			if err == nil {
				size := scanned + f.rd.Pos()
				if size > f.max {
					return nil, &TooBigError{Size: size, Limit: f.max}
				}
				msg := f.buf[f.start : f.start+size]
				f.start += size
				return msg, nil
			}
			var pe *pack.Error
			if !errors.Is(err, pack.ErrShort) && !errors.Is(err, pack.ErrTooBig) {
				if errors.As(err, &pe) {
					return nil, fmt.Errorf("malformed msgpack at stream offset %d: %w", f.off+int64(f.start+scanned+pe.Off), pe.Err)
				}
				return nil, err
			}
			scanned += f.rd.Pos()
			pending = left
			// Checked before the buffer grows for it.
			if f.want = f.announced(scanned, pending); f.want > f.max {
				return nil, &TooBigError{Size: f.want, AtLeast: true, Limit: f.max}
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
// at start, whose scan stopped at scanned with pending values left (the
// one there included): more than the bytes buffered, each value left a
// byte at least, and the value there as long as its header announces (a
// request is a map, and the one big value in a too big request is
// usually a string or bytes).
func (f *Framer) announced(scanned, pending int) int {
	b := f.buf[f.start:f.end]
	low := max(len(b)+1, scanned+pending)
	if end := valueEnd(b, scanned); end > 0 {
		low = max(low, end+pending-1)
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
	if f.buf == nil {
		f.buf = make([]byte, f.base)
	}
	if f.start > 0 && (f.start == f.end || f.end == len(f.buf)) {
		n := copy(f.buf, f.buf[f.start:f.end])
		f.off += int64(f.start)
		f.start, f.end = 0, n
	}
	if f.end == len(f.buf) {
		// The message starts at 0 and fills the buffer. Doubling keeps the
		// copying linear; what the headers announce, if less, is enough
		// for now (a quarter more at least, lest a bound that creeps up
		// byte by byte make the copying quadratic).
		size := min(2*len(f.buf), f.max+1)
		if f.want > len(f.buf) {
			size = min(size, max(f.want, len(f.buf)+len(f.buf)/4))
		}
		if err := f.take(size); err != nil {
			return err
		}
		f.resize(size)
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

// take draws from the budget what a buffer of size bytes needs.
func (f *Framer) take(size int) error {
	need := size - f.base - f.held
	if f.budget == nil || need <= 0 {
		return nil
	}
	if err := f.budget.Grow(f.ctx, need); err != nil {
		return err
	}
	f.held += need
	return nil
}

// resize moves the unread bytes to a new buffer of size bytes; one of the
// base size gives the budget back.
func (f *Framer) resize(size int) {
	nb := make([]byte, size)
	n := copy(nb, f.buf[f.start:f.end])
	f.off += int64(f.start)
	f.buf, f.start, f.end = nb, 0, n
	if size <= f.base {
		f.giveBack()
	}
}

// Offset returns the stream offset of the message Next last returned, or
// of the one it failed on, so that a reader of files can say where a bad
// record is.
func (f *Framer) Offset() int64 { return f.at }

// Buffered reports whether unread bytes are waiting (so a reply writer can
// hold back a flush while more requests are already in).
func (f *Framer) Buffered() bool { return f.end > f.start }
