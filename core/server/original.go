package server

import (
	"errors"
	"fmt"
	"io"

	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/wire"
)

// original reads a stream of the original DistKV's format: msgpack maps
// with no framing (drawn in package persist). A torn last map is skipped
// with a warning, as a torn record of ours is; anything else that is not
// msgpack, or not a map, ends the load with an error, because there is no
// framing to find the next record by.
func (l *loader) original(cr *countingReader) error {
	fr := wire.NewFramer(cr, persist.MaxRecord)
	dec := wire.OriginalDecoder{Intern: l.intern}
	for {
		msg, err := fr.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			l.damage(persist.Damage{Name: l.name, Offset: fr.Offset(), Skipped: cr.n - fr.Offset(),
				Reason: "the stream ends inside a msgpack map", Torn: true})
			return nil
		case err != nil:
			return fmt.Errorf("read %s: the record at offset %d: %w", l.name, fr.Offset(), err)
		}
		rec, err := dec.Decode(msg)
		switch {
		case errors.Is(err, wire.ErrNotMap):
			return fmt.Errorf("read %s: the record at offset %d: %w: the stream is not the original DistKV's format from there on (give each format its own -l)",
				l.name, fr.Offset(), err)
		case err != nil:
			l.bad(fr.Offset(), err)
		case rec.Header != nil:
			l.st.Headers++
			l.header(rec.Header, fr.Offset())
		default:
			l.apply(rec.Update, fr.Offset())
		}
	}
}

// header takes over what the original's server knew of the nodes' ticks:
// the changes it saw superseded or deleted are not missing here although
// no entry holds them, and its counters only go up.
func (l *loader) header(h *wire.OriginalHeader, offset int64) {
	t := l.s.tree
	var errs []error
	for node, tick := range h.Nodes {
		errs = append(errs, t.Announce(node, tick))
	}
	for node, r := range h.Known {
		errs = append(errs, t.MarkKnown(node, &r))
	}
	for node, r := range h.Deleted {
		errs = append(errs, t.MarkKnown(node, &r))
	}
	errs = append(errs, t.SeeTock(h.Tock))
	if err := errors.Join(errs...); err != nil {
		l.bad(offset, err)
	}
}

// countingReader counts the bytes read through it: the size of a torn
// last record is what was read after its start.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
