package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/path"
)

// TestACLRules: n rules, all different, and for a key only the last one
// (the grant) decides; the others are there for the matcher to walk.
func TestACLRules(t *testing.T) {
	prefix := path.P("bench")
	key := prefix.Child(path.Str("0000012345"))
	for _, n := range []int{1, 2, 5, 20} {
		rules := aclRules(prefix, n, "rwc")
		if len(rules) != n {
			t.Fatalf("n=%d: %d rules", n, len(rules))
		}
		seen := map[string]bool{}
		var compiled []acl.Rule
		for _, r := range rules {
			if seen[r.pattern.String()] {
				t.Errorf("n=%d: rule %v twice", n, r.pattern)
			}
			seen[r.pattern.String()] = true
			m, err := acl.ParseModes(r.modes)
			if err != nil {
				t.Fatal(err)
			}
			compiled = append(compiled, acl.Rule{Pattern: r.pattern, Modes: m})
		}
		a, err := acl.Compile(compiled)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if i, ok := a.MatchIndex(key); !ok || i != n-1 {
			t.Errorf("n=%d: rule %d decides for %v, want the last (%d)", n, i, key, n-1)
		}
		if n >= 5 && !strings.Contains(fmt.Sprint(rules), "+") {
			t.Errorf("n=%d: no wildcard rule: %v", n, rules)
		}
	}
}

// TestSetupLogins: after the setup, a connection logged in as the bound
// user may do what the workload needs below the prefix and nothing
// elsewhere; one without a login may do nothing; root may do all.
func TestSetupLogins(t *testing.T) {
	s := startServer(t)
	addr := s.Addr().String()
	ctx := ctxT(t)
	prefix := path.P("bench")
	if err := setupLogins(ctx, addr, prefix, benchUser{acl: 20, modes: aclModes("get")}); err != nil {
		t.Fatal(err)
	}
	// A second setup (a --host server used again) logs in as root first.
	if err := setupLogins(ctx, addr, prefix, benchUser{acl: 20, modes: aclModes("set")}); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	conn := func(user string) *ctlConn {
		c, err := dialCtl(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cur, err := c.hello(ctx)
		if err != nil || cur != auth.Test {
			t.Fatalf("greeting: method %q, %v; want _test", cur, err)
		}
		if user != "" {
			if err := c.testLogin(ctx, user); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	key := prefix.Child(path.Str("0000000001"))
	user := conn(aclName)
	if err := user.setValue(ctx, key, "v"); err != nil {
		t.Errorf("set as %s: %v", aclName, err)
	}
	if err := user.setValue(ctx, path.P("elsewhere"), "v"); !isAccess(err) {
		t.Errorf("set elsewhere as %s: %v, want an access error", aclName, err)
	}
	if _, err := user.value(ctx, key); !isAccess(err) {
		t.Errorf("get as %s with modes wc: %v, want an access error", aclName, err)
	}
	root := conn(rootUser)
	if err := root.setValue(ctx, path.P("elsewhere"), "v"); err != nil {
		t.Errorf("set as root: %v", err)
	}
	if _, err := conn("").value(ctx, key); err == nil || !strings.Contains(err.Error(), "log in") {
		t.Errorf("get without a login: %v, want a refusal", err)
	}
}

// isAccess tells an access refusal by its text (ctlConn's errors carry
// the server's message, not its type).
func isAccess(err error) bool { return err != nil && strings.Contains(err.Error(), "access denied") }
