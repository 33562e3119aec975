// Package deps_test enforces the import rules of DESIGN.md.
package deps_test

import (
	"encoding/json"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const mod = "github.com/distkv-go/distkv/"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string // every package it imports, directly or not
}

func packages(t *testing.T) []pkg {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	// The leaves of core: what each may import of ours.
	leaves := map[string][]string{
		"core/pack":    {},
		"core/literal": {"core/pack"},
		"core/chain":   {},
		"core/path":    {"core/pack", "core/literal"},
		"core/value":   {"core/pack", "core/literal", "core/path"},
		"core/config":  {},
		"core/tlsconf": {},
		"core/latency": {},
		"core/persist": {"core/latency"},
		"core/change":  {"core/chain", "core/path"},
		"luart":        {"core/pack", "core/path"},
	}
	// What a client (the CLI's client side, runners) links must not
	// hold the server: these may not depend on it, not even indirectly.
	serverSide := []string{"core/tree", "core/server", "core/replica", "core/persist", "core/gossip"}
	// The web console works through a client, as any client: the same
	// request gate, users and ACLs, never the server's tree.
	clientSide := []string{"core/client", "core/wire", "core/change", "console"}
	for _, p := range packages(t) {
		name := strings.TrimPrefix(p.ImportPath, mod)
		if base := path.Base(name); base == "util" || base == "common" {
			t.Errorf("%s: no package named %s", name, base)
		}
		if contains(clientSide, name) {
			for _, dep := range p.Deps {
				if rel := strings.TrimPrefix(dep, mod); rel != dep && contains(serverSide, rel) {
					t.Errorf("%s depends on %s: a client must build without the server's packages", name, rel)
				}
			}
		}
		for _, imp := range p.Imports {
			ours := strings.HasPrefix(imp, mod)
			rel := strings.TrimPrefix(imp, mod)
			if allowed, isLeaf := leaves[name]; isLeaf && ours && !contains(allowed, rel) {
				t.Errorf("%s imports %s; it may import only %v of ours", name, rel, allowed)
			}
			if strings.HasPrefix(name, "core/") && ours {
				for _, top := range []string{"luart", "types", "codecs", "runner", "errlog"} {
					if rel == top || strings.HasPrefix(rel, top+"/") {
						t.Errorf("%s imports %s: core must not depend on user code", name, rel)
					}
				}
			}
			if strings.HasPrefix(imp, "github.com/hashicorp/serf") && name != "core/gossip" && !strings.HasPrefix(name, "core/gossip/") {
				t.Errorf("%s imports serf; only core/gossip may", name)
			}
			if strings.HasPrefix(imp, "github.com/prometheus/") && name != "metrics" {
				t.Errorf("%s imports %s; only metrics may import Prometheus (core keeps plain counters)", name, imp)
			}
			if strings.HasPrefix(imp, "github.com/yuin/gopher-lua") && name != "luart" && !strings.HasPrefix(name, "luart/") {
				t.Errorf("%s imports gopher-lua; only luart may", name)
			}
			if (strings.HasPrefix(name, "runner") || name == "errlog") && (rel == "core/tree" || rel == "core/server") {
				t.Errorf("%s imports %s: it talks to servers through core/client", name, rel)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
