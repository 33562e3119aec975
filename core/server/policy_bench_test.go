package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// BenchmarkPolicy is get_value and set_value through the gate (the
// built-in policy), inline as the reader goroutine runs them, as root and
// as a user bound to an ACL of 20 rules. The target: the user at most 10%
// slower than root.
func BenchmarkPolicy(b *testing.B) {
	s, set := benchPolicyServer(b)
	p := path.P("app.data.some.key")
	set(p, int64(1))
	for _, who := range []*Session{rootSession, {Method: "_test", User: "joe"}} {
		name := "root"
		if who.User != "" {
			name = "acl20"
		}
		for _, action := range []string{"get_value", "set_value"} {
			b.Run(action+"/"+name, func(b *testing.B) {
				srv, cli := net.Pipe()
				b.Cleanup(func() { srv.Close(); cli.Close() })
				c := newConn(s, srv)
				c.sess = who
				m := pack.Map{{Key: "seq", Value: int64(5)}, {Key: "action", Value: action}, {Key: "path", Value: p}}
				if action == "set_value" {
					m = append(m, pack.KV{Key: "value", Value: int64(2)})
				}
				msg, _ := value.Encode(m)
				var r wire.Request
				if err := wire.DecodeRequest(msg, &r); err != nil {
					b.Fatal(err)
				}
				c.handle(&r)
				if rep, err := value.Decode(c.out); err != nil || len(rep.(pack.Map)) == 0 || rep.(pack.Map)[1].Key == "error" {
					b.Fatalf("%s as %s: %v %v", action, name, rep, err)
				}
				c.out = c.out[:0]
				b.ReportAllocs()
				for b.Loop() {
					if err := wire.DecodeRequest(msg, &r); err != nil {
						b.Fatal(err)
					}
					c.handle(&r)
					c.out = c.out[:0]
				}
			})
		}
	}
}

// BenchmarkPolicyGrant is one decision of the built-in policy, as root
// and as a user bound to an ACL of 20 rules: what a request pays for its
// ACL on top of root's.
func BenchmarkPolicyGrant(b *testing.B) {
	s, _ := benchPolicyServer(b)
	p := path.P("app.data.some.key")
	for name, who := range map[string]*Session{"root": rootSession, "acl20": {Method: "_test", User: "joe"}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.grant(who, "get_value", p).Allow&ModeRead == 0 {
					b.Fatal("refused")
				}
			}
		})
	}
}

// benchPolicyServer is a server whose _test user joe is bound to an ACL
// of 20 rules, wildcards and literals on the way to app.data; set stores
// a value at an absolute path.
func benchPolicyServer(b *testing.B) (*Server, func(path.Path, any)) {
	s, err := New(Config{Node: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	set := func(p path.Path, v any) {
		raw, _ := value.Encode(v)
		if _, err := s.tree.Set(p, string(raw), tree.Cond{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 16 {
		set(aclRoot.Join(path.P(fmt.Sprintf("bench.app.n%d.#", i))), "rwc")
	}
	set(aclRoot.Join(path.P("bench.app.+.x")), "r")
	set(aclRoot.Join(path.P("bench.+.data.#")), "rwcd")
	set(aclRoot.Join(path.P("bench.app.data.#")), "rwc")
	set(aclRoot.Join(path.P("bench.#")), "r")
	set(authRoot.Join(path.P("_test.user.joe")), pack.Map{{Key: "_aux", Value: pack.Map{{Key: "acl", Value: "bench"}}}})
	return s, set
}
