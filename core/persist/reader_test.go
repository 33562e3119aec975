package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// testPayload returns a deterministic payload of the given size for record i.
func testPayload(i, size int) []byte {
	p := make([]byte, size)
	x := uint32(i)*2654435761 + 1
	for j := range p {
		x = x*1664525 + 1013904223
		p[j] = byte(x >> 24)
	}
	return p
}

// testStream frames payloads; at[i] is the offset of record i, at[len] the end.
func testStream(payloads ...[]byte) (s []byte, at []int) {
	for _, p := range payloads {
		at = append(at, len(s))
		s = appendRecord(s, p)
	}
	return s, append(at, len(s))
}

// readAll reads r to the end and returns copies of the payloads and the damage.
func readAll(t testing.TB, r *Reader) (recs [][]byte, dmg []Damage, err error) {
	t.Helper()
	r.OnDamage(func(d Damage) { dmg = append(dmg, d) })
	for {
		p, err := r.Next()
		if err == io.EOF {
			return recs, dmg, nil
		}
		if err != nil {
			return recs, dmg, err
		}
		recs = append(recs, bytes.Clone(p))
	}
}

// mustRead reads s with several buffer sizes and read patterns, checks that
// they agree, and returns the result.
func mustRead(t *testing.T, s []byte) ([][]byte, []Damage) {
	t.Helper()
	var recs [][]byte
	var dmg []Damage
	for i, mk := range []func() *Reader{
		func() *Reader { return NewReader(bytes.NewReader(s), "test") },
		func() *Reader { return newReaderSize(bytes.NewReader(s), "test", 16) },
		func() *Reader {
			if len(s) > 64<<10 { // one byte per Read is too slow for that
				return newReaderSize(iotest.HalfReader(bytes.NewReader(s)), "test", 40)
			}
			return newReaderSize(iotest.OneByteReader(bytes.NewReader(s)), "test", 40)
		},
		func() *Reader { return newReaderSize(iotest.HalfReader(bytes.NewReader(s)), "test", 1000) },
	} {
		r, d, err := readAll(t, mk())
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		if i == 0 {
			recs, dmg = r, d
			continue
		}
		if !slices.EqualFunc(r, recs, bytes.Equal) || !slices.Equal(d, dmg) {
			t.Fatalf("reader %d disagrees:\n%v\n%v\nwant\n%v", i, len(r), d, dmg)
		}
	}
	return recs, dmg
}

