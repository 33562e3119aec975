package tlsconf

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// Errors of Handshake, besides those of the TLS handshake itself.
var (
	// ErrQuiet: the other side sent nothing for the quiet time. A TLS
	// client starts at once; a client without TLS waits for the server
	// to speak first.
	ErrQuiet = errors.New("the other side sent nothing: it does not speak TLS")
	// ErrNotTLS: the other side's first bytes are not a TLS handshake.
	ErrNotTLS = errors.New("the other side does not speak TLS")
)

// recordHandshake is the first byte of a TLS handshake record.
const recordHandshake = 0x16

// Handshake runs the listener's side of a TLS handshake on nc. Call it
// in the connection's own goroutine, never in an accept loop: a slow or
// silent client holds only its own connection. It gives up after timeout
// or when ctx ends; if nothing arrives within quiet (at most timeout), it
// returns ErrQuiet, and if the first byte is not a TLS handshake's,
// ErrNotTLS. After an error nc is still open, so that the caller may say
// why in its own plain protocol, and is the caller's to close. On success
// the caller uses the returned connection in place of nc; closing either
// closes both.
//
// Before the handshake is done nothing but the TLS library's own
// handshake buffers is read (16 bytes peeked here, then at most one
// record of 16 KiB and the handshake messages).
func Handshake(ctx context.Context, nc net.Conn, cfg *tls.Config, quiet, timeout time.Duration) (*tls.Conn, error) {
	if quiet <= 0 || quiet > timeout {
		quiet = timeout
	}
	now := time.Now()
	deadline := now.Add(timeout)
	nc.SetDeadline(deadline)
	nc.SetReadDeadline(now.Add(quiet))
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	br := bufio.NewReaderSize(nc, 16) // the smallest bufio allows
	first, err := br.Peek(1)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && quiet < timeout {
			return nil, ErrQuiet
		}
		return nil, err
	case first[0] != recordHandshake:
		return nil, ErrNotTLS
	}
	nc.SetReadDeadline(deadline)
	tc := tls.Server(&peekedConn{Conn: nc, r: br}, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	if !stop() {
		return nil, context.Canceled
	}
	nc.SetDeadline(time.Time{})
	return tc, nil
}

// peekedConn reads what was peeked before it reads on from the
// connection (bufio reads a large read straight from the connection once
// its buffer is empty).
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
