package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// Logins and ACLs in a run (issue 13).
//
// --acl N: before the measured run the tool, as root, writes ACL
// aclName of N rules, a _test user aclName bound to it, a _test user
// "root" bound to none, and switches logins on (_test). Every connection
// of the workload then logs in as aclName, so each request is decided by
// the ACL; the prefill logs in as root.
//
// -w login: N logins, one after another, each on a new connection:
// greeting, diffie_hellman, auth with the sealed password, as core/client
// logs in.

const (
	aclName  = "bench" // the ACL and the _test user bound to it
	rootUser = "root"  // the _test user bound to no ACL
)

// defaultLogin is the user -w login creates on a server the tool starts.
const defaultLogin = "password name=bench password=bench-password"

// defaultLogins is -n of -w login.
const defaultLogins = 200

// aclModes returns the modes the workload's requests need.
func aclModes(workload string) string {
	switch workload {
	case "get":
		return "r"
	case "set":
		return "wc"
	}
	return "rwc" // mixed
}

// aclRules returns the n rules of the benchmark's ACL for keys below
// prefix: n-1 that never decide for a key (other prefixes, literal and
// wildcard, and one deeper below the prefix) but sit in the trie the
// matcher walks, and last the one that grants modes below the prefix.
func aclRules(prefix path.Path, n int, modes string) []ruleSpec {
	rules := make([]ruleSpec, 0, n)
	plus, hash := path.Must("+"), path.Must("#")
	if n > 1 {
		// Deeper than a key: as specific as can be, but for paths of
		// one more element only.
		rules = append(rules, ruleSpec{prefix.Join(plus).Child(path.Str("sub")), "r"})
	}
	for i := 0; len(rules) < n-1; i++ {
		other := fmt.Sprintf("other%d", i)
		var p path.Path
		switch i % 4 {
		case 0: // a literal path elsewhere
			p = path.Must(other, "x", "y")
		case 1: // a literal start, one element, a literal
			p = path.Must(other, "+", "z")
		case 2: // a whole other subtree
			p = path.Must(other, "#")
		case 3: // a wildcard start: walked for every key, matched by none
			p = path.Must("+", other)
		}
		rules = append(rules, ruleSpec{p, "rwc"})
	}
	return append(rules, ruleSpec{prefix.Join(hash), modes})
}

// ruleSpec is one rule: a pattern and its modes.
type ruleSpec struct {
	pattern path.Path
	modes   string
}

// benchUser says how the _test user aclName, whom every connection of
// the workload logs in as, is bound.
type benchUser struct {
	acl   int    // the rules of ACL aclName, which the user is bound to; 0: none
	modes string // what the ACL grants below the prefix
	codec string // the convert list the user is bound to (--codec); "": none
}

// flags names the flags that asked for the user, for errors.
func (u benchUser) flags() string {
	var f []string
	if u.acl > 0 {
		f = append(f, "--acl")
	}
	if u.codec != "" {
		f = append(f, "--codec")
	}
	return strings.Join(f, ", ")
}

// setupLogins writes the ACL (if any), the two users and switches logins
// on (_test), as root: logged in as rootUser if logins are on already (a
// --host server set up before). Rules of an earlier setup with more
// rules stay; they decide nothing for the keys either.
func setupLogins(ctx context.Context, addr string, prefix path.Path, u benchUser) error {
	return asRoot(ctx, addr, u.flags(), func(c *ctlConn) error {
		if u.acl > 0 {
			for _, r := range aclRules(prefix, u.acl, u.modes) {
				if err := c.setInternal(ctx, path.Must("acl", aclName).Join(r.pattern), r.modes); err != nil {
					return fmt.Errorf("rule %v: %w", r.pattern, err)
				}
			}
		}
		var aux pack.Map
		if u.acl > 0 {
			aux = append(aux, pack.KV{Key: "acl", Value: aclName})
		}
		if u.codec != "" {
			aux = append(aux, pack.KV{Key: "codec", Value: u.codec})
		}
		for _, user := range []struct {
			name string
			aux  pack.Map
		}{{aclName, aux}, {rootUser, nil}} {
			if _, err := c.call(ctx, wire.AuthSet, func(m *wire.Msg) {
				m.Str("typ", auth.Test)
				m.Str("kind", "user")
				m.Str("ident", user.name)
				if user.aux != nil {
					m.Key("aux")
					m.B, _ = pack.Append(m.B, user.aux)
				}
			}); err != nil {
				return fmt.Errorf("user %s: %w", user.name, err)
			}
		}
		if _, err := c.call(ctx, wire.SetAuthTyp, func(m *wire.Msg) { m.Str("typ", auth.Test) }); err != nil {
			return fmt.Errorf("switching logins on: %w", err)
		}
		return nil
	})
}

// hello reads the greeting and returns the current login method ("":
// logins are off). Call it first on a new connection.
func (c *ctlConn) hello(ctx context.Context) (string, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Now()) })
	defer stop()
	msg, err := c.fr.Next()
	if err != nil {
		return "", fmt.Errorf("greeting of %s: %w", c.addr, err)
	}
	v, err := pack.Decode(msg)
	m, ok := v.(pack.Map)
	if err != nil || !ok {
		return "", fmt.Errorf("greeting of %s: not a map", c.addr)
	}
	a, _ := m.Get("auth")
	list, _ := a.([]any)
	if len(list) == 0 {
		return "", nil
	}
	cur, _ := list[0].(string)
	return cur, nil
}