func checkRecords(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %d bytes %.16x, want %d bytes %.16x", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"none", nil},
		{"empty", []int{0}},
		{"empties", []int{0, 0, 0}},
		{"small", []int{1, 2, 3, 60, 61, 62}},
		{"1MiB", []int{0, 1 << 20, 5, 1 << 20, 0}},
		{"many", func() (s []int) {
			for i := range 5000 {
				s = append(s, i%300)
			}
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want [][]byte
			for i, n := range tt.sizes {
				want = append(want, testPayload(i, n))
			}
			// Through the Writer and a file, and through the Reader alone.
			name := filepath.Join(t.TempDir(), "log")
			w := mustCreate(t, name, Options{})
			for _, p := range want {
				mustAppend(t, w, p)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if s2, _ := testStream(want...); !bytes.Equal(s, s2) {
				t.Fatal("the Writer's file differs from the framed records")
			}
			got, dmg := mustRead(t, s)
			checkRecords(t, got, want)
			if len(dmg) != 0 {
				t.Errorf("damage in a clean file: %v", dmg)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	for _, p := range [][]byte{nil, []byte("a"), testPayload(1, 1000)} {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
		want := crc32.Checksum(append(b, p...), crc32.MakeTable(crc32.Castagnoli))
		if got := checksum(uint32(len(p)), p); got != want {
			t.Errorf("checksum of %d bytes: %08x, want %08x", len(p), got, want)
		}
	}
}

func TestOffset(t *testing.T) {
	s, at := testStream(testPayload(0, 5), testPayload(1, 0), testPayload(2, 70))
	r := NewReader(bytes.NewReader(s), "test")
	if r.Offset() != -1 {
		t.Errorf("Offset before Next = %d, want -1", r.Offset())
	}
	for i := range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if r.Offset() != int64(at[i]) {
			t.Errorf("record %d: Offset = %d, want %d", i, r.Offset(), at[i])
		}
	}
}

func TestTorn(t *testing.T) {
	var want [][]byte
	for i, n := range []int{0, 10, 300, 1, 250} {
		want = append(want, testPayload(i, n))
	}
	s, at := testStream(want...)
	last := at[len(want)-1]
	for cut := last; cut <= len(s); cut++ {
		got, dmg := mustRead(t, s[:cut])
		switch cut {
		case last, len(s):
			n := len(want) - 1
			if cut == len(s) {
				n++
			}
			checkRecords(t, got, want[:n])
			if len(dmg) != 0 {
				t.Errorf("cut at a record boundary %d: damage %v", cut, dmg)
			}
		default:
			checkRecords(t, got, want[:len(want)-1])
			wantDmg := Damage{Name: "test", Offset: int64(last), Skipped: int64(cut - last), Torn: true}
			if len(dmg) != 1 || dmg[0].Reason == "" || dmg[0].Torn != true ||
				dmg[0].Offset != wantDmg.Offset || dmg[0].Skipped != wantDmg.Skipped {
				t.Fatalf("cut at %d: damage %v, want one like %v", cut, dmg, wantDmg)
			}
		}
	}
}

func TestConcatTorn(t *testing.T) {
	var a, b [][]byte
	for i, n := range []int{7, 0, 120, 90} {
		a = append(a, testPayload(i, n))
	}
	for i, n := range []int{0, 33, 400, 2} {
		b = append(b, testPayload(100+i, n))
	}
	sa, at := testStream(a...)
	sb, _ := testStream(b...)
	last := at[len(a)-1]
	want := append(append([][]byte{}, a[:len(a)-1]...), b...)
	for cut := last + 1; cut < len(sa); cut++ {
		s := append(bytes.Clone(sa[:cut]), sb...)
		got, dmg := mustRead(t, s)
		checkRecords(t, got, want)
		if len(dmg) != 1 || dmg[0].Torn || dmg[0].Offset != int64(last) || dmg[0].Skipped != int64(cut-last) {
			t.Fatalf("a cut at %d, then b: damage %v, want one of %d bytes at %d, not torn", cut, dmg, cut-last, last)
		}
	}
}

func TestDamage(t *testing.T) {
	var base [][]byte
	for i, n := range []int{20, 0, 50, 300, 8} {
		base = append(base, testPayload(i, n))
	}
	type dmg struct {
		at, skipped int  // offsets in the mutated stream
		torn        bool // expected Torn
		why         string
	}
	garbage := []byte("not a record, just garbage \xd1DK")
	fake := appendRecord(nil, []byte("fake"))
	fake[len(fake)-1] ^= 1 // a magic and header whose CRC fails
	setLen := func(n uint32) func([]byte, []int) []byte {
		return func(s []byte, at []int) []byte {
			binary.BigEndian.PutUint32(s[at[2]+4:], n)
			return s
		}
	}
	insert := func(i int, ins []byte) func([]byte, []int) []byte {
		return func(s []byte, at []int) []byte {
			return append(s[:at[i]:at[i]], append(bytes.Clone(ins), s[at[i]:]...)...)
		}
	}
	tests := []struct {
		name   string
		mutate func(s []byte, at []int) []byte
		want   []int // surviving records
		dmg    func(at []int) []dmg
	}{
		{"garbage in the middle", insert(2, garbage), []int{0, 1, 2, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], len(garbage), false, "no record"}} }},
		{"garbage at the start", insert(0, garbage), []int{0, 1, 2, 3, 4},
			func(at []int) []dmg { return []dmg{{0, len(garbage), false, "no record"}} }},
		{"zeros at the end", func(s []byte, _ []int) []byte { return append(s, make([]byte, 100)...) },
			[]int{0, 1, 2, 3, 4},
			func(at []int) []dmg { return []dmg{{at[5], 100, false, "no record"}} }},
		{"a fake header in the middle", insert(3, fake), []int{0, 1, 2, 3, 4},
			func(at []int) []dmg { return []dmg{{at[3], len(fake), false, "checksum"}} }},
		{"flipped payload bit", func(s []byte, at []int) []byte { s[at[2]+headerSize+17] ^= 0x10; return s },
			[]int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "checksum"}} }},
		{"flipped crc bit", func(s []byte, at []int) []byte { s[at[3]+9] ^= 0x01; return s },
			[]int{0, 1, 2, 4},
			func(at []int) []dmg { return []dmg{{at[3], at[4] - at[3], false, "checksum"}} }},
		{"bad magic", func(s []byte, at []int) []byte { s[at[1]+1] = 'X'; return s },
			[]int{0, 2, 3, 4},
			func(at []int) []dmg { return []dmg{{at[1], at[2] - at[1], false, "no record"}} }},
		{"length 0xFFFFFFFF", setLen(0xFFFFFFFF), []int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "impossible"}} }},
		{"length MaxRecord+1", setLen(MaxRecord + 1), []int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "impossible"}} }},
		{"length into later records", setLen(100), []int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "checksum"}} }},
		{"length past the end", setLen(1 << 20), []int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "ends"}} }},
		{"length too short", setLen(3), []int{0, 1, 3, 4},
			func(at []int) []dmg { return []dmg{{at[2], at[3] - at[2], false, "checksum"}} }},
		{"two stretches", func(s []byte, at []int) []byte {
			s[at[3]+headerSize] ^= 0xff
			return insert(1, garbage)(s, at)
		}, []int{0, 1, 2, 4},
			func(at []int) []dmg {
				g := len(garbage)
				return []dmg{{at[1], g, false, "no record"}, {at[3] + g, at[4] - at[3], false, "checksum"}}
			}},
		{"damage then a torn record", func(s []byte, at []int) []byte {
			s[at[3]+headerSize] ^= 0xff
			return s[:at[4]+5]
		}, []int{0, 1, 2},
			func(at []int) []dmg { return []dmg{{at[3], at[4] + 5 - at[3], false, "checksum"}} }},
		{"torn header", func(s []byte, at []int) []byte { return s[:at[4]+7] }, []int{0, 1, 2, 3},
			func(at []int) []dmg { return []dmg{{at[4], 7, true, "header"}} }},
		{"torn magic", func(s []byte, at []int) []byte { return s[:at[4]+2] }, []int{0, 1, 2, 3},
			func(at []int) []dmg { return []dmg{{at[4], 2, true, "header"}} }},
		{"only garbage", func([]byte, []int) []byte { return bytes.Clone(garbage) }, nil,
			func([]int) []dmg { return []dmg{{0, len(garbage), false, "no record"}} }},
		{"empty", func([]byte, []int) []byte { return nil }, nil, func([]int) []dmg { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, at := testStream(base...)
			wantDmg := tt.dmg(at)
			s = tt.mutate(s, at)
			got, dmg := mustRead(t, s)
			var want [][]byte
			for _, i := range tt.want {
				want = append(want, base[i])
			}
			checkRecords(t, got, want)
			if len(dmg) != len(wantDmg) {
				t.Fatalf("damage %v, want %v", dmg, wantDmg)
			}
			for i, d := range dmg {
				w := wantDmg[i]
				if d.Offset != int64(w.at) || d.Skipped != int64(w.skipped) || d.Torn != w.torn ||
					!strings.Contains(d.Reason, w.why) || d.Name != "test" {
					t.Errorf("damage %d: %v, want %+v", i, d, w)
				}
			}
		})
	}
}

