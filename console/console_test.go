package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/console"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/internal/testserver"
)

// format is a literal as the CLI prints it.
func format(t *testing.T, lit string) string {
	v, err := literal.Parse(lit)
	if err != nil {
		t.Fatal(err)
	}
	return literal.Format(v)
}

func TestLoginsOff(t *testing.T) {
	e := newEnv(t)
	e.set("a.b", int64(1))
	b := e.browser()
	s := b.must(200, "GET", "/api/session", nil)
	if s["loginsOn"] != false || s["loggedIn"] != true || s["node"] != "one" {
		t.Fatalf("session: %v", s)
	}
	page := b.must(200, "GET", "/api/tree?path=a", nil)
	if got := names(page); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("children of a: %v", got)
	}
	if v := page["children"].([]any)[0].(map[string]any)["value"]; v != "1" {
		t.Fatalf("value of a.b: %v", v)
	}
}

func TestHeaders(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := res.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy: %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options: %q", h.Get("X-Content-Type-Options"))
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type: %q", h.Get("Content-Type"))
	}
	for _, f := range []string{"/static/app.js", "/static/app.css"} {
		res, err := http.Get(e.http.URL + f)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", f, res.StatusCode)
		}
	}
}

// A password login: wrong passwords get the server's error, the session
// cookie is HttpOnly and SameSite=Strict, logout ends the session.
func TestPasswordLogin(t *testing.T) {
	e := newEnv(t)
	e.set("pub.x", "hello")
	e.addUser("password", "joe", "s3cret", "")
	e.loginsOn("password")
	b := e.browser()
	s := b.must(200, "GET", "/api/session", nil)
	if s["loginsOn"] != true || s["loggedIn"] != false {
		t.Fatalf("session: %v", s)
	}
	out := b.must(401, "GET", "/api/tree?path=pub", nil)
	if out["login"] != true {
		t.Fatalf("before login: %v", out)
	}
	out = b.must(401, "POST", "/api/login", map[string]string{"name": "joe", "password": "wrong"})
	if msg, _ := out["error"].(string); !strings.Contains(msg, "login failed") || strings.Contains(msg, "goroutine") {
		t.Fatalf("wrong password: %v", out)
	}
	st, err := http.NewRequest("POST", e.http.URL+"/api/login", strings.NewReader(`{"name":"joe","password":"s3cret"}`))
	if err != nil {
		t.Fatal(err)
	}
	st.Header.Set("X-DistKV", "1")
	st.Header.Set("Content-Type", "application/json")
	res, err := b.c.Do(st)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	ck := res.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || len(ck[0].Value) < 43 {
		t.Fatalf("cookie: %+v", ck)
	}
	page := b.must(200, "GET", "/api/tree?path=pub", nil)
	if got := names(page); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("children: %v", got)
	}
	b.must(200, "POST", "/api/logout", map[string]any{})
	b.must(401, "GET", "/api/tree?path=pub", nil)
}

// A user bound to an ACL sees only what it allows, and cannot change
// what it may only read.
func TestACL(t *testing.T) {
	e := newEnv(t)
	e.set("pub.x", "hello")
	e.set("pub.secret", "hidden")
	e.set("priv.y", int64(2))
	e.addUser("_test", "ann", "", "ro")
	e.rule("ro", "pub", "xe")
	e.rule("ro", "pub.x", "rxe")
	e.loginsOn("_test")
	b := e.browser()
	b.must(200, "POST", "/api/login", map[string]string{"name": "ann"})
	page := b.must(200, "GET", "/api/tree?path=pub", nil)
	if got := names(page); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("ann's children of pub: %v", got)
	}
	if ent := page["entry"].(map[string]any); ent["forbidden"] != true {
		t.Fatalf("pub itself, unreadable: %v", ent)
	}
	// The watch of a node the user may not read runs (for its children).
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/watch?path=pub", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && sc.Text() != "event: ready" {
		if strings.HasPrefix(sc.Text(), "event: ") {
			t.Fatalf("watch of pub: %s", sc.Text())
		}
	}
	if sc.Text() != "event: ready" {
		t.Fatalf("watch of pub: %d, no ready event", res.StatusCode)
	}
	ent := b.must(200, "GET", "/api/entry?path=pub.x", nil)
	out := b.must(403, "PUT", "/api/entry", map[string]any{"path": "pub.x", "value": `"changed"`, "chain": ent["chain"]})
	if !strings.Contains(out["error"].(string), "access") {
		t.Fatalf("write without w: %v", out)
	}
}

