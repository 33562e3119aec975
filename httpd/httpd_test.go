package httpd

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body)
}

func TestHealth(t *testing.T) {
	st := State{Phase: "syncing", Reason: "waiting"}
	h := Handler(Config{Ready: func() State { return st }})
	if code, body := get(t, h, "GET", "/healthz"); code != 200 || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get(t, h, "GET", "/readyz")
	var got State
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 503 || got != st {
		t.Errorf("/readyz while syncing: %d %q %v", code, body, err)
	}
	st = State{Ready: true, Phase: "running"}
	if code, body := get(t, h, "GET", "/readyz"); code != 200 || body != "{\"ready\":true,\"phase\":\"running\"}\n" {
		t.Errorf("/readyz when running: %d %q", code, body)
	}
	if code, _ := get(t, h, "POST", "/readyz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz: %d", code)
	}
}

// TestRoutes: /metrics and the console are served only when given.
func TestRoutes(t *testing.T) {
	h := Handler(Config{})
	for _, p := range []string{"/metrics", "/", "/api/x"} {
		if code, _ := get(t, h, "GET", p); code != http.StatusNotFound {
			t.Errorf("%s without handlers: %d", p, code)
		}
	}
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	h = Handler(Config{Metrics: named("metrics"), Console: named("console")})
	for p, want := range map[string]string{"/metrics": "metrics", "/": "console", "/api/x": "console", "/healthz": "{\"status\":\"ok\"}\n"} {
		if code, body := get(t, h, "GET", p); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", p, code, body, want)
		}
	}
}

// TestServe: a real listener, closed by Close.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(ln, Config{})
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	s.Close()
	if _, err := http.Get("http://" + s.Addr().String() + "/healthz"); err == nil {
		t.Fatal("served after Close")
	}
}

// TestHostile: garbage, oversized headers and connections that never
// finish their request get an error or wait, and the listener goes on
// answering everyone else.
func TestHostile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(ln, Config{})
	defer s.Close()
	addr := s.Addr().String()
	send := func(raw string) string {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		buf := make([]byte, 64)
		n, _ := io.ReadAtLeast(c, buf, 12)
		return string(buf[:n])
	}
	for name, tc := range map[string]struct{ raw, want string }{
		"garbage":        {"\x00\xff\x16\x03 nonsense\r\n\r\n", "HTTP/1.1 400"},
		"huge header":    {"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", "HTTP/1.1 431"},
		"bad method":     {"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		"no such path":   {"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404"},
		"absolute junk":  {"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
		"http/0.9 style": {"GET /\r\n\r\n", "HTTP/1.1 400"},
	} {
		if got := send(tc.raw); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %s", name, got, tc.want)
		}
	}
	// Connections that send half a request and wait hold no one up.
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz among half requests: %v %v", resp, err)
	}
	resp.Body.Close()
}
