package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// KeygenCmd is `distkv keygen`.
type KeygenCmd struct{}

// Help is shown below the usage of `distkv keygen --help`.
func (KeygenCmd) Help() string {
	return `Prints a new random network key: the base64 of 32 random bytes, the
form server.serf.key takes (and serf keygen prints). Give every server of
the network the same key: it encrypts gossip, and servers prove it to each
other before any data flows. It does not guard the client port.

Example, in every server's config file:
  server:
    serf:
      key: "<what distkv keygen printed>"`
}

func (KeygenCmd) Run(g *globals) error {
	key := make([]byte, 32) // AES-256, as serf keygen
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintln(g.stdout, base64.StdEncoding.EncodeToString(key))
	return nil
}