// Edit and delete take the chain as read; a change made meanwhile is a
// conflict, answered with the current value.
func TestEditConflict(t *testing.T) {
	e := newEnv(t)
	e.set("k", int64(1))
	b := e.browser()
	ent := b.must(200, "GET", "/api/entry?path=k", nil)
	if ent["value"] != "1" {
		t.Fatalf("entry: %v", ent)
	}
	done := b.must(200, "PUT", "/api/entry", map[string]any{"path": "k", "value": `{"a": [1, 2.5, b'x']}`, "chain": ent["chain"]})
	if want := format(t, `{"a": [1, 2.5, b'x']}`); done["value"] != want {
		t.Fatalf("saved value %v, want it as the CLI prints it: %s", done["value"], want)
	}
	e.set("k", "someone else's")
	out := b.must(409, "PUT", "/api/entry", map[string]any{"path": "k", "value": "3", "chain": done["chain"]})
	cur, _ := out["current"].(map[string]any)
	if out["conflict"] != true || cur["value"] != format(t, `"someone else's"`) {
		t.Fatalf("conflict: %v", out)
	}
	// A delete with the stale chain conflicts too; with the current one it goes.
	b.must(409, "DELETE", "/api/entry", map[string]any{"path": "k", "chain": done["chain"]})
	b.must(200, "DELETE", "/api/entry", map[string]any{"path": "k", "chain": cur["chain"]})
	if ent := b.must(200, "GET", "/api/entry?path=k", nil); ent["hasValue"] != false {
		t.Fatalf("after delete: %v", ent)
	}
	// An empty chain: the entry must be new.
	b.must(200, "PUT", "/api/entry", map[string]any{"path": "n", "value": "1", "chain": []any{}})
	b.must(409, "PUT", "/api/entry", map[string]any{"path": "n", "value": "2", "chain": []any{}})
}

// Bad input gets 400 and a message that says what, and the session goes on.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.set("k", int64(1))
	b := e.browser()
	for _, c := range []struct {
		method, target string
		body           any
		want           string
	}{
		{"GET", "/api/tree?path=a..b", nil, `path "a..b"`},
		{"GET", "/api/tree?path=a&limit=0", nil, "limit"},
		{"GET", "/api/tree?path=a&after=b.c", nil, "not a child"},
		{"GET", "/api/entry?path=:zz", nil, "path"},
		{"PUT", "/api/entry", `{"path": "k", "value": "[1,", "chain": []}`, "value"},
		{"PUT", "/api/entry", `{"path": "k", "value": "1", "chain": [{"node": "", "tick": 1}]}`, "chain"},
		{"PUT", "/api/entry", `{"path": "k"`, "not JSON"},
		{"PUT", "/api/entry", `{"path": "k", "value": 1}`, "value"},
		{"PUT", "/api/entry", `{"path": "k", "value": "1", "extra": 1}`, "extra"},
		{"PUT", "/api/entry", `{"path": "k"} {}`, "more than one"},
		{"PUT", "/api/entry", `{"path": ":", "value": "1"}`, "root"},
		{"DELETE", "/api/entry", `{"path": "k"}`, "chain"},
		{"POST", "/api/errors/resolve", `{"at": "a.b"}`, "not an error record"},
		{"PUT", "/api/entry", strings.Repeat(" ", 2<<20), "over"},
	} {
		st, out := b.do(c.method, c.target, c.body)
		msg, _ := out["error"].(string)
		if st != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s %.40v: %d %q, want 400 with %q", c.method, c.target, c.body, st, msg, c.want)
		}
	}
	b.must(404, "GET", "/api/nosuch", nil)
	b.must(200, "GET", "/api/entry?path=k", nil)
}

// Requests that change something need the page's header and JSON.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.set("k", int64(1))
	b := e.browser()
	ent := b.must(200, "GET", "/api/entry?path=k", nil)
	b.csr = false
	out := b.must(403, "PUT", "/api/entry", map[string]any{"path": "k", "value": "2", "chain": ent["chain"]})
	if !strings.Contains(out["error"].(string), "X-DistKV") {
		t.Fatalf("without header: %v", out)
	}
	req, _ := http.NewRequest("PUT", e.http.URL+"/api/entry", strings.NewReader(`{"path":"k","value":"2","chain":[]}`))
	req.Header.Set("X-DistKV", "1")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("other origin: %d", res.StatusCode)
	}
	b.csr = true
	if ent := b.must(200, "GET", "/api/entry?path=k", nil); ent["value"] != "1" {
		t.Fatalf("changed: %v", ent)
	}
}

