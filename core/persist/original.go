package persist

import (
	"bytes"
	"fmt"
	"io"
)

// Format is the format of a save or log file.
type Format uint8

// The formats Sniff tells apart.
const (
	// Native is this package's format: framed records (see the package
	// documentation). Reader reads it.
	Native Format = iota
	// Original is the Python DistKV's: a plain stream of msgpack maps.
	// This package only recognises it; the maps are decoded above it,
	// where msgpack is known (core/wire, core/server).
	Original
)

func (f Format) String() string {
	switch f {
	case Native:
		return "native"
	case Original:
		return "original"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Sniff tells the format of the stream r by its first byte and returns a
// reader of the whole stream, that byte included: it reads no more than
// one byte ahead and never seeks, so pipes and <(cat a b) work.
//
// A record of ours starts with 0xD1; an original file starts with a
// msgpack map (0x80–0x8F, 0xDE, 0xDF), as every one of its records does.
// Anything else, and an empty stream, is Native: to a Reader, bytes that
// do not verify are damage, skipped up to the next record.
func Sniff(r io.Reader) (Format, io.Reader, error) {
	var first [1]byte
	for empty := 0; ; {
		n, err := r.Read(first[:])
		switch {
		case n == 1:
			f := Native
			if isMapStart(first[0]) {
				f = Original
			}
			// The byte goes back in front of the rest of the stream.
			return f, io.MultiReader(bytes.NewReader(first[:]), r), nil
		case err == io.EOF:
			return Native, r, nil
		case err != nil:
			return Native, r, err
		}
		// A reader that keeps returning nothing must not hang the caller
		// (the same bound as Reader.fill).
		if empty++; empty == 100 {
			return Native, r, io.ErrNoProgress
		}
	}
}

// isMapStart tells whether c starts a msgpack map: fixmap, map16, map32.
func isMapStart(c byte) bool {
	return c&0xf0 == 0x80 || c == 0xde || c == 0xdf
}
