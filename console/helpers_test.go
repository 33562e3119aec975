package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/console"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/internal/testserver"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is a server, a root client (usable until logins are switched on),
// and a console of the server behind an httptest server.
type env struct {
	t    testing.TB
	s    *server.Server
	root *client.Client
	con  *console.Console
	http *httptest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := testserver.Start(t, server.Config{Node: "one"})
	e := &env{t: t, s: s, root: testserver.Connect(t, s, "")}
	e.con = console.New(console.Config{Open: open(s), LoginsOn: func() bool { return s.AuthMethod() != "" }, Node: s.Node()})
	e.http = httptest.NewServer(e.con)
	t.Cleanup(func() {
		// The console first: it ends the event streams, which the HTTP
		// server's Close would wait for.
		e.con.Close()
		e.http.Close()
	})
	return e
}

// open is Config.Open as the server wires it: a client of s logged in
// with the server's current method, a password one (password?=Label with
// a Prompt, as the CLI asks) or _test (name only).
func open(s *server.Server) func(ctx context.Context, name, password string) (*client.Client, error) {
	return func(ctx context.Context, name, password string) (*client.Client, error) {
		cfg := client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port}
		switch s.AuthMethod() {
		case "password":
			cfg.Auth = "password name=" + name + " password?=Password"
			cfg.Prompt = func(string) (string, error) { return password, nil }
		case "_test":
			cfg.Auth = "_test name=" + name
		}
		return client.Open(ctx, cfg)
	}
}

// as opens a client logged in as name, with the server's method.
func (e *env) as(name, password string) *client.Client {
	e.t.Helper()
	c, err := open(e.s)(ctxT(e.t), name, password)
	if err != nil {
		e.t.Fatalf("log in as %s: %v", name, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// addUser adds a user of method (password: with a password) bound to acl
// ("" none).
func (e *env) addUser(method, name, password, acl string) {
	e.t.Helper()
	ctx := ctxT(e.t)
	args := client.Args{{Key: "typ", Value: method}, {Key: "kind", Value: "user"}, {Key: "ident", Value: name}}
	if password != "" {
		sealed, err := e.root.SealPassword(ctx, password)
		if err != nil {
			e.t.Fatal(err)
		}
		args = append(args, pack.KV{Key: "password", Value: sealed})
	}
	if _, err := e.root.Request(ctx, wire.AuthSet, args); err != nil {
		e.t.Fatalf("add user %s: %v", name, err)
	}
	if acl != "" {
		e.setSys(path.Must("auth", method, "user", name, "acl"), pack.Map{{Key: "key", Value: acl}})
	}
}

func (e *env) setSys(p path.Path, v any) {
	e.t.Helper()
	if _, err := e.root.Request(ctxT(e.t), wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: v}}); err != nil {
		e.t.Fatalf("set_internal %v: %v", p, err)
	}
}

// rule adds a rule to an ACL: modes at pattern.
func (e *env) rule(acl, pattern, modes string) {
	e.t.Helper()
	e.setSys(path.Must("acl", acl).Join(path.P(pattern)), modes)
}

func (e *env) loginsOn(method string) {
	e.t.Helper()
	if _, err := e.root.Request(ctxT(e.t), wire.SetAuthTyp, client.Args{{Key: "typ", Value: method}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) set(p string, v any) client.Result {
	e.t.Helper()
	r, err := e.root.Set(ctxT(e.t), path.P(p), v)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// browser is an HTTP client with its own cookies, as a browser is.
type browser struct {
	t   testing.TB
	e   *env
	c   *http.Client
	csr bool // send the page's header and JSON (false: act as another site's form)
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, csr: true}
}

// do sends a request; body, if not nil, is JSON-encoded (a string is
// sent as it is). It returns the status and the decoded JSON reply.
func (b *browser) do(method, target string, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		buf, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.e.http.URL+target, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if b.csr && method != http.MethodGet {
		req.Header.Set("X-DistKV", "1")
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			b.t.Fatalf("%s %s: reply is not JSON: %v: %s", method, target, err, raw)
		}
	}
	return res.StatusCode, out
}

// must sends a request that must answer want.
func (b *browser) must(want int, method, target string, body any) map[string]any {
	b.t.Helper()
	st, out := b.do(method, target, body)
	if st != want {
		b.t.Fatalf("%s %s: status %d, want %d: %v", method, target, st, want, out)
	}
	return out
}

func q(p string) string { return url.QueryEscape(p) }

// names returns the names of a tree page's children.
func names(page map[string]any) []string {
	var out []string
	for _, c := range page["children"].([]any) {
		out = append(out, c.(map[string]any)["name"].(string))
	}
	return out
}
