// Package pack encodes and scans msgpack over byte slices.
//
// DistKV moves msgpack everywhere: client requests, replies, stored values,
// log files. The server rarely needs a value decoded; it validates it, keeps
// the raw bytes and writes them back out. So this package works on []byte
// with no reflection and no copies: Append* functions write canonical
// (shortest) encodings, and a Reader hands out sub-slices of its input.
//
// # The value model
//
// When a value must be decoded (for printing, comparing, the CLI), Decode
// returns one of these Go types:
//
//	nil          msgpack nil
//	bool         true, false
//	int64        integers from -2^63 to 2^63-1
//	uint64       integers from 2^63 to 2^64-1
//	*big.Int     integers of 2^64 and more, msgpack ext type 2
//	float64      float 32 and float 64
//	string       str (UTF-8 is checked)
//	[]byte       bin
//	[]any        array
//	Map          map, in wire order, keys of any type
//	Ext          any other extension type, kept raw
//
// Ext type 2 carries a big integer as its big-endian magnitude. Like the
// original DistKV, only non-negative big integers exist; a negative integer
// below -2^63 cannot be encoded.
//
// # Errors
//
// Every error from a Reader is a *Error with the byte offset where the
// problem starts, so that a caller can say where a message went wrong.
// ErrShort (wrapped) means the input ended inside a value: on a stream,
// read more bytes and try again.
package pack
