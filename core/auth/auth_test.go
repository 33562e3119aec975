package auth

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/pack"
)

func TestMain(m *testing.M) {
	// The real cost is measured by the benchmark, not paid by every test.
	DefaultParams = Params{Time: 1, Memory: 64, Threads: 1}
	os.Exit(m.Run())
}

func TestDHAgree(t *testing.T) {
	a, err := NewDH(DHLength)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDH(DHLength)
	if err != nil {
		t.Fatal(err)
	}
	ka, err := a.Key(b.Pub)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.Key(a.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if *ka != *kb {
		t.Fatal("the two sides derived different keys")
	}
	sealed, err := Seal(ka, Digest("test123"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, Digest("test123")) {
		t.Fatal("the sealed digest shows the digest")
	}
	got, err := Open(kb, sealed)
	if err != nil || !bytes.Equal(got, Digest("test123")) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := Open(kb, sealed); !errors.Is(err, ErrBox) {
		t.Fatalf("a tampered box opened: %v", err)
	}
}

// TestDHBadKeys: public keys that would force a known shared key, and
// ones that are not numbers of the group, are refused.
func TestDHBadKeys(t *testing.T) {
	d, err := NewDH(DHLength)
	if err != nil {
		t.Fatal(err)
	}
	pm1 := new(big.Int).Sub(group14, big.NewInt(1)).Bytes()
	for name, k := range map[string][]byte{
		"empty": nil, "zero": {0}, "one": {1}, "p-1": pm1, "p": group14.Bytes(),
		"too long": bytes.Repeat([]byte{0xff}, MaxPubKey+1),
	} {
		if _, err := d.Key(k); !errors.Is(err, ErrPubKey) {
			t.Errorf("%s: %v, want ErrPubKey", name, err)
		}
	}
	for _, n := range []int{0, 16, 255, 4097} {
		if _, err := NewDH(n); err == nil {
			t.Errorf("NewDH(%d) accepted", n)
		}
	}
}

func TestHash(t *testing.T) {
	h, err := NewHash(Digest("secret1"))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify(Digest("secret1")) || h.Verify(Digest("secret2")) {
		t.Fatal("Verify is wrong")
	}
	h2, _ := NewHash(Digest("secret1"))
	if bytes.Equal(h.Hash, h2.Hash) {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	rec := SetFields(pack.Map{{Key: "_aux", Value: nil}}, h.Fields())
	raw, err := pack.Append(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, Digest("secret1")) || bytes.Contains(raw, []byte("secret1")) {
		t.Fatal("the stored record holds the password or its digest")
	}
	v, _ := pack.Decode(raw)
	back, err := ParseHash(v.(pack.Map))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Verify(Digest("secret1")) || back.Plain {
		t.Fatal("the parsed record does not verify")
	}
	if _, ok := v.(pack.Map).Get("_aux"); !ok {
		t.Fatal("SetFields lost _aux")
	}
}

// TestHashPlain: a record of the original holds sha256(password).
func TestHashPlain(t *testing.T) {
	h, err := ParseHash(pack.Map{{Key: "_aux", Value: nil}, {Key: "password", Value: Digest("test123")}})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Plain || !h.Verify(Digest("test123")) || h.Verify(Digest("test124")) {
		t.Fatal("plain record verification is wrong")
	}
}

func TestParseHashBad(t *testing.T) {
	good := func() pack.Map {
		return pack.Map{{Key: "salt", Value: make([]byte, 16)}, {Key: "t", Value: int64(1)}, {Key: "m", Value: int64(64)}, {Key: "p", Value: int64(1)}}
	}
	with := func(k string, v any) pack.Map {
		return SetFields(good(), pack.Map{{Key: k, Value: v}})
	}
	for name, rec := range map[string]pack.Map{
		"no password":   {},
		"string":        {{Key: "password", Value: "x"}},
		"short plain":   {{Key: "password", Value: []byte{1}}},
		"argon not map": {{Key: "password", Value: make([]byte, 32)}, {Key: "argon2id", Value: "x"}},
		"huge memory":   {{Key: "password", Value: make([]byte, 32)}, {Key: "argon2id", Value: with("m", int64(1<<40))}},
		"huge time":     {{Key: "password", Value: make([]byte, 32)}, {Key: "argon2id", Value: with("t", int64(1<<20))}},
		"zero threads":  {{Key: "password", Value: make([]byte, 32)}, {Key: "argon2id", Value: with("p", int64(0))}},
		"no salt":       {{Key: "password", Value: make([]byte, 32)}, {Key: "argon2id", Value: with("salt", nil)}},
	} {
		if _, err := ParseHash(rec); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v, want ErrRecord", name, err)
		}
	}
}

func TestThrottle(t *testing.T) {
	th := NewThrottle()
	if d := th.Delay("joe", 0); d != 0 {
		t.Fatalf("first attempt waits %v", d)
	}
	th.Failed("joe")
	if d := th.Delay("joe", 0); d != th.Base {
		t.Fatalf("after one failure %v, want %v", d, th.Base)
	}
	th.Failed("joe")
	th.Failed("joe")
	if d := th.Delay("joe", 0); d != 4*th.Base {
		t.Fatalf("after three failures %v, want %v", d, 4*th.Base)
	}
	if d := th.Delay("ann", 2); d != 2*th.Base {
		t.Fatalf("connection with two failures %v", d)
	}
	for range 100 {
		th.Failed("joe")
	}
	if d := th.Delay("joe", 0); d != th.Max {
		t.Fatalf("many failures %v, want the bound %v", d, th.Max)
	}
	th.Succeeded("joe")
	if d := th.Delay("joe", 0); d != 0 {
		t.Fatalf("after success %v", d)
	}
	th.Forget = time.Nanosecond
	th.Failed("old")
	time.Sleep(time.Millisecond)
	if d := th.Delay("old", 0); d != 0 {
		t.Fatalf("a forgotten failure still delays %v", d)
	}
	th.MaxUsers = 3
	th.Forget = time.Hour
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		th.Failed(u)
	}
	if len(th.users) > 3 {
		t.Fatalf("%d names remembered, bound 3", len(th.users))
	}
}

func TestParseLogin(t *testing.T) {
	asked := ""
	prompt := func(label string) (string, error) { asked = label; return "s3cret", nil }
	l, err := ParseLogin("password name=joe password?=Code", prompt)
	if err != nil || l.Method != Password || l.Name() != "joe" || l.Params["password"] != "s3cret" || asked != "Code" {
		t.Fatalf("%+v %v asked %q", l, err, asked)
	}
	if l, err := ParseLogin("_test name=joe", nil); err != nil || l.Name() != "joe" {
		t.Fatalf("%+v %v", l, err)
	}
	for _, bad := range []string{
		"", "kerberos name=joe", "_test", "_test name=", "_test name=1joe", "_test name=jo.e",
		"_test name=joe password=x", "password name=joe", "password name=joe password=abc",
		"password name=joe password?=Code", "_test joe",
	} {
		if _, err := ParseLogin(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzOpen(f *testing.F) {
	var key [32]byte
	s, _ := Seal(&key, Digest("x"))
	f.Add(s)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Open(&key, b)
		if err == nil && len(out) != len(b)-24-16 {
			t.Fatal("length mismatch")
		}
	})
}

func FuzzParseLogin(f *testing.F) {
	f.Add("password name=joe password?=Code")
	f.Add("_test name=x")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLogin(s, func(string) (string, error) { return "abcdef", nil })
		if err == nil && l.Method != Root && CheckUserName(l.Name()) != nil {
			t.Fatalf("%q gave a bad user name", s)
		}
	})
}