// A node with many children comes a page at a time, in path order.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 250 {
		e.set(fmt.Sprintf("big.c%03d", i), int64(i))
	}
	b := e.browser()
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		target := "/api/tree?path=big&limit=100"
		if after != "" {
			target += "&after=" + q(after)
		}
		page := b.must(200, "GET", target, nil)
		got := names(page)
		if len(got) > 100 {
			t.Fatalf("page of %d", len(got))
		}
		all = append(all, got...)
		if page["more"] != true {
			break
		}
		after = page["next"].(string)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 250 || all[0] != "c000" || all[249] != "c249" || !slices.IsSorted(all) {
		t.Fatalf("children: %d, %v … %v", len(all), all[0], all[len(all)-1])
	}
}

// The watch streams changes of the node and its children as server-sent
// events, after "ready".
func TestWatch(t *testing.T) {
	e := newEnv(t)
	e.set("w.a", int64(1))
	b := e.browser()
	b.must(200, "GET", "/api/session", nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/watch?path=w", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	next := func() (event, data string) {
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && event != "":
				return event, data
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return
	}
	if ev, _ := next(); ev != "ready" {
		t.Fatalf("first event %q", ev)
	}
	e.set("w.a", int64(2))
	if ev, data := next(); ev != "entry" || !strings.Contains(data, `"path":"w.a"`) || !strings.Contains(data, `"value":"2"`) || !strings.Contains(data, `"chain":[{"node":"one"`) {
		t.Fatalf("event %q %s", ev, data)
	}
	if _, err := e.root.Delete(ctxT(t), path.P("w.a")); err != nil {
		t.Fatal(err)
	}
	if ev, data := next(); ev != "entry" || !strings.Contains(data, `"hasValue":false`) {
		t.Fatalf("event %q %s", ev, data)
	}
}

// Beyond MaxSessions the session idle longest goes, and its client with it.
func TestSessionBound(t *testing.T) {
	e := newEnv(t)
	var bs []*browser
	for range 101 {
		b := e.browser()
		b.must(200, "GET", "/api/session", nil)
		b.must(200, "GET", "/api/tree?path=:", nil)
		bs = append(bs, b)
	}
	b := bs[0]
	b.must(401, "GET", "/api/tree?path=:", nil)
	bs[100].must(200, "GET", "/api/tree?path=:", nil)
}

// A session opened while logins were off ends once they are on.
func TestLoginsSwitchedOn(t *testing.T) {
	e := newEnv(t)
	e.addUser("_test", "joe", "", "")
	b := e.browser()
	b.must(200, "GET", "/api/tree?path=:", nil)
	e.loginsOn("_test")
	if out := b.must(401, "GET", "/api/tree?path=:", nil); out["login"] != true {
		t.Fatalf("after logins on: %v", out)
	}
	b.must(200, "POST", "/api/login", map[string]string{"name": "joe"})
	b.must(200, "GET", "/api/tree?path=:", nil)
}

// A session unused for IdleTimeout ends.
func TestIdleSession(t *testing.T) {
	e := newEnv(t)
	con := console.New(console.Config{Open: open(e.s), LoginsOn: func() bool { return true }, IdleTimeout: time.Millisecond})
	defer con.Close()
	srv := httptest.NewServer(con)
	defer srv.Close()
	e.addUser("_test", "joe", "", "")
	e.loginsOn("_test")
	b := e.browser()
	b.e = &env{t: t, http: srv}
	b.must(200, "POST", "/api/login", map[string]string{"name": "joe"})
	testserver.WaitFor(t, "the idle session to end", func() bool {
		st, _ := b.do("GET", "/api/tree?path=:", nil)
		return st == 401
	})
}

