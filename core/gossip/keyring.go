package gossip

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/memberlist"
)

// ParseKey decodes a gossip encryption key in the form `serf keygen` prints:
// base64 (standard encoding) of 16, 24 or 32 bytes.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: key: not base64: %v", ErrConfig, err)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

func checkKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w: key of %d bytes: want 16, 24 or 32 (AES-128, -192, -256)", ErrConfig, len(key))
}

// parseKeyring decodes a keyring file in Serf's format: a JSON list of
// base64 keys; the first one is the primary key.
func parseKeyring(data []byte) ([][]byte, error) {
	var encoded []string
	if err := json.Unmarshal(data, &encoded); err != nil {
		return nil, fmt.Errorf("%w: keyring: want a JSON list of base64 keys: %v", ErrConfig, err)
	}
	if len(encoded) == 0 {
		return nil, fmt.Errorf("%w: keyring: no keys", ErrConfig)
	}
	keys := make([][]byte, len(encoded))
	for i, s := range encoded {
		k, err := ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %d: %w", i+1, err)
		}
		keys[i] = k
	}
	return keys, nil
}

// ReadKeyring reads a keyring file in Serf's format; the first key is
// the primary one.
func ReadKeyring(name string) ([][]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	keys, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return keys, nil
}

// keyring builds the memberlist keyring of cfg, nil without encryption.
func keyring(cfg Config) (*memberlist.Keyring, error) {
	keys := [][]byte{cfg.Key}
	if cfg.KeyringFile != "" {
		var err error
		if keys, err = ReadKeyring(cfg.KeyringFile); err != nil {
			return nil, err
		}
	} else if len(cfg.Key) == 0 {
		return nil, nil
	}
	kr, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("%w: keyring: %v", ErrConfig, err)
	}
	return kr, nil
}
