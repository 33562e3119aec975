package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzAPI sends the console's handler requests with any target (path and
// query: paths, cursors, limits) and any body, against a real server.
// Whatever comes in, the reply to an API request is JSON, an error says
// so in {"error"}, nothing answers 500, and the session goes on working.
func FuzzAPI(f *testing.F) {
	for _, s := range []struct {
		method uint8
		target string
		body   string
	}{
		{0, "/api/tree?path=a&limit=10", ""},
		{0, "/api/tree?path=a&after=a.b", ""},
		{0, "/api/tree?path=:&after=%ff", ""},
		{0, "/api/entry?path=a:31.:t.b", ""},
		{1, "/api/entry", `{"path": "a.b", "value": "{'x': [1, 2.5, b'\\x00']}", "chain": []}`},
		{1, "/api/entry", `{"path": "a.b", "value": "1", "chain": [{"node": "one", "tick": 1}]}`},
		{2, "/api/entry", `{"path": "a.b", "chain": [{"node": "x", "tick": 18446744073709551615}]}`},
		{3, "/api/errors/resolve", `{"at": ".distkv.error.one.:5"}`},
		{3, "/api/login", `{"name": "x", "password": "y"}`},
		{0, "/api/watch?path=a", ""},
		{0, "/api/runners", ""},
		{0, "/api/network", ""},
		{1, "/api/entry", `{"path": "a", "value": "` + strings.Repeat("[", 200) + `"}`},
	} {
		f.Add(s.method, s.target, []byte(s.body))
	}
	e := newEnv(f)
	e.set("a.b", int64(1))
	cookie := func() *http.Cookie {
		rec := httptest.NewRecorder()
		e.con.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/api/session", nil))
		for _, c := range rec.Result().Cookies() {
			return c
		}
		f.Fatal("no session cookie")
		return nil
	}()
	methods := []string{"GET", "PUT", "DELETE", "POST"}
	f.Fuzz(func(t *testing.T, method uint8, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		// A watch runs until the page goes: let it go soon.
		limit := 5 * time.Second
		if strings.HasPrefix(target, "/api/watch") {
			limit = 20 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		m := methods[int(method)%len(methods)]
		req, err := http.NewRequestWithContext(ctx, m, "http://127.0.0.1"+target, bytes.NewReader(body))
		if err != nil || req.URL.Path == "/api/logout" || req.URL.Path == "/api/login" {
			return // no client sends that; a new session is no input to test
		}
		req.Header.Set("X-DistKV", "1")
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		e.con.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode >= 500 && res.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("%s %q: status %d: %s", m, target, res.StatusCode, rec.Body)
		}
		if strings.HasPrefix(req.URL.Path, "/api/") && res.Header.Get("Content-Type") == "application/json" {
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %q: reply is not JSON: %v: %s", m, target, err, rec.Body)
			}
			if res.StatusCode >= 400 {
				if msg, _ := out["error"].(string); msg == "" {
					t.Fatalf("%s %q: status %d without an error: %s", m, target, res.StatusCode, rec.Body)
				}
			}
		} else if strings.HasPrefix(req.URL.Path, "/api/") && res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s %q: API reply of type %q", m, target, res.Header.Get("Content-Type"))
		}
		// The session goes on.
		check := httptest.NewRequest("GET", "http://127.0.0.1/api/entry?path=a.b", nil)
		check.AddCookie(cookie)
		rec = httptest.NewRecorder()
		e.con.ServeHTTP(rec, check)
		if rec.Code != 200 {
			t.Fatalf("after %s %q the session fails: %d %s", m, target, rec.Code, rec.Body)
		}
	})
}
