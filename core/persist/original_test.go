package persist

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// originalDir holds files the original DistKV wrote (see its README.md).
const originalDir = "../../testdata/original"

func TestSniff(t *testing.T) {
	ours, _ := testStream(testPayload(0, 10), testPayload(1, 20))
	type sniffCase struct {
		name string
		data []byte
		want Format
	}
	tests := []sniffCase{
		{"ours", ours, Native},
		{"empty", nil, Native},
		{"fixmap", []byte{0x85, 0xa1, 'a'}, Original},
		{"map16", []byte{0xde, 0, 1}, Original},
		{"map32", []byte{0xdf, 0, 0, 0, 1}, Original},
		{"array", []byte{0x92, 1, 2}, Native},
		{"garbage", []byte("hello"), Native},
	}
	for _, name := range []string{"save.state", "log-full.state", "log-incremental.state"} {
		data, err := os.ReadFile(filepath.Join(originalDir, name))
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, sniffCase{name, data, Original})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time, as a pipe may deliver it: Sniff must
			// give back every byte it read.
			f, r, err := Sniff(iotest.OneByteReader(bytes.NewReader(tt.data)))
			if err != nil || f != tt.want {
				t.Fatalf("Sniff: %v, %v; want %v", f, err, tt.want)
			}
			rest, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(rest, tt.data) {
				t.Fatalf("the stream after Sniff: %x, %v; want %x", rest, err, tt.data)
			}
		})
	}
}

func TestSniffErrors(t *testing.T) {
	errBoom := errors.New("boom")
	if _, _, err := Sniff(iotest.ErrReader(errBoom)); !errors.Is(err, errBoom) {
		t.Errorf("a failing reader: %v", err)
	}
	if _, _, err := Sniff(iotest.ErrReader(nil)); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a reader that returns nothing: %v", err)
	}
	// Our records still read after Sniff, damage included.
	ours, _ := testStream(testPayload(0, 10), testPayload(1, 20))
	ours = append([]byte("junk"), ours...)
	_, r, err := Sniff(bytes.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	recs, dmg, err := readAll(t, NewReader(r, "s"))
	if err != nil || len(recs) != 2 || len(dmg) != 1 || dmg[0].Offset != 0 || dmg[0].Skipped != 4 {
		t.Fatalf("read after Sniff: %d records, damage %v, %v", len(recs), dmg, err)
	}
}
