package replica

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/wire"
)

// Servers log in to each other as clients log in to a server (see
// core/auth), inside the peer handshake and after both sides proved the
// network key, so that no login goes to a side that has not:
//
//	both hellos carry {dh: public key}
//	… proofs, as in handshake …
//	initiator → {op: login, typ?, ident?, password?}
//	responder → {op: login, …} or {op: error, msg}   after checking it
//
// A side whose hello has no dh (a server that predates logins) neither
// sends nor gets a login message. A login without typ means "none": it is
// sent anyway, so that a refusal always reaches the side it concerns.
// The password travels as sha256 sealed with the key the two hellos'
// Diffie-Hellman values agree on. Each side decides by Config.CheckLogin
// whether the other may be its peer.

// PeerLogin is what a peer logged in with; the password as its digest.
type PeerLogin struct {
	Method, User string
	Digest       []byte
}

// peerDH makes this side's Diffie-Hellman value for a handshake, if
// logins may travel (a login to send or one to check).
func (r *Replica) peerDH() (*auth.DH, error) {
	if r.cfg.Login == nil && r.cfg.CheckLogin == nil {
		return nil, nil
	}
	return auth.NewDH(auth.DHLength)
}

// appendLogin appends {op: login, typ, ident, password?}, the password
// sealed with key; {op: login} for no login (l nil).
func appendLogin(b []byte, l *auth.Login, key *[32]byte) ([]byte, error) {
	m := wire.Begin(b)
	m.Str("op", "login")
	if l == nil {
		return m.End(), nil
	}
	m.Str("typ", l.Method)
	m.Str("ident", l.Name())
	if l.Method == auth.Password {
		if key == nil {
			return nil, errors.New("the peer offered no key exchange, so the password cannot travel sealed")
		}
		sealed, err := auth.Seal(key, auth.Digest(l.Params["password"]))
		if err != nil {
			return nil, err
		}
		m.Key("password")
		m.B = pack.AppendBytes(m.B, sealed)
	}
	return m.End(), nil
}

// peerLogin reads the other side's login, if it sends one (aware), and
// asks CheckLogin.
func (pc *peerConn) peerLogin(aware bool, peer string, key *[32]byte) error {
	var l *PeerLogin
	if aware {
		m, err := pc.read("login")
		if err != nil {
			return err
		}
		if m.typ != "" {
			l = &PeerLogin{Method: m.typ, User: m.ident}
		}
		if l != nil && len(m.password) > 0 {
			if key == nil {
				return fmt.Errorf("peer %q sent a password without a key exchange", peer)
			}
			if l.Digest, err = auth.Open(key, m.password); err != nil {
				return fmt.Errorf("peer %q: login: %w", peer, err)
			}
		}
	}
	if pc.r.cfg.CheckLogin != nil {
		if err := pc.r.cfg.CheckLogin(peer, l); err != nil {
			return fmt.Errorf("peer %q: %w", peer, err)
		}
	}
	pc.mu.Lock()
	pc.login, pc.checked, pc.loginPeer = l, true, peer
	pc.mu.Unlock()
	return nil
}

// Recheck asks Config.CheckLogin again about every connected peer, with
// the login it gave in its handshake, and closes the connections of those
// it refuses now: the server calls it when logins are switched on or to
// another method, so that no peer stays that could not connect anew.
func (r *Replica) Recheck() {
	if r.cfg.CheckLogin == nil {
		return
	}
	for _, pc := range r.conns() {
		pc.mu.Lock()
		l, checked, name := pc.login, pc.checked, pc.loginPeer
		pc.mu.Unlock()
		if !checked {
			continue // in its handshake, which checks it
		}
		if err := r.cfg.CheckLogin(name, l); err != nil {
			r.warn("dropped a peer", name, err, "peer", name)
			pc.close()
		}
	}
}