// testLogin logs the connection in as a _test user.
func (c *ctlConn) testLogin(ctx context.Context, user string) error {
	_, err := c.call(ctx, wire.Auth, func(m *wire.Msg) {
		m.Str("typ", auth.Test)
		m.Str("ident", user)
	})
	if err != nil {
		return fmt.Errorf("log in as _test user %s: %w", user, err)
	}
	return nil
}

// passwordLogin makes the key exchange and logs in with the sealed
// password, as core/client does.
func (c *ctlConn) passwordLogin(ctx context.Context, l auth.Login) error {
	key, err := c.keyExchange(ctx)
	if err != nil {
		return err
	}
	sealed, err := auth.Seal(key, auth.Digest(l.Params["password"]))
	if err != nil {
		return err
	}
	_, err = c.call(ctx, wire.Auth, func(m *wire.Msg) {
		m.Str("typ", auth.Password)
		m.Str("ident", l.Name())
		m.Key("password")
		m.B = pack.AppendBytes(m.B, sealed)
	})
	if err != nil {
		return fmt.Errorf("log in as %s: %w", l.Name(), err)
	}
	return nil
}

// keyExchange agrees on the connection's key (diffie_hellman).
func (c *ctlConn) keyExchange(ctx context.Context) (*[32]byte, error) {
	d, err := auth.NewDH(auth.DHLength)
	if err != nil {
		return nil, err
	}
	msg, err := c.call(ctx, wire.DiffieHellman, func(m *wire.Msg) {
		m.Key("pubkey")
		m.B = pack.AppendBytes(m.B, d.Pub)
		m.Uint("length", auth.DHLength)
	})
	if err != nil {
		return nil, err
	}
	v, err := pack.Decode(msg)
	rep, _ := v.(pack.Map)
	pub, _ := rep.Get("pubkey")
	b, ok := pub.([]byte)
	if err != nil || !ok {
		return nil, fmt.Errorf("diffie_hellman on %s: the reply has no pubkey", c.addr)
	}
	return d.Key(b)
}

// parseLogin reads --auth for -w login: a password login with a name.
func parseLogin(spec string) (auth.Login, error) {
	l, err := auth.ParseLogin(spec, nil)
	if err != nil {
		return l, fmt.Errorf("--auth: %w", err)
	}
	if l.Method != auth.Password {
		return l, fmt.Errorf("--auth %q: -w login measures password logins: write \"password name=NAME password=…\"", strings.Fields(spec)[0])
	}
	return l, nil
}

// addPasswordUser adds (or changes) the password user of l and switches
// logins on, as root, on a server the tool started.
func addPasswordUser(ctx context.Context, addr string, l auth.Login) error {
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if cur, err := c.hello(ctx); err != nil {
		return err
	} else if cur != "" {
		return fmt.Errorf("the server at %s has logins on already (%s)", addr, cur)
	}
	key, err := c.keyExchange(ctx)
	if err != nil {
		return err
	}
	sealed, err := auth.Seal(key, auth.Digest(l.Params["password"]))
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, wire.AuthSet, func(m *wire.Msg) {
		m.Str("typ", auth.Password)
		m.Str("kind", "user")
		m.Str("ident", l.Name())
		m.Key("password")
		m.B = pack.AppendBytes(m.B, sealed)
	}); err != nil {
		return fmt.Errorf("add user %s: %w", l.Name(), err)
	}
	_, err = c.call(ctx, wire.SetAuthTyp, func(m *wire.Msg) { m.Str("typ", auth.Password) })
	return err
}

// logins runs -w login: n logins one after another, each on a new
// connection, timed from dialling to the login's reply.
func (b *bench) logins(ctx context.Context, res *Result) error {
	l, err := parseLogin(b.cli.Auth)
	if err != nil {
		return err
	}
	t, err := b.target(ctx)
	if err != nil {
		return err
	}
	defer t.close()
	if b.launch != nil {
		if err := addPasswordUser(ctx, t.addr, l); err != nil {
			return err
		}
	}
	n := b.cli.Requests
	if n <= 0 {
		n = defaultLogins
	}
	var h histogram
	before := sampleCPU(t.pid)
	for range n {
		t0 := time.Now()
		if err := loginOnce(ctx, t.addr, l); err != nil {
			return err
		}
		h.record(int64(time.Since(t0)))
	}
	after := sampleCPU(t.pid)
	res.ToolCores, res.ServerCores = cores(before, after)
	res.Ops = n
	res.Seconds = after.wall.Sub(before.wall).Seconds()
	res.PerSec = float64(n) / res.Seconds
	res.setLatency(&h)
	res.P90us = us(h.quantile(0.90))
	if after.server > 0 {
		res.ServerCPUPerLoginMs = float64(after.server-before.server) / float64(n) / 1e6
	}
	return nil
}

// loginOnce logs in on a new connection and hangs up.
func loginOnce(ctx context.Context, addr string, l auth.Login) error {
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	cur, err := c.hello(ctx)
	if err != nil {
		return err
	}
	if cur != "" && cur != auth.Password {
		return fmt.Errorf("the server at %s wants logins using %s, not password", addr, cur)
	}
	return c.passwordLogin(ctx, l)
}
