package server

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// FuzzLoginRequests: whatever a client sends before it logged in (key
// exchanges, logins, user changes, anything else), it does not get a
// session and changes nothing, and the server does not panic.
func FuzzLoginRequests(f *testing.F) {
	auth.DefaultParams = auth.Params{Time: 1, Memory: 64, Threads: 1}
	enc := func(kv ...any) []byte {
		var m pack.Map
		for i := 0; i < len(kv); i += 2 {
			m = append(m, pack.KV{Key: kv[i], Value: kv[i+1]})
		}
		b, err := value.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	d, _ := auth.NewDH(auth.DHLength)
	f.Add(enc("seq", 1, "action", "diffie_hellman", "pubkey", d.Pub, "length", 1024))
	f.Add(append(enc("seq", 1, "action", "diffie_hellman", "pubkey", d.Pub),
		enc("seq", 2, "action", "auth", "typ", "password", "ident", "joe", "password", make([]byte, 72))...))
	f.Add(enc("seq", 1, "action", "auth", "typ", "_test", "ident", "joe"))
	f.Add(enc("seq", 1, "action", "auth", "typ", "password", "ident", "joe"))
	f.Add(enc("seq", 1, "action", "auth_set", "typ", "password", "ident", "eve", "aux", nil))
	f.Add(enc("seq", 1, "action", "set_auth_typ", "typ", nil))
	f.Add(enc("seq", 1, "action", "set_internal", "path", path.Must("auth"), "value", 1))
	f.Add(enc("seq", 1, "action", "diffie_hellman", "pubkey", []byte{1}, "length", 16))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := New(Config{Node: "t", TickFloor: func() uint64 { return 0 }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.throttle = &auth.Throttle{MaxUsers: 16} // no waiting
		h, _ := auth.NewHash(auth.Digest("secret1"))
		rec, _ := pack.Append(nil, auth.SetFields(pack.Map{{Key: "_aux", Value: nil}}, h.Fields()))
		s.tree.Set(userPath(auth.Password, "joe"), string(rec), tree.Cond{})
		cur, _ := pack.Append(nil, pack.Map{{Key: "current", Value: auth.Password}})
		s.tree.Set(authRoot, string(cur), tree.Cond{})
		_, tock := s.tree.Ticks()

		srv, cli := net.Pipe()
		defer cli.Close()
		defer srv.Close()
		c := newConn(s, srv)
		r := pack.NewReader(in)
		for r.Len() > 0 {
			msg, err := r.Raw()
			if err != nil {
				break
			}
			var req wire.Request
			if wire.DecodeRequest(msg, &req) == nil {
				req.Own()
				c.handle(&req)
			}
		}
		if c.sess != rootSession {
			t.Fatalf("got a session: %+v", c.sess)
		}
		if _, now := s.tree.Ticks(); now != tock {
			t.Fatalf("the tree changed (tock %d → %d)", tock, now)
		}
	})
}