// A session runs at most a few watches at once.
func TestWatchBound(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.must(200, "GET", "/api/session", nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	for i := 0; ; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/watch?path=w", nil)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == http.StatusTooManyRequests {
			res.Body.Close()
			if i != 8 {
				t.Fatalf("refused the watch after %d", i)
			}
			break
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || i > 8 {
			t.Fatalf("watch %d: %d", i, res.StatusCode)
		}
	}
}

// Over HTTPS the cookie is Secure; a wrong method gets a JSON error.
func TestSecureCookie(t *testing.T) {
	e := newEnv(t)
	con := console.New(console.Config{Open: open(e.s), LoginsOn: func() bool { return false }, Secure: true})
	defer con.Close()
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/api/session", nil))
	ck := rec.Result().Cookies()
	if len(ck) != 1 || !ck[0].Secure || !ck[0].HttpOnly {
		t.Fatalf("cookie: %+v", ck)
	}
	req := httptest.NewRequest("POST", "http://127.0.0.1/api/tree", strings.NewReader("{}"))
	req.Header.Set("X-DistKV", "1")
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(ck[0])
	rec = httptest.NewRecorder()
	con.ServeHTTP(rec, req)
	if rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("POST /api/tree: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestDirectHost: with logins off the console answers only to names no
// other site controls (DNS rebinding).
func TestDirectHost(t *testing.T) {
	e := newEnv(t)
	name, _ := os.Hostname()
	for host, want := range map[string]int{
		"127.0.0.1:27587": http.StatusOK, "[::1]:27587": http.StatusOK, "localhost:27587": http.StatusOK,
		"LOCALHOST.": http.StatusOK, "a.localhost": http.StatusOK, "10.1.2.3": http.StatusOK,
		name + ":27587":      http.StatusOK,
		"evil.example:27587": http.StatusForbidden, "localhost.evil.example": http.StatusForbidden,
		name + ".evil.example": http.StatusForbidden, "": http.StatusForbidden,
	} {
		req := httptest.NewRequest("GET", "http://127.0.0.1/api/session", nil)
		req.Host = host
		w := httptest.NewRecorder()
		e.con.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %q: %d, want %d: %s", host, w.Code, want, w.Body)
		}
	}
	// With logins on, any name: a login is needed anyway.
	e.addUser("_test", "joe", "", "")
	e.loginsOn("_test")
	req := httptest.NewRequest("GET", "http://127.0.0.1/api/session", nil)
	req.Host = "kv.example:27587"
	w := httptest.NewRecorder()
	e.con.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("logins on, Host kv.example: %d %s", w.Code, w.Body)
	}
}

// TestRevalidate: the page and its files carry an ETag, and a reload of
// an unchanged one answers 304 without a body.
func TestRevalidate(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/", "/static/app.js", "/static/app.css"} {
		resp, err := http.Get(e.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || tag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %s, ETag %q, Cache-Control %q", p, resp.Status, tag, resp.Header.Get("Cache-Control"))
		}
		req, _ := http.NewRequest("GET", e.http.URL+p, nil)
		req.Header.Set("If-None-Match", tag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("%s again: %s, %d bytes", p, resp.Status, len(body))
		}
	}
}

// TestChurn: browsers that come and go, each with a live view, some
// dropped for the session bound while their view runs, leave no
// connection to the server and no watch behind.
func TestChurn(t *testing.T) {
	e := newEnv(t)
	e.con.Close()
	e.con = console.New(console.Config{Open: open(e.s), Node: "one", MaxSessions: 3})
	e.http.Config.Handler = e.con
	e.set("w.x", int64(1))
	base := e.s.Stats()
	for i := range 20 {
		b := e.browser()
		b.must(200, "GET", "/api/session", nil)
		ctx, cancel := context.WithCancel(ctxT(t))
		req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/watch?path=w", nil)
		res, err := b.c.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("watch %d: %v %v", i, res, err)
		}
		if i%2 == 0 {
			cancel() // the page goes
			res.Body.Close()
		} else {
			// Left open: a later session drops this one, and its view ends.
			defer cancel()
			defer res.Body.Close()
		}
		e.set("w.x", int64(i))
	}
	testserver.WaitFor(t, "the sessions over the bound to end", func() bool {
		st := e.s.Stats()
		return st.Conns <= base.Conns+3 && st.Watches <= 3
	})
	e.con.Close()
	testserver.WaitFor(t, "every console connection to end", func() bool {
		st := e.s.Stats()
		return st.Conns == base.Conns && st.Watches == 0
	})
}