// TestDamagedLengthMemory: a length claiming more than the stream holds
// costs memory in proportion to the stream, not to the claim.
func TestDamagedLengthMemory(t *testing.T) {
	s, _ := testStream(testPayload(0, 100), testPayload(1, 100))
	binary.BigEndian.PutUint32(s[4:], MaxRecord)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	recs, dmg := mustRead(t, s)
	runtime.ReadMemStats(&after)
	if len(recs) != 1 || len(dmg) != 1 {
		t.Errorf("read %d records and damage %v, want 1 record and 1 damage", len(recs), dmg)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("reading %d bytes allocated %d bytes", len(s), n)
	}
}

func TestDamageString(t *testing.T) {
	tests := []struct {
		d    Damage
		want string
	}{
		{Damage{"a.state", 120, 33, "checksum mismatch in a record of 40 bytes", false},
			"a.state: skipped 33 damaged bytes at offset 120: checksum mismatch in a record of 40 bytes"},
		{Damage{"b.log", 7, 5, "the stream ends 5 bytes into a record header", true},
			"b.log: skipped a torn last record at offset 7 (5 bytes): the stream ends 5 bytes into a record header"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestPipe(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var want [][]byte
	for i := range 2000 {
		want = append(want, testPayload(i, rng.IntN(2000)))
	}
	s, at := testStream(want...)
	s = append(s, s[at[5]:at[6]-1]...) // a torn copy of record 5 at the end

	pr, pw := io.Pipe()
	go func() {
		for b := s; len(b) > 0; {
			n := min(len(b), 1+rng.IntN(5000))
			if _, err := pw.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
		pw.Close()
	}()
	got, dmg, err := readAll(t, NewReader(pr, "pipe"))
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, want)
	if len(dmg) != 1 || !dmg[0].Torn || dmg[0].Offset != int64(at[len(want)]) {
		t.Errorf("damage %v, want one torn record at %d", dmg, at[len(want)])
	}
}

func TestReadError(t *testing.T) {
	errBoom := errors.New("boom")
	s, _ := testStream(testPayload(0, 10), testPayload(1, 20))
	tests := []struct {
		name string
		rd   io.Reader
		recs int
		want error
	}{
		{"after records", io.MultiReader(bytes.NewReader(s), iotest.ErrReader(errBoom)), 2, errBoom},
		{"inside a record", io.MultiReader(bytes.NewReader(s[:20]), iotest.ErrReader(errBoom)), 0, errBoom},
		{"no progress", iotest.ErrReader(nil), 0, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReaderSize(tt.rd, "src", 16)
			recs, _, err := readAll(t, r)
			if len(recs) != tt.recs || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "src") {
				t.Fatalf("got %d records and %v, want %d and %v", len(recs), err, tt.recs, tt.want)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("second call: %v, want the same error", err2)
			}
		})
	}
}

// FuzzReader checks that arbitrary bytes never panic or fail, that every
// returned payload is a record that verifies, and that records and damage
// together cover the input exactly, in order.
func FuzzReader(f *testing.F) {
	good, at := testStream(testPayload(0, 10), testPayload(1, 0), testPayload(2, 100))
	f.Add(good, uint16(0), false)
	f.Add(good[:at[2]+5], uint16(20), true)
	f.Add(append(bytes.Clone(good[:at[1]+3]), good...), uint16(13), false)
	f.Add([]byte("\xd1DKV\xff\xff\xff\xff\x00\x00\x00\x00\xd1DKV"), uint16(0), false)
	f.Add([]byte{}, uint16(0), false)
	f.Fuzz(func(t *testing.T, data []byte, size uint16, oneByte bool) {
		var src io.Reader = bytes.NewReader(data)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		r := newReaderSize(src, "fuzz", int(size%4096))
		var next int64 // where the next record or damage must start
		lastDamaged := false
		r.OnDamage(func(d Damage) {
			if d.Offset != next || d.Skipped <= 0 || lastDamaged {
				t.Fatalf("damage %v after offset %d", d, next)
			}
			next += d.Skipped
			lastDamaged = true
			if d.Torn && next != int64(len(data)) {
				t.Fatalf("torn damage %v before the end %d", d, len(data))
			}
		})
		for {
			p, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			off := r.Offset()
			if off != next {
				t.Fatalf("record at %d, want %d", off, next)
			}
			h := data[off : off+headerSize]
			body := data[off+headerSize : off+headerSize+int64(len(p))]
			if [4]byte(h) != magic || binary.BigEndian.Uint32(h[4:]) != uint32(len(p)) ||
				binary.BigEndian.Uint32(h[8:]) != checksum(uint32(len(p)), p) || !bytes.Equal(p, body) {
				t.Fatalf("record at %d does not verify", off)
			}
			next += headerSize + int64(len(p))
			lastDamaged = false
		}
		if next != int64(len(data)) {
			t.Fatalf("records and damage cover %d bytes of %d", next, len(data))
		}
	})
}

func BenchmarkRead(b *testing.B) {
	name := filepath.Join(b.TempDir(), "log")
	p := testPayload(0, 60)
	var s []byte
	for range b.N {
		s = appendRecord(s, p)
	}
	if err := os.WriteFile(name, s, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(p) + headerSize))
	b.ReportAllocs()
	b.ResetTimer()
	r := NewReader(f, name)
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != b.N {
		b.Fatalf("read %d records, want %d", n, b.N)
	}
}
