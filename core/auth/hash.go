package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/distkv-go/distkv/core/pack"
)

// Params are argon2id's costs. They are stored with every hash, so that
// a change of the defaults does not lock anyone out.
type Params struct {
	Time    uint32 // passes over the memory
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams cost about 180 ms of one core and 64 MiB per login on a
// 2-core x86 server of 2026 (BENCHMARKS.md has the figure): slow for a
// guesser, unnoticeable for a person. At most hashSlots run at once, so
// that a burst of logins cannot take all of a small board's memory.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 1}

// Bounds on stored parameters, so that a forged record cannot make a
// login take hours or gigabytes.
const (
	maxTime   = 64
	maxMemory = 1024 * 1024 // 1 GiB
	saltLen   = 16
	hashLen   = 32
)

// hashSlots bounds the logins that hash at the same time.
var hashSlots = make(chan struct{}, 2)

func hash(digest, salt []byte, p Params) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(digest, salt, p.Time, p.Memory, p.Threads, hashLen)
}

// Hash is the stored proof of a password.
type Hash struct {
	Hash   []byte
	Salt   []byte
	Params Params
	// Plain: Hash is the original DistKV's unsalted sha256 digest, to be
	// replaced by an argon2id hash at the next successful login.
	Plain bool
}

// NewHash hashes a client's digest (see Digest) with a fresh salt.
func NewHash(digest []byte) (Hash, error) {
	if len(digest) != 32 {
		return Hash{}, fmt.Errorf("a password digest has 32 bytes, not %d", len(digest))
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Hash{}, err
	}
	return Hash{Hash: hash(digest, salt, DefaultParams), Salt: salt, Params: DefaultParams}, nil
}

// Verify reports whether digest is the password's, in time that does not
// depend on where the two differ.
func (p Hash) Verify(digest []byte) bool {
	if p.Plain {
		return subtle.ConstantTimeCompare(p.Hash, digest) == 1
	}
	return subtle.ConstantTimeCompare(p.Hash, hash(digest, p.Salt, p.Params)) == 1
}

// dummy is verified against when a login names no known user, so that an
// unknown name costs what a wrong password costs.
var dummy = Hash{Hash: make([]byte, hashLen), Salt: make([]byte, saltLen), Params: DefaultParams}

// VerifyNobody does the work of a failed Verify.
func VerifyNobody(digest []byte) { dummy.Verify(digest) }

// ErrRecord is a stored user record this package cannot use.
var ErrRecord = errors.New("bad user record")

// ParseHash reads the password fields of a stored user record: the
// hash under "password" and, unless it is the original's plain digest,
// {salt, t, m, p} under "argon2id".
func ParseHash(rec pack.Map) (Hash, error) {
	v, ok := rec.Get("password")
	if !ok {
		return Hash{}, fmt.Errorf("%w: no password", ErrRecord)
	}
	h, ok := v.([]byte)
	if !ok {
		return Hash{}, fmt.Errorf("%w: the password is not bytes", ErrRecord)
	}
	a, ok := rec.Get("argon2id")
	if !ok {
		if len(h) != 32 {
			return Hash{}, fmt.Errorf("%w: a plain sha256 password has 32 bytes", ErrRecord)
		}
		return Hash{Hash: h, Plain: true}, nil
	}
	m, ok := a.(pack.Map)
	if !ok {
		return Hash{}, fmt.Errorf("%w: argon2id is not a map", ErrRecord)
	}
	p := Hash{Hash: h}
	if s, ok := m.Get("salt"); ok {
		p.Salt, _ = s.([]byte)
	}
	t, m1, th := uintField(m, "t"), uintField(m, "m"), uintField(m, "p")
	if len(p.Hash) != hashLen || len(p.Salt) < 8 || t < 1 || t > maxTime || m1 < 8 || m1 > maxMemory || th < 1 || th > 255 {
		return Hash{}, fmt.Errorf("%w: argon2id parameters out of range", ErrRecord)
	}
	p.Params = Params{Time: uint32(t), Memory: uint32(m1), Threads: uint8(th)}
	return p, nil
}

func uintField(m pack.Map, k string) uint64 {
	v, _ := m.Get(k)
	switch v := v.(type) {
	case int64:
		if v > 0 {
			return uint64(v)
		}
	case uint64:
		return v
	}
	return 0
}

// Fields returns the record's password fields, for SetFields.
func (p Hash) Fields() pack.Map {
	return pack.Map{
		{Key: "password", Value: p.Hash},
		{Key: "argon2id", Value: pack.Map{
			{Key: "salt", Value: p.Salt},
			{Key: "t", Value: uint64(p.Params.Time)},
			{Key: "m", Value: uint64(p.Params.Memory)},
			{Key: "p", Value: uint64(p.Params.Threads)},
		}},
	}
}

// SetFields returns rec with the fields of f set (replaced or added), in
// rec's order; rec is not changed.
func SetFields(rec, f pack.Map) pack.Map {
	out := append(pack.Map(nil), rec...)
	for _, kv := range f {
		found := false
		for i := range out {
			if k, ok := out[i].Key.(string); ok && k == kv.Key {
				out[i].Value = kv.Value
				found = true
				break
			}
		}
		if !found {
			out = append(out, kv)
		}
	}
	return out
}
