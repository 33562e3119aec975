package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

func TestMain(m *testing.M) {
	// Logins in tests need not cost what they cost an attacker.
	auth.DefaultParams = auth.Params{Time: 1, Memory: 64, Threads: 1}
	os.Exit(m.Run())
}

// connectAs opens a client that logs in with spec.
func connectAs(t *testing.T, s *server.Server, spec string) (*client.Client, error) {
	t.Helper()
	c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port, Auth: spec})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// addUser adds a user through the protocol, as `auth user add` does.
func addUser(t *testing.T, c *client.Client, method, name, password string, aux any) {
	t.Helper()
	ctx := ctxT(t)
	args := client.Args{{Key: "typ", Value: method}, {Key: "kind", Value: "user"}, {Key: "ident", Value: name}}
	if password != "" {
		sealed, err := c.SealPassword(ctx, password)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, pack.KV{Key: "password", Value: sealed})
	}
	if aux != nil {
		args = append(args, pack.KV{Key: "aux", Value: aux})
	}
	if _, err := c.Request(ctx, wire.AuthSet, args); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
}

func switchAuth(c *client.Client, ctx context.Context, method any) error {
	_, err := c.Request(ctx, wire.SetAuthTyp, client.Args{{Key: "typ", Value: method}})
	return err
}

func TestPasswordLogin(t *testing.T) {
	s := startServer(t, server.Config{})
	root := connect(t, s)
	ctx := ctxT(t)
	if err := switchAuth(root, ctx, auth.Password); err == nil {
		t.Fatal("switched to a method without users")
	}
	addUser(t, root, auth.Password, "joe", "test123", nil)
	if err := switchAuth(root, ctx, auth.Password); err != nil {
		t.Fatal(err)
	}
	if s.AuthMethod() != auth.Password {
		t.Fatalf("current method %q", s.AuthMethod())
	}
	// The connection that switched has not logged in: it is locked out now.
	if _, err := root.Get(ctx, path.P("x")); !errors.Is(err, wire.ErrAuthRequired) {
		t.Fatalf("anonymous get after the switch: %v", err)
	}

	var are *client.AuthRequiredError
	if _, err := connectAs(t, s, ""); !errors.As(err, &are) || are.Error() != "You need to log in using: password" {
		t.Fatalf("no login: %v", err)
	}
	if _, err := connectAs(t, s, "_test name=joe"); !errors.As(err, &are) {
		t.Fatalf("wrong method: %v", err)
	}
	_, errPw := connectAs(t, s, "password name=joe password=wrong1")
	_, errUser := connectAs(t, s, "password name=ann password=test123")
	if !errors.Is(errPw, wire.ErrLogin) || !errors.Is(errUser, wire.ErrLogin) {
		t.Fatalf("wrong password: %v; unknown user: %v", errPw, errUser)
	}
	var se1, se2 *wire.ServerError
	if !errors.As(errPw, &se1) || !errors.As(errUser, &se2) || se1.Msg != se2.Msg {
		t.Fatalf("the errors tell which was wrong: %q vs %q", errPw, errUser)
	}
	joe, err := connectAs(t, s, "password name=joe password=test123")
	if err != nil {
		t.Fatal(err)
	}
	if g := joe.Greeting(); g.Auth != auth.Password {
		t.Fatalf("greeting auth %q", g.Auth)
	}
	if _, err := joe.Set(ctx, path.P("x"), 1); err != nil {
		t.Fatal(err)
	}

	// The stored record holds an argon2id hash, not the password or the
	// digest the client sends.
	it, ok := s.Tree().Get(path.Must(nil, "auth", "password", "user", "joe"))
	if !ok {
		t.Fatal("no user record")
	}
	if bytes.Contains([]byte(it.Value), []byte("test123")) || bytes.Contains([]byte(it.Value), auth.Digest("test123")) {
		t.Fatal("the user record holds the password")
	}
	if _, err := joe.Request(ctx, wire.DiffieHellman, client.Args{{Key: "pubkey", Value: []byte{5}}}); err == nil {
		t.Fatal("a second key exchange was accepted")
	}
	// A user changes its password; the old one stops working.
	addUser(t, joe, auth.Password, "joe", "other123", nil)
	if _, err := connectAs(t, s, "password name=joe password=test123"); !errors.Is(err, wire.ErrLogin) {
		t.Fatalf("old password after a change: %v", err)
	}
	if _, err := connectAs(t, s, "password name=joe password=other123"); err != nil {
		t.Fatal(err)
	}
	// Logins off again: anonymous clients have root's rights.
	if err := switchAuth(joe, ctx, nil); err != nil {
		t.Fatal(err)
	}
	anon := connect(t, s)
	if _, err := anon.Get(ctx, path.P("x")); err != nil {
		t.Fatal(err)
	}
}

