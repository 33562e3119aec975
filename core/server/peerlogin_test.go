package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
)

// TestPeerLogin: once logins are on, a server takes only peers that log
// in (connect.auth) as a user without an ACL; users replicate, so a user
// added on one server logs in on another.
func TestPeerLogin(t *testing.T) {
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	const login = "password name=joe password=test123"
	var rec recorder
	node := func(name, login string) *server.Server {
		g := gn.Node(name, nil)
		if name != "a" {
			if _, err := g.Join([]string{"a"}); err != nil {
				t.Fatal(err)
			}
		}
		s, err := server.New(server.Config{Node: name, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
			Cluster: &server.Cluster{Gossip: g, Root: ":test", Login: login, Dial: rec.dial,
				Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := node("a", login)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	root := connect(t, a)
	addUser(t, root, auth.Password, "joe", "test123", nil)
	addUser(t, root, auth.Password, "ann", "test456", map[string]any{"acl": "some"})
	if _, err := root.Set(ctx, path.P("x"), "secret"); err != nil {
		t.Fatal(err)
	}
	// A server without a login, connected while logins are off.
	early := node("early", "")
	if err := early.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := early.Start(); err != nil {
		t.Fatal(err)
	}
	if err := switchAuth(root, ctx, auth.Password); err != nil {
		t.Fatal(err)
	}
	// The switch dropped early's connections: it hears of no later change.
	if _, err := root.Set(ctx, path.P("y"), "later"); err == nil {
		t.Fatal("the anonymous connection still works")
	}
	joeA, err := connectAs(t, a, login)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := joeA.Set(ctx, path.P("y"), "later"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // 10 of a's check intervals
	if _, ok := early.Tree().Get(path.P("y")); ok {
		t.Fatal("a server without a login still gets changes after logins were switched on")
	}
	early.Close()

	for _, bad := range []struct{ name, login string }{
		{"nologin", ""},
		{"wrongpw", "password name=joe password=wrong12"},
		{"acluser", "password name=ann password=test456"},
		{"wrongmethod", "_test name=joe"},
	} {
		s := node(bad.name, bad.login)
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.Sync(sctx)
		cancel()
		if err == nil {
			t.Fatalf("%s: copied the network's data", bad.name)
		}
		if _, ok := s.Tree().Get(path.P("x")); ok {
			t.Fatalf("%s: holds an entry of the network", bad.name)
		}
		// Gone, or the next one would copy its (empty) data.
		s.Close()
	}

	b := node("b", login)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if it, ok := b.Tree().Get(path.P("x")); !ok || !it.HasValue {
		t.Fatal("b did not copy the data")
	}
	c, err := connectAs(t, b, login)
	if err != nil {
		t.Fatalf("the user added on a logs in on b: %v", err)
	}
	if _, err := c.Get(ctx, path.P("x")); err != nil {
		t.Fatal(err)
	}
	// What servers said to each other holds logins, but neither the
	// password nor its digest.
	seen := rec.bytes()
	if !bytes.Contains(seen, []byte("login")) || !bytes.Contains(seen, []byte("joe")) {
		t.Fatal("no peer login was recorded")
	}
	if bytes.Contains(seen, []byte("test123")) || bytes.Contains(seen, auth.Digest("test123")) {
		t.Fatal("a server's password crossed the wire")
	}
}

// recorder keeps what dialed peer connections send and receive.
type recorder struct {
	mu  sync.Mutex
	buf []byte
}

func (r *recorder) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, r: r}, nil
}

func (r *recorder) add(b []byte) {
	r.mu.Lock()
	r.buf = append(r.buf, b...)
	r.mu.Unlock()
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf)
}

type recConn struct {
	net.Conn
	r *recorder
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.r.add(b[:n])
	return n, err
}

func (c *recConn) Write(b []byte) (int, error) {
	c.r.add(b)
	return c.Conn.Write(b)
}
