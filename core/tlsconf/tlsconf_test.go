package tlsconf_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/internal/testcert"
)

func TestFileErrors(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	leaf := ca.Leaf(t, "localhost")
	other := ca.Leaf(t, "localhost")
	expired := ca.LeafWith(t, testcert.Options{Names: []string{"localhost"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name string
		f    tlsconf.Files
		want string // in the error; "" for none
	}{
		{"good", tlsconf.Files{Cert: leaf.CertFile, Key: leaf.KeyFile, CA: ca.File}, ""},
		{"missing cert", tlsconf.Files{Cert: missing, Key: leaf.KeyFile}, "server.bind_default.ssl.cert: cannot read the certificate: open " + missing},
		{"missing key", tlsconf.Files{Cert: leaf.CertFile, Key: missing}, "server.bind_default.ssl.key: cannot read the key: open " + missing},
		{"missing ca", tlsconf.Files{Cert: leaf.CertFile, Key: leaf.KeyFile, CA: missing}, "server.bind_default.ssl.ca: cannot read the CA certificates: open " + missing},
		{"ca not PEM", tlsconf.Files{Cert: leaf.CertFile, Key: leaf.KeyFile, CA: garbage}, "server.bind_default.ssl.ca: " + garbage + " holds no PEM certificate"},
		{"cert not PEM", tlsconf.Files{Cert: garbage, Key: leaf.KeyFile}, "server.bind_default.ssl: certificate " + garbage + " with key " + leaf.KeyFile + ": tls: failed to find any PEM data in certificate input"},
		{"key of another cert", tlsconf.Files{Cert: leaf.CertFile, Key: other.KeyFile}, "private key does not match public key"},
		{"expired", tlsconf.Files{Cert: expired.CertFile, Key: expired.KeyFile}, "server.bind_default.ssl.cert: the certificate " + expired.CertFile + " expired on "},
		{"no key", tlsconf.Files{Cert: leaf.CertFile}, "server.bind_default.ssl.key: no key file given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Setting = "server.bind_default.ssl"
			_, err := tlsconf.Server(tt.f)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Server: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Server: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// handshake runs a client with cc against a listener with sc (nil: plain
// TCP that greets first, as a DistKV server does) and returns both sides'
// errors, the client's explained.
func handshake(t *testing.T, sc *tls.Config, cf tlsconf.Files) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		if sc == nil {
			nc.Write([]byte("\x83hello"))
			time.Sleep(100 * time.Millisecond) // let the client read before the close
			done <- nil
			return
		}
		tc, err := tlsconf.Handshake(context.Background(), nc, sc, time.Second, 5*time.Second)
		if err == nil {
			_, err = tc.Write([]byte("greeting"))
		}
		done <- err
	}()
	var nc net.Conn
	if nc, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	cc, err := tlsconf.Client(cf)
	if err != nil {
		t.Fatal(err)
	}
	if cc.ServerName == "" {
		cc.ServerName = "localhost"
	}
	tc := tls.Client(nc, cc)
	err = tc.Handshake()
	if err == nil {
		_, err = tc.Read(make([]byte, 8))
	}
	return <-done, tlsconf.Explain(err, cf, "the server", "server.bind_default.ssl")
}

func TestExplain(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	stranger := testcert.NewCA(t, "stranger")
	leaf := ca.Leaf(t, "localhost")
	foreign := stranger.Leaf(t, "localhost")
	client := ca.Leaf(t, "joe")
	server := func(f tlsconf.Files) *tls.Config {
		f.Setting = "server.bind_default.ssl"
		sc, err := tlsconf.Server(f)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	plain := server(tlsconf.Files{Cert: leaf.CertFile, Key: leaf.KeyFile})
	mutual := server(tlsconf.Files{Cert: leaf.CertFile, Key: leaf.KeyFile, CA: ca.File})

	tests := []struct {
		name               string
		sc                 *tls.Config
		cf                 tlsconf.Files
		server, clientWant string // "" for no error
	}{
		{"good", plain, tlsconf.Files{CA: ca.File}, "", ""},
		{"mutual", mutual, tlsconf.Files{CA: ca.File, Cert: client.CertFile, Key: client.KeyFile}, "", ""},
		{"no CA", plain, tlsconf.Files{CA: stranger.File}, "bad certificate", "the server's certificate is not signed by a CA of connect.ssl.ca"},
		{"wrong name", plain, tlsconf.Files{CA: ca.File, ServerName: "other"}, "bad certificate", `the server's certificate is not for "other" (it names localhost); set connect.ssl.server_name`},
		{"no client cert", mutual, tlsconf.Files{CA: ca.File}, "didn't provide a certificate", "the server requires a certificate of this side: set connect.ssl.cert and connect.ssl.key"},
		{"foreign client cert", mutual, tlsconf.Files{CA: ca.File, Cert: foreign.CertFile, Key: foreign.KeyFile}, "certificate signed by unknown authority", "the server refuses the certificate of this side (connect.ssl.cert)"},
		{"plain server", nil, tlsconf.Files{CA: ca.File}, "", "the server does not speak TLS: set server.bind_default.ssl there, or leave connect.ssl empty here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cf.Setting = "connect.ssl"
			serr, cerr := handshake(t, tt.sc, tt.cf)
			if tt.server == "" && serr != nil || tt.server != "" && (serr == nil || !strings.Contains(serr.Error(), tt.server)) {
				t.Errorf("server: %v, want %q", serr, tt.server)
			}
			if tt.clientWant == "" && cerr != nil || tt.clientWant != "" && (cerr == nil || !strings.Contains(cerr.Error(), tt.clientWant)) {
				t.Errorf("client: %v, want %q", cerr, tt.clientWant)
			}
			var e *tlsconf.Error
			if tt.clientWant != "" && !errors.As(cerr, &e) {
				t.Errorf("client: %T is no *tlsconf.Error", cerr)
			}
		})
	}
}

func TestHandshakePlainClient(t *testing.T) {
	ca := testcert.NewCA(t, "test")
	leaf := ca.Leaf(t, "localhost")
	sc, err := tlsconf.Server(tlsconf.Files{Setting: "s", Cert: leaf.CertFile, Key: leaf.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		sends string
		want  error
	}{
		{"silent", "", tlsconf.ErrQuiet},
		{"plain bytes", "\x82\xa3seq\x00", tlsconf.ErrNotTLS},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			if tt.sends != "" {
				go a.Write([]byte(tt.sends))
			}
			_, err := tlsconf.Handshake(context.Background(), b, sc, 50*time.Millisecond, 5*time.Second)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Handshake: %v, want %v", err, tt.want)
			}
		})
	}
	// A context that ends stops a handshake that waits.
	a, b := net.Pipe()
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tlsconf.Handshake(ctx, b, sc, time.Minute, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Handshake after cancel: %v", err)
	}
}
