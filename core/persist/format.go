// Package persist reads and writes DistKV's save files and change logs.
//
// A file is a sequence of framed records. Each record's payload is a msgpack
// map composed by the caller; to this package it is opaque bytes.
//
// # Format
//
// Every record is a 12-byte header followed by its payload:
//
//	0             4             8             12
//	+-------------+-------------+-------------+------ ... ------+
//	|    magic    |   length    |     crc     |     payload     |
//	| D1 44 4B 56 | uint32, BE  | uint32, BE  |  length bytes   |
//	+-------------+-------------+-------------+------ ... ------+
//
// magic is 0xD1 'D' 'K' 'V'. length counts the payload bytes; more than
// MaxRecord is invalid. crc is CRC-32C (Castagnoli) over the 4 length bytes
// followed by the payload, so a damaged length is caught as well as a damaged
// payload. There is no file header and no padding: files can be concatenated
// (cat a.state b.state) and read as one stream.
//
// # Reading
//
// A Reader needs only an io.Reader (pipes, process substitution, stdin). It
// returns the payloads of the records that verify and skips everything else:
// when the bytes at the current position do not form a valid record, it scans
// forward, one byte after the failed magic, for the next magic whose record
// verifies. Each skipped stretch is reported once as a Damage. A stretch that
// runs to the end of the stream and starts with a cut-off record is Torn: what
// a crash during a write leaves behind. Only I/O errors of the underlying
// reader are errors.
//
// # The original's files
//
// The Python DistKV's save and log files load too. They are a plain stream
// of msgpack maps, with no framing and no checksums:
//
//	{nodes: {NODE: tick}, known: {NODE: ranges}, deleted: {NODE: ranges}, node, tock}  header
//	{path, depth, value, chain: {node, tick, prev: {…} | nil}, tock}                   state record
//	{node, tick, prev: {…} | nil, path, depth, value, tock}                            change record
//
// A save starts with one header, a log with one or two; then come state
// records (a dump of the tree) and, in a log, change records. A record
// without value is a deletion. Paths are depth-compressed: depth N means
// the first N elements of the previous record's path, followed by path (an
// array); with depth 0, path is the whole path as msgpack ext type 3.
// Ranges are lists of single ticks and half-open [lo, hi) pairs; integers
// beyond 64 bits are ext type 2 (big-endian magnitude).
//
// Sniff tells the formats apart by the first byte: 0xD1 starts our magic,
// a map (0x80–0x8F, 0xDE, 0xDF) starts the original's. It does not seek,
// so a stream works as well as a file. This package imports nothing of
// DistKV's, so it does not decode the maps: core/server does, with
// core/wire. Without framing there is nowhere to resume after damage: a
// torn last map is skipped like a torn record of ours, and a map that is
// not a valid record is skipped with a warning, but bytes that are not
// msgpack, or a value that is not a map, end the load with an error naming
// the offset.
//
// # Writing
//
// A Writer frames records into a memory buffer; one background goroutine
// writes the buffer out and fsyncs the file according to a SyncPolicy. Append
// returns a sequence number and does no I/O; WaitSynced(seq) returns once that
// record and all before it are synced. A change log is opened for appending
// and never truncated; a save file can be written atomically (NAME.tmp,
// renamed to NAME on Close).
//
// # Durability
//
// A record is synced once WaitSynced for its seq or a later one has returned
// nil, or Sync or Close has returned nil after it was appended. If the process
// is killed at any moment, every synced record is in the file, whole, and the
// file reads without error: at most its last record is torn. With SyncAlways
// and SyncInterval, synced means fsynced, which also survives a crash of the
// machine; with SyncNever WaitSynced only waits for the write to the OS,
// which survives the process but not the machine.
//
// # Caveats
//
// Appending to a log whose last record is torn leaves the torn bytes in the
// middle of the file; readers skip them and report a (non-torn) Damage. The
// reader checks a payload by its CRC only; it does not look inside. A damaged
// length field makes a Reader buffer up to that many bytes (at most
// MaxRecord) before it can tell.
//
// Sniff looks at the first byte only, so one stream is in one format: in
// cat ours.state original.state the original's maps are damage to a
// Reader; the other way round, the loader stops at our first record. Give
// each format its own stream.
package persist

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// MaxRecord is the largest payload a record may carry. A header that claims
// more is damage.
const MaxRecord = 256 << 20

// headerSize is the size of a record header: magic, length, crc.
const headerSize = 12

// magic starts every record.
var magic = [4]byte{0xD1, 'D', 'K', 'V'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by this package.
var (
	// ErrClosed is returned by a Writer's methods after Close.
	ErrClosed = errors.New("log is closed")
	// ErrTooLarge is returned by Append for a payload over MaxRecord.
	ErrTooLarge = errors.New("record too large")
	// ErrUnknownRecord is returned by WaitSynced for a seq not yet appended.
	ErrUnknownRecord = errors.New("no such record")
	// ErrSyncPolicy is returned for an unknown sync policy name or value.
	ErrSyncPolicy = errors.New("unknown sync policy")
)

// header fills h (headerSize bytes) with the header of a record for payload.
func header(h []byte, payload []byte) {
	copy(h, magic[:])
	binary.BigEndian.PutUint32(h[4:8], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[8:12], checksum(uint32(len(payload)), payload))
}

// checksum is the record CRC: CRC-32C over the 4 big-endian length bytes,
// then the payload. The length goes through the table by hand so that no
// header buffer escapes to the heap.
func checksum(length uint32, payload []byte) uint32 {
	crc := ^uint32(0)
	for shift := 24; shift >= 0; shift -= 8 {
		crc = castagnoli[byte(crc)^byte(length>>shift)] ^ crc>>8
	}
	return crc32.Update(^crc, castagnoli, payload)
}

// appendRecord appends the framed record for payload to dst.
func appendRecord(dst, payload []byte) []byte {
	var h [headerSize]byte
	header(h[:], payload)
	return append(append(dst, h[:]...), payload...)
}
