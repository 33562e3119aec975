package pack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// skipInSteps skips one value of b as a framer does when the bytes arrive
// in steps of step: it goes on from where each short scan stopped. It
// returns the value's size, or the error of the scan of all of b.
func skipInSteps(b []byte, step int) (int, error) {
	scanned, pending := 0, 1
	for have := min(step, len(b)); ; have = min(have+step, len(b)) {
		r := NewReader(b[scanned:have])
		left, err := r.SkipPending(pending)
		if err == nil {
			return scanned + r.Pos(), nil
		}
		if !errors.Is(err, ErrShort) && !errors.Is(err, ErrTooBig) || have == len(b) {
			return 0, err
		}
		scanned += r.Pos()
		pending = left
	}
}

func TestSkipPendingResumes(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, 1000), 0xc0)
	msg, _ := hex.DecodeString("83a3736571" + "01" + "a576616c7565" + "92a3616263c40201" + "a161" + "82a178c0a179dc000301020300")
	for _, b := range [][]byte{deep, msg[:len(msg)-1]} {
		for _, step := range []int{1, 2, 3, 7, 100, len(b)} {
			n, err := skipInSteps(b, step)
			if err != nil || n != len(b) {
				t.Fatalf("in steps of %d: %d of %d bytes, %v", step, n, len(b), err)
			}
		}
	}
	// Broken input is found wherever the steps fall.
	bad := append(bytes.Repeat([]byte{0x92, 0x01}, 100), 0xc1)
	for _, step := range []int{1, 5, len(bad)} {
		if _, err := skipInSteps(bad, step); !errors.Is(err, ErrInvalid) {
			t.Fatalf("in steps of %d: %v", step, err)
		}
	}
}

// FuzzSkipPending: skipping a value in steps, going on where each short
// scan stopped, ends where one Skip of the whole input does.
func FuzzSkipPending(f *testing.F) {
	for _, h := range []string{"81a178920102", "c70902400000000000000005", "93c0c3cb3ff8000000000000", "dc0003010203", "919191c0", "82a161dc0002c0c0a162c403010203"} {
		b, _ := hex.DecodeString(h)
		f.Add(b, 1)
		f.Add(b, 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, step int) {
		if step < 1 || step > len(b) {
			return
		}
		r := NewReader(b)
		whole := r.Skip()
		n, err := skipInSteps(b, step)
		if (whole == nil) != (err == nil) || whole == nil && n != r.Pos() {
			t.Fatalf("in steps of %d: %d bytes, %v; at once: %d bytes, %v", step, n, err, r.Pos(), whole)
		}
	})
}
