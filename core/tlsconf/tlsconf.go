// Package tlsconf builds the TLS configurations of DistKV's listeners and
// dialers from PEM files, runs a listener's side of a handshake, and
// explains failed handshakes in words that say what to change.
//
// # Settings
//
// A listener (client port: server.bind_default.ssl; peer listener:
// server.peer.ssl) has a certificate and its key, and optionally a CA
// file: then the other side must present a certificate signed by one of
// its CAs. A client (connect.ssl) checks the server's certificate against
// its CA file (or the system's roots) and the host it connects to (or
// ServerName), and may present a certificate of its own. A server dialing
// a peer checks the peer's certificate against server.peer.ssl.ca and the
// peer's node name, and presents its own certificate. TLS 1.2 is the
// oldest version spoken.
//
// Files are read once, when the configuration is built: a new
// certificate takes effect at the next start.
//
// # Concurrency
//
// The functions are safe for concurrent use; the *tls.Config they return
// must not be changed once in use.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// MinVersion is the oldest TLS version spoken.
const MinVersion = tls.VersionTLS12

// Files names the PEM files of one TLS setting.
type Files struct {
	// Setting is the setting's dotted config name, such as
	// "connect.ssl", for error messages.
	Setting string
	// Cert is the certificate, its chain may follow; Key its private key.
	Cert, Key string
	// CA holds the CA certificates that must have signed the other side's
	// certificate.
	CA string
	// ServerName, for a client, is the name the server's certificate must
	// carry; empty: the host connected to.
	ServerName string
}

// Server returns the configuration of a listener: its certificate, and
// if f.CA is set, client certificates signed by those CAs required.
func Server(f Files) (*tls.Config, error) {
	cert, err := f.keyPair()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}
	if f.CA != "" {
		if cfg.ClientCAs, err = f.pool(); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns the configuration of a client: the server's
// certificate checked against f.CA (empty: the system's roots) and
// f.ServerName (empty: the host dialed, which the caller sets as
// ServerName), and f.Cert presented if set.
func Client(f Files) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: MinVersion, ServerName: f.ServerName}
	if f.Cert != "" || f.Key != "" {
		cert, err := f.keyPair()
		if err != nil {
			return nil, err
		}
		// Presented always, not only when the server names its CA as
		// acceptable: a server that refuses it then says why, instead of
		// "no certificate".
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	if f.CA != "" {
		pool, err := f.pool()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Peer returns the configurations of a server's peer connections from
// server.peer.ssl: listen for its peer listener (Server), dial for
// connecting to peers (Client with the same certificate; the dialer sets
// ServerName to the peer's node name, which its certificate must carry).
func Peer(f Files) (listen, dial *tls.Config, err error) {
	if listen, err = Server(f); err != nil {
		return nil, nil, err
	}
	f.ServerName = ""
	if dial, err = Client(f); err != nil {
		return nil, nil, err
	}
	return listen, dial, nil
}

// keyPair loads the certificate and its key, and refuses a certificate
// that is not valid now: a server would start and fail every handshake.
func (f Files) keyPair() (tls.Certificate, error) {
	switch {
	case f.Cert == "":
		return tls.Certificate{}, fmt.Errorf("%s.cert: no certificate file given (%s.key is %q)", f.Setting, f.Setting, f.Key)
	case f.Key == "":
		return tls.Certificate{}, fmt.Errorf("%s.key: no key file given for the certificate %s", f.Setting, f.Cert)
	}
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s.cert: cannot read the certificate: %w", f.Setting, err)
	}
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s.key: cannot read the key: %w", f.Setting, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: certificate %s with key %s: %w", f.Setting, f.Cert, f.Key, err)
	}
	now := time.Now()
	switch leaf := cert.Leaf; {
	case leaf == nil:
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, fmt.Errorf("%s.cert: the certificate %s expired on %s", f.Setting, f.Cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, fmt.Errorf("%s.cert: the certificate %s is valid only from %s", f.Setting, f.Cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// pool reads the CA file.
func (f Files) pool() (*x509.CertPool, error) {
	data, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("%s.ca: cannot read the CA certificates: %w", f.Setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s.ca: %s holds no PEM certificate", f.Setting, f.CA)
	}
	return pool, nil
}
