package server_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/value"
)

// TestLoadStatsValid: LoadStats tells a stream that held no valid record
// (neither Records nor Headers) from a valid one, and counts its bytes.
func TestLoadStatsValid(t *testing.T) {
	s := startServer(t, server.Config{})
	name := filepath.Join(t.TempDir(), "header.log")
	if err := s.StartLog(name, false); err != nil {
		t.Fatal(err)
	}
	if err := s.StopLog(); err != nil {
		t.Fatal(err)
	}
	headerOnly, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	origHeader, err := value.Encode(pack.Map{{Key: "nodes", Value: pack.Map{{Key: "a", Value: int64(5)}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name             string
		data             []byte
		headers, records int
	}{
		{"a log with its header only", headerOnly, 1, 0},
		{"empty", nil, 0, 0},
		{"text", []byte("not a DistKV file\n"), 0, 0},
		{"a torn map of the original's format", []byte{0x81, 0xa1}, 0, 0},
		{"an original header", origHeader, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := newUnstarted(t, "n", nil).Load(bytes.NewReader(c.data), c.name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Headers != c.headers || st.Records != c.records || st.Bytes != int64(len(c.data)) {
				t.Errorf("%+v, want %d headers, %d records, %d bytes", st, c.headers, c.records, len(c.data))
			}
		})
	}
}
