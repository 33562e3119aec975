package client

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/internal/testcert"
)

// tlsServer starts a server whose client port speaks TLS with a
// certificate of ca for 127.0.0.1; with clientCA, client certificates
// signed by ca are required.
func tlsServer(t *testing.T, ca *testcert.CA, clientCA bool) *server.Server {
	t.Helper()
	leaf := ca.Leaf(t, "127.0.0.1", "localhost")
	f := tlsconf.Files{Setting: "server.bind_default.ssl", Cert: leaf.CertFile, Key: leaf.KeyFile}
	if clientCA {
		f.CA = ca.File
	}
	sc, err := tlsconf.Server(f)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, server.Config{TLS: sc, TLSFiles: f}, 0, map[string]any{"a": "b"})
}

// openErr opens a client with files and returns its error; a client that
// connects is closed and nil returned.
func openErr(t *testing.T, port int, f tlsconf.Files) error {
	t.Helper()
	f.Setting = "connect.ssl"
	c, err := Open(context.Background(), Config{Host: "127.0.0.1", Port: port, TLSFiles: f, Timeout: 10 * time.Second})
	if err == nil {
		c.Close()
	}
	return err
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one with %q", err, want)
	}
}

func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	stranger := testcert.NewCA(t, "stranger")
	s := tlsServer(t, ca, false)
	port := portOf(s)

	// A client that connects and sends nothing does not hold up others:
	// the handshake runs in the connection's goroutine.
	idle, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	c := open(t, port, Config{TLSFiles: tlsconf.Files{Setting: "connect.ssl", CA: ca.File}})
	ctx := ctxT(t)
	if _, err := c.Set(ctx, path.P("x"), int64(1)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, ctx, c, "a"); got != "b" {
		t.Fatalf("get a = %v", got)
	}

	t.Run("unknown CA", func(t *testing.T) {
		wantErr(t, openErr(t, port, tlsconf.Files{CA: stranger.File}), "TLS: the server's certificate is not signed by a CA of connect.ssl.ca ("+stranger.File+")")
	})
	t.Run("system roots", func(t *testing.T) {
		wantErr(t, openErr(t, port, tlsconf.Files{ServerName: "127.0.0.1"}), "not signed by a CA this system trusts; name its CA in connect.ssl.ca")
	})
	t.Run("wrong name", func(t *testing.T) {
		wantErr(t, openErr(t, port, tlsconf.Files{CA: ca.File, ServerName: "db.example"}), `the server's certificate is not for "db.example"`)
	})
	t.Run("missing CA file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "ca.pem")
		wantErr(t, openErr(t, port, tlsconf.Files{CA: missing}), "connect.ssl.ca: cannot read the CA certificates: open "+missing)
	})
	t.Run("plain client", func(t *testing.T) {
		_, err := Open(context.Background(), Config{Host: "127.0.0.1", Port: port})
		wantErr(t, err, "the server refused the connection: this server's client port speaks TLS")
	})
	t.Run("plain server", func(t *testing.T) {
		plain := startServer(t, server.Config{}, 0, nil)
		wantErr(t, openErr(t, portOf(plain), tlsconf.Files{CA: ca.File}), "TLS: the server does not speak TLS: set server.bind_default.ssl there, or leave connect.ssl empty here")
	})

	// The server kept running through all of it.
	if got := mustGet(t, ctx, c, "x"); got != int64(1) {
		t.Fatalf("get x = %v", got)
	}
	if err := openErr(t, port, tlsconf.Files{CA: ca.File}); err != nil {
		t.Fatal(err)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	stranger := testcert.NewCA(t, "stranger")
	port := portOf(tlsServer(t, ca, true))
	joe := ca.Leaf(t, "joe")
	foreign := stranger.Leaf(t, "joe")
	expired := ca.LeafWith(t, testcert.Options{Names: []string{"joe"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})

	if err := openErr(t, port, tlsconf.Files{CA: ca.File, Cert: joe.CertFile, Key: joe.KeyFile}); err != nil {
		t.Fatalf("with a certificate: %v", err)
	}
	wantErr(t, openErr(t, port, tlsconf.Files{CA: ca.File}), "TLS: the server requires a certificate of this side: set connect.ssl.cert and connect.ssl.key")
	wantErr(t, openErr(t, port, tlsconf.Files{CA: ca.File, Cert: foreign.CertFile, Key: foreign.KeyFile}),
		"TLS: the server refuses the certificate of this side (connect.ssl.cert): it is not signed by a CA of server.bind_default.ssl.ca")
	// tlsconf refuses to load an expired certificate; loaded by hand, the
	// server refuses it.
	cert, err := tls.LoadX509KeyPair(expired.CertFile, expired.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := tlsconf.Client(tlsconf.Files{CA: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	cc.Certificates = []tls.Certificate{cert}
	_, err = Open(context.Background(), Config{Host: "127.0.0.1", Port: port, TLS: cc, TLSFiles: tlsconf.Files{Setting: "connect.ssl"}})
	wantErr(t, err, "TLS: the server says the certificate of this side (connect.ssl.cert) has expired")
}

func TestTLSExpiredServer(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	leaf := ca.LeafWith(t, testcert.Options{Names: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	cert, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, server.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, 0, nil)
	wantErr(t, openErr(t, portOf(s), tlsconf.Files{CA: ca.File}), "TLS: the server's certificate has expired or is not valid yet")
}
