package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"

	"golang.org/x/crypto/nacl/secretbox"
)

// ErrBox is a sealed secret that does not open with the connection's key:
// tampered with, or sealed with another key.
var ErrBox = errors.New("the sealed secret does not open with this connection's key")

// Digest is what a client sends in place of a password: sha256 of its
// UTF-8 bytes.
func Digest(password string) []byte {
	d := sha256.Sum256([]byte(password))
	return d[:]
}

// Seal puts msg in a secretbox under key: the 24-byte nonce, then the box.
func Seal(key *[32]byte, msg []byte) ([]byte, error) {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	return secretbox.Seal(nonce[:], msg, &nonce, key), nil
}

// Open opens what Seal made.
func Open(key *[32]byte, sealed []byte) ([]byte, error) {
	if len(sealed) < 24+secretbox.Overhead {
		return nil, ErrBox
	}
	var nonce [24]byte
	copy(nonce[:], sealed)
	out, ok := secretbox.Open(nil, sealed[24:], &nonce, key)
	if !ok {
		return nil, ErrBox
	}
	return out, nil
}
