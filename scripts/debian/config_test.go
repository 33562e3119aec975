package debian

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/distkv-go/distkv/core/config"
)

// TestConfig: the default config file changes nothing as shipped, and
// with every key uncommented it lists every key, each with its default:
// it cannot fall behind the config package unnoticed.
func TestConfig(t *testing.T) {
	cfg, _, err := config.Load(config.Options{Files: []string{"distkv.cfg"}})
	if err != nil {
		t.Fatalf("distkv.cfg as shipped: %v", err)
	}
	if got, want := cfg.YAML(), config.Default().YAML(); got != want {
		t.Errorf("distkv.cfg as shipped changes the defaults:\n%s\nwant\n%s", got, want)
	}

	b, err := os.ReadFile("distkv.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// A commented-out key is "#", then its indentation and "key:"; a
	// comment inside a section is "#", the indentation and "#".
	uncomment := regexp.MustCompile(`(?m)^#( *(?:#|[a-z][a-z_]*:))`)
	name := filepath.Join(t.TempDir(), "uncommented.cfg")
	if err := os.WriteFile(name, uncomment.ReplaceAll(b, []byte("$1")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, src, err := config.Load(config.Options{Files: []string{name}})
	if err != nil {
		t.Fatalf("distkv.cfg with every key uncommented: %v", err)
	}
	if got, want := cfg.YAML(), config.Default().YAML(); got != want {
		t.Errorf("distkv.cfg uncommented is not the defaults:\n%s\nwant\n%s", got, want)
	}
	for _, k := range config.Keys() {
		if _, ok := src.Origin(k.Name); !ok {
			t.Errorf("distkv.cfg does not list %s", k.Name)
		}
	}
}
