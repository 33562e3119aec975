package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/internal/testcert"
	"github.com/distkv-go/distkv/internal/testserver"
)

// readyz asks the HTTP listener at addr for /readyz.
func readyz(t *testing.T, addr string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/readyz: %v: %q", err, body)
	}
	return resp.StatusCode, st
}

// TestReadyz: a server that copies its network's data is alive (/healthz)
// but not ready (/readyz says why), and ready once it serves.
func TestReadyz(t *testing.T) {
	bin := buildBinary(t)
	g1, g2 := freePort(t), freePort(t)
	h2 := "127.0.0.1:" + strconv.Itoa(freePort(t))
	// Two starts first, joining one, which is not there yet: it waits for
	// a server to copy from.
	args := append([]string{"-c", "/dev/null", "-C", "server.bind_default.host=127.0.0.1",
		"-C", "server.bind_default.port=" + strconv.Itoa(freePort(t))}, loopbackPorts()...)
	args = append(args, serfBind(g2)...)
	two := exec.Command(bin, append(args, "-C", "server.http.bind="+h2, "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")...)
	if err := two.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { two.Process.Kill(); two.Wait() })
	var st map[string]any
	testserver.WaitFor(t, "/readyz to answer", func() bool {
		var code int
		code, st = readyz(t, h2)
		return code != 0
	})
	if code, _ := readyz(t, h2); code != http.StatusServiceUnavailable || st["ready"] != false || st["phase"] != "syncing" ||
		!strings.Contains(st["reason"].(string), "waiting for a server of the network to copy its data from: no server answered at --join") {
		t.Fatalf("/readyz while syncing: %d %v", code, st)
	}
	resp, err := http.Get("http://" + h2 + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while syncing: %v %v", resp, err)
	}
	resp.Body.Close()

	// One starts the network where two looks for it: two copies its data
	// and serves.
	startServerProc(t, bin, freePort(t), append(serfBind(g1), "server", "-i", "Testing", "one")...)
	testserver.WaitFor(t, "two to be ready", func() bool {
		code, st := readyz(t, h2)
		return code == http.StatusOK && st["ready"] == true && st["phase"] == "running"
	})
}

// TestHTTPS: server.http.ssl makes the HTTP listener speak TLS, /metrics
// is served there, and client console prints an https URL.
func TestHTTPS(t *testing.T) {
	bin := buildBinary(t)
	ca := testcert.NewCA(t, "test")
	cert := ca.Leaf(t, "127.0.0.1")
	port, hport := freePort(t), freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(hport)
	startServerProc(t, bin, port, "-C", "server.http.bind="+addr, "-C", "server.http.ssl.cert="+cert.CertFile,
		"-C", "server.http.ssl.key="+cert.KeyFile, "server", "-i", "Testing", "one")
	pem, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := hc.Get("https://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https /readyz: %s", resp.Status)
	}
	resp, err = hc.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\ndistkv_requests_total{") {
		t.Fatalf("https /metrics: %s\n%.2000s", resp.Status, body)
	}
	if resp, err := http.Get("http://" + addr + "/readyz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain HTTP served on the TLS port")
	}
	out, err := exec.Command(bin, "-c", "/dev/null", "-C", "connect.port="+strconv.Itoa(port), "client", "console").CombinedOutput()
	if err != nil || string(out) != "https://"+addr+"/\n" {
		t.Fatalf("client console: %v %q", err, out)
	}
}

// TestNoConsole: with server.http.bind empty there is no HTTP listener,
// and client console says so.
func TestNoConsole(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	startServerProc(t, bin, port, "-C", "server.http.bind=", "server", "-i", "Testing", "one")
	out, err := exec.Command(bin, "-c", "/dev/null", "-C", "connect.port="+strconv.Itoa(port), "client", "console").CombinedOutput()
	if err == nil || string(out) != "distkv: server one serves no web console: its server.http.bind is empty\n" {
		t.Fatalf("client console: %v %q", err, out)
	}
}

// TestConsoleLogin: the binary's console logs in with the server's users
// (password method, through the in-process connection) and reads what the
// user may; a wrong password is refused.
func TestConsoleLogin(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	startServerProc(t, bin, port, "-C", "server.http.bind="+addr, "server", "-i", "Testing", "one")
	cli := func(stdin string, args ...string) string {
		t.Helper()
		c := exec.Command(bin, append([]string{"-c", "/dev/null", "-C", "connect.port=" + strconv.Itoa(port), "client"}, args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("", "data", "set", "-v", "hello", "greeting")
	cli("test123\n", "auth", "-m", "password", "user", "add", "name=joe", "password?=Code")
	cli("", "auth", "-m", "password", "init")

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	login := func(name, password string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"name": name, "password": password})
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-DistKV", "1")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := login("joe", "wrong12"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", code)
	}
	if code := login("joe bad", "test123"); code != http.StatusUnauthorized {
		t.Fatalf("a name with a space: %d", code)
	}
	if code := login("joe", "test123"); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	resp, err := hc.Get("http://" + addr + "/api/entry?path=greeting")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"value":"'hello'"`) {
		t.Fatalf("/api/entry: %s %s", resp.Status, body)
	}
}

// TestWarnOpen: a console reachable beyond loopback while logins are off
// is warned of; one on loopback, or with HTTP off, is not.
func TestWarnOpen(t *testing.T) {
	srv := testserver.Start(t, server.Config{Node: "one"})
	var log strings.Builder
	g := &globals{log: slog.New(slog.NewTextHandler(&log, nil))}
	(&webServer{url: "http://127.0.0.1:1/"}).warnOpen(g, srv)
	(*webServer)(nil).warnOpen(g, srv) // HTTP off
	if log.Len() != 0 {
		t.Fatalf("warned of a loopback console: %s", log.String())
	}
	(&webServer{url: "http://0.0.0.0:1/", open: true}).warnOpen(g, srv)
	if !strings.Contains(log.String(), "reachable beyond loopback while logins are off") {
		t.Fatalf("no warning: %q", log.String())
	}
}