func TestTestLogin(t *testing.T) {
	s := startServer(t, server.Config{})
	root := connect(t, s)
	ctx := ctxT(t)
	addUser(t, root, auth.Test, "joe", "", nil)
	if err := switchAuth(root, ctx, auth.Test); err != nil {
		t.Fatal(err)
	}
	if _, err := connectAs(t, s, "_test name=ann"); !errors.Is(err, wire.ErrLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	c, err := connectAs(t, s, "_test name=joe")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Request(ctx, wire.AuthGet, client.Args{{Key: "typ", Value: auth.Test}, {Key: "ident", Value: "joe"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = rep
}

// TestPlainRecordUpgrade: a user record as the original stores it
// (sha256 of the password) logs in once and is re-hashed.
func TestPlainRecordUpgrade(t *testing.T) {
	s := startServer(t, server.Config{})
	root := connect(t, s)
	ctx := ctxT(t)
	p := path.Must("auth", "password", "user", "joe")
	rec := pack.Map{{Key: "_aux", Value: nil}, {Key: "password", Value: auth.Digest("test123")}}
	if _, err := root.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: rec}}); err != nil {
		t.Fatal(err)
	}
	if err := switchAuth(root, ctx, auth.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := connectAs(t, s, "password name=joe password=test123"); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Tree().Get(path.Must(nil).Join(p))
	v, _ := pack.Decode([]byte(it.Value))
	if _, ok := v.(pack.Map).Get("argon2id"); !ok {
		t.Fatal("the plain record was not re-hashed")
	}
	if _, err := connectAs(t, s, "password name=joe password=test123"); err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
}

// recordingProxy forwards one TCP connection at a time to target and
// keeps every byte both ways.
func recordingProxy(t *testing.T, target string) (addr string, seen func() []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var rec []byte
	copyRec := func(dst, src net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				rec = append(rec, buf[:n]...)
				mu.Unlock()
				dst.Write(buf[:n])
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go copyRec(s, c)
			go copyRec(c, s)
		}
	}()
	return ln.Addr().String(), func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(rec)
	}
}

// TestLoginOnTheWire: what an eavesdropper records of adding a user and
// logging in holds neither the password nor the digest that stands for
// it.
func TestLoginOnTheWire(t *testing.T) {
	s := startServer(t, server.Config{})
	addr, seen := recordingProxy(t, s.Addr().String())
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	open := func(spec string) *client.Client {
		c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: p, Auth: spec})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	root := open("")
	addUser(t, root, auth.Password, "joe", "sesame99", nil)
	if err := switchAuth(root, ctxT(t), auth.Password); err != nil {
		t.Fatal(err)
	}
	joe := open("password name=joe password=sesame99")
	if _, err := joe.Get(ctxT(t), path.P("x")); err != nil {
		t.Fatal(err)
	}
	rec := seen()
	if !bytes.Contains(rec, []byte("diffie_hellman")) || !bytes.Contains(rec, []byte("joe")) {
		t.Fatal("the proxy recorded no login")
	}
	for what, secret := range map[string][]byte{"password": []byte("sesame99"), "digest": auth.Digest("sesame99")} {
		if bytes.Contains(rec, secret) {
			t.Errorf("the %s crossed the wire", what)
		}
	}
}

// TestNoLockout: the system tree's own actions cannot do what the user
// actions refuse: switch logins to a method without users, or delete the
// last user of the current method.
func TestNoLockout(t *testing.T) {
	s := startServer(t, server.Config{})
	root := connect(t, s)
	ctx := ctxT(t)
	setInternal := func(c *client.Client, p path.Path, v any) error {
		_, err := c.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: v}})
		return err
	}
	deleteInternal := func(c *client.Client, p path.Path) error {
		_, err := c.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: p}})
		return err
	}
	if err := setInternal(root, path.P("auth"), pack.Map{{Key: "current", Value: "_test"}}); err == nil {
		t.Fatal("set_internal switched logins to a method without users")
	}
	if err := setInternal(root, path.P("auth"), pack.Map{{Key: "current", Value: "kerberos"}}); err == nil {
		t.Fatal("set_internal switched logins to an unknown method")
	}
	addUser(t, root, auth.Test, "joe", "", nil)
	addUser(t, root, auth.Test, "ann", "", nil)
	if err := setInternal(root, path.P("auth"), pack.Map{{Key: "current", Value: "_test"}}); err != nil {
		t.Fatal(err)
	}
	joe, err := connectAs(t, s, "_test name=joe")
	if err != nil {
		t.Fatal(err)
	}
	if err := deleteInternal(joe, path.P("auth._test.user.ann")); err != nil {
		t.Fatal(err)
	}
	if err := deleteInternal(joe, path.P("auth._test.user.joe")); err == nil {
		t.Fatal("deleted the last user of the current method")
	}
	if s.AuthMethod() != auth.Test {
		t.Fatal("logins are off")
	}
	if err := deleteInternal(joe, path.P("auth")); err != nil {
		t.Fatalf("turning logins off: %v", err)
	}
	if s.AuthMethod() != "" {
		t.Fatal("logins are still on")
	}
}

// TestPipe: an in-process connection (the web console's) passes the same
// gate as one through the listener: no login, no entry.
func TestPipe(t *testing.T) {
	s := startServer(t, server.Config{})
	root := connect(t, s)
	ctx := ctxT(t)
	addUser(t, root, auth.Password, "joe", "test123", nil)
	if _, err := root.Set(ctx, path.P("x"), "by root"); err != nil {
		t.Fatal(err)
	}
	if err := switchAuth(root, ctx, auth.Password); err != nil {
		t.Fatal(err)
	}
	open := func(spec string) (*client.Client, error) {
		c, err := client.Open(ctx, client.Config{Auth: spec, Dial: func(context.Context) (net.Conn, error) { return s.Pipe() }})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	var are *client.AuthRequiredError
	if _, err := open(""); !errors.As(err, &are) {
		t.Fatalf("no login through a pipe: %v", err)
	}
	if _, err := open("password name=joe password=wrong1"); !errors.Is(err, wire.ErrLogin) {
		t.Fatalf("a wrong password through a pipe: %v", err)
	}
	joe, err := open("password name=joe password=test123")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := joe.Get(ctx, path.P("x")); err != nil || !e.HasValue {
		t.Fatalf("get through a pipe: %v %v", e, err)
	}
	s.Close()
	if _, err := s.Pipe(); err == nil {
		t.Fatal("a pipe to a closed server")
	}
}
