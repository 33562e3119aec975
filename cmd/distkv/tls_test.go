package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/internal/testcert"
)

// TestTLS: a server with server.bind_default.ssl in its config file, and
// clients with connect.ssl in theirs, through the real binary.
func TestTLS(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test")
	srvCert := ca.Leaf(t, "127.0.0.1")
	joe := ca.Leaf(t, "joe")
	port := freePort(t)
	write := func(name, text string) string {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	srvCfg := write("server.cfg", fmt.Sprintf("server:\n  bind_default:\n    ssl:\n      cert: %s\n      key: %s\n      ca: %s\n",
		srvCert.CertFile, srvCert.KeyFile, ca.File))
	startServerProc(t, bin, port, "-c", srvCfg, "server", "-i", "Testing", "one")

	connect := fmt.Sprintf("connect:\n  host: 127.0.0.1\n  port: %d\n", port)
	withCert := write("joe.cfg", connect+fmt.Sprintf("  ssl:\n    ca: %s\n    cert: %s\n    key: %s\n", ca.File, joe.CertFile, joe.KeyFile))
	noCert := write("nocert.cfg", connect+fmt.Sprintf("  ssl: {ca: %s}\n", ca.File))
	plain := write("plain.cfg", connect)
	run := func(cfg string, args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"-c", cfg, "client", "data"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	if out, err := run(withCert, "set", "-v", "hello", "tls.test"); err != nil {
		t.Fatalf("data set: %v\n%s", err, out)
	}
	if out, err := run(withCert, "get", "tls.test"); err != nil || out != `"hello"` {
		t.Fatalf("data get = %q, %v", out, err)
	}
	for _, tt := range []struct {
		name, cfg, want string
	}{
		{"no client certificate", noCert, "TLS: the server requires a certificate of this side: set connect.ssl.cert and connect.ssl.key"},
		{"no TLS", plain, "this server's client port speaks TLS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.cfg, "get", "tls.test")
			if err == nil || !strings.Contains(out, tt.want) {
				t.Fatalf("data get = %q, %v; want an error with %q", out, err, tt.want)
			}
		})
	}

	// A certificate file that is not there stops the server at once,
	// naming the key.
	missing := filepath.Join(dir, "missing.pem")
	out, code := runServerToEnd(t, bin, "-C", "server.bind_default.ssl.cert="+missing, "-C", "server.bind_default.ssl.key="+srvCert.KeyFile, "server", "-i", "x", "two")
	if want := "server.bind_default.ssl.cert: cannot read the certificate: open " + missing; code == 0 || !strings.Contains(out, want) {
		t.Fatalf("server with a missing certificate: exit %d, output\n%s\nwant %q", code, out, want)
	}
}
