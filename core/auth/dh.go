package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

// group14 is the 2048-bit MODP group of RFC 3526, section 3; the
// generator is 2.
var group14 = func() *big.Int {
	p, ok := new(big.Int).SetString(
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
			"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
			"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
			"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
			"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
			"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
			"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
			"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
			"15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)
	if !ok {
		panic("auth: bad group constant")
	}
	return p
}()

var two = big.NewInt(2)

// DHLength is the original client's "length" of the exchange: its
// private exponent has DHLength/8+8 random bytes.
const DHLength = 1024

// MaxPubKey bounds a peer's public key: a number below the group's prime.
const MaxPubKey = 256

// ErrPubKey is a public key that is not a usable element of the group.
var ErrPubKey = errors.New("the public key is not a valid Diffie-Hellman value")

// DH is one side of a key exchange. Use it for one exchange only.
type DH struct {
	priv *big.Int
	// Pub is the public key to send: g^priv mod p, big-endian, minimal.
	Pub []byte
}

// NewDH makes a fresh private exponent of length/8+8 bytes, as the
// original does, and its public key. length is the request's "length"
// field; it must be between 256 and 4096 (the original's 1024 is the
// default; it asks for a smaller group below 32, which is refused here).
func NewDH(length int) (*DH, error) {
	if length < 256 || length > 4096 {
		return nil, fmt.Errorf("key length %d: must be between 256 and 4096", length)
	}
	b := make([]byte, length/8+8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	priv := new(big.Int).SetBytes(b)
	return &DH{priv: priv, Pub: new(big.Int).Exp(two, priv, group14).Bytes()}, nil
}

// Key returns the shared secretbox key for the other side's public key:
// the first 32 bytes of the big-endian minimal encoding of the shared
// value. A public key outside 2 … p-2 is refused: 0, 1 and p-1 would
// force a known key.
func (d *DH) Key(peer []byte) (*[32]byte, error) {
	if len(peer) == 0 || len(peer) > MaxPubKey {
		return nil, ErrPubKey
	}
	y := new(big.Int).SetBytes(peer)
	pm1 := new(big.Int).Sub(group14, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pm1) >= 0 {
		return nil, ErrPubKey
	}
	s := new(big.Int).Exp(y, d.priv, group14).Bytes()
	if len(s) < 32 {
		// Negligibly rare for a random exponent; the original would use
		// a shorter key, which secretbox refuses.
		return nil, ErrPubKey
	}
	var k [32]byte
	copy(k[:], s)
	return &k, nil
}
