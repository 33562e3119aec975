package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
)

// Error is a failed TLS handshake, explained: what went wrong and which
// setting to look at, wrapping the TLS library's error.
type Error struct {
	Problem string // what the user should know, such as "the server does not speak TLS"
	Err     error
}

func (e *Error) Error() string { return "TLS: " + e.Problem + " (" + e.Err.Error() + ")" }

func (e *Error) Unwrap() error { return e.Err }

// TLS alerts a side sends when it refuses the other's certificate or
// version (RFC 8446 section 6).
const (
	alertBadCertificate      = 42
	alertCertificateExpired  = 45
	alertCertificateUnknown  = 46
	alertUnknownCA           = 48
	alertProtocolVersion     = 70
	alertCertificateRequired = 116
)

// Explain returns err explained when it comes from a TLS handshake, or
// from the first read after one (with TLS 1.3 a server refuses a client's
// certificate only after the client's side of the handshake is done);
// other errors come back as they are. f is this side's setting; other
// names the other side ("the server", "the client", `peer "b"`), and
// otherSetting the other side's setting ("server.bind_default.ssl").
func Explain(err error, f Files, other, otherSetting string) error {
	if err == nil {
		return nil
	}
	var problem string
	var (
		rh    tls.RecordHeaderError
		ua    x509.UnknownAuthorityError
		ci    x509.CertificateInvalidError
		hn    x509.HostnameError
		alert uint8
	)
	switch {
	case errors.Is(err, ErrQuiet), errors.Is(err, ErrNotTLS):
		problem = fmt.Sprintf("%s does not speak TLS; %s needs it", other, f.Setting)
	case errors.As(err, &rh):
		problem = fmt.Sprintf("%s does not speak TLS: set %s there, or leave %s empty here", other, otherSetting, f.Setting)
	case errors.As(err, &ua):
		if f.CA == "" {
			problem = fmt.Sprintf("%s's certificate is not signed by a CA this system trusts; name its CA in %s.ca", other, f.Setting)
		} else {
			problem = fmt.Sprintf("%s's certificate is not signed by a CA of %s.ca (%s)", other, f.Setting, f.CA)
		}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		problem = fmt.Sprintf("%s's certificate has expired or is not valid yet", other)
	case errors.As(err, &hn):
		problem = fmt.Sprintf("%s's certificate is not for %q (it names %s)", other, hn.Host, certNames(hn.Certificate))
		if f.Setting == "connect.ssl" {
			problem += "; set connect.ssl.server_name to a name it carries"
		}
	case remoteAlert(err, &alert):
		switch alert {
		case alertCertificateRequired:
			problem = fmt.Sprintf("%s requires a certificate of this side: set %s.cert and %s.key", other, f.Setting, f.Setting)
		case alertUnknownCA, alertBadCertificate, alertCertificateUnknown:
			problem = fmt.Sprintf("%s refuses the certificate of this side (%s.cert): it is not signed by a CA of %s.ca, or not for the name it expects", other, f.Setting, otherSetting)
		case alertCertificateExpired:
			problem = fmt.Sprintf("%s says the certificate of this side (%s.cert) has expired", other, f.Setting)
		case alertProtocolVersion:
			problem = fmt.Sprintf("%s speaks no TLS version this side does (1.2 or later)", other)
		default:
			problem = fmt.Sprintf("%s refused the TLS handshake", other)
		}
	default:
		return err
	}
	return &Error{Problem: problem, Err: err}
}

// remoteAlert reports the alert the other side sent, if err is one. The
// TLS library reports it as a *net.OpError "remote error" around a value
// of its unexported alert type, a uint8.
func remoteAlert(err error, code *uint8) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 || v.Type().PkgPath() != "crypto/tls" {
		return false
	}
	*code = uint8(v.Uint())
	return true
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "nothing"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}
