package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/replica"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// This file is the server's side of logins (core/auth has the methods
// and the cryptography): the current method, kept up to date from the
// system tree; the gate's rule that nothing but a login passes before
// one once a method is current; and the login and user actions.
//
// Logins are data: `None auth` holds {current: METHOD}, `None auth METHOD
// user NAME` a user. They replicate, log and load like any entry, so a
// user added on one server logs in on every other, and switching the
// method on one switches it everywhere.

// authRoot is `None auth`.
var authRoot = path.Must(nil, "auth")

// watchLogins keeps s.authCurrent in step with `None auth`'s value, for
// every change: local, replicated or loaded.
func (s *Server) watchLogins() {
	s.authCurrent.Store(new(string))
	s.tree.Watch(authRoot, func(it *tree.Item) {
		if it.Path.Len() != authRoot.Len() {
			return
		}
		cur := ""
		if it.HasValue {
			cur = currentMethod(it.Value)
		}
		if prev := s.authCurrent.Swap(&cur); *prev != cur && cur != "" {
			// Peers that logged in otherwise, or not at all, go; they
			// may connect again with a login. Not here: the tree is
			// locked, and checking a password takes a while.
			s.goFunc(s.recheckPeers)
		}
	})
}

// recheckPeers drops the peers that the current method refuses.
func (s *Server) recheckPeers() {
	s.warnNoLogin()
	if rep := s.replica(); rep != nil {
		rep.Recheck()
	}
}

// warnNoLogin warns when logins are on and this server has no login for
// its peers: they refuse it, and it refuses them.
func (s *Server) warnNoLogin() {
	if c := s.cfg.Cluster; c != nil && c.Login == "" && s.AuthMethod() != "" {
		s.log.Warn("logins are on, and this server has no login for its peers (connect.auth): other servers refuse it, and it refuses those that log in otherwise",
			"method", s.AuthMethod())
	}
}

// currentMethod reads "current" from the value of `None auth`; anything
// unusable counts as no method, logged by the caller's reader.
func currentMethod(raw string) string {
	v, err := pack.Decode([]byte(raw))
	if err != nil {
		return ""
	}
	m, ok := v.(pack.Map)
	if !ok {
		return ""
	}
	cur, _ := m.Get("current")
	s, _ := cur.(string)
	return s
}

// AuthMethod returns the current login method, "" while logins are off.
func (s *Server) AuthMethod() string { return *s.authCurrent.Load() }

// authMethods returns the greeting's "auth": the current method first,
// then the other methods that have users.
func (s *Server) authMethods() []any {
	cur := s.AuthMethod()
	var list []any
	if cur == "" {
		list = append(list, nil)
	} else {
		list = append(list, cur)
	}
	s.tree.Walk(authRoot, tree.WalkOptions{Which: tree.All, MinDepth: 1, MaxDepth: 1}, func(items []tree.Item) bool {
		for _, it := range items {
			if m, ok := it.Path.Last().Value().(string); ok && m != cur && auth.Known(m) {
				list = append(list, m)
			}
		}
		return true
	})
	return list
}

// needsLogin reports that the connection may not run a's action yet.
func (c *conn) needsLogin(a *action) bool {
	return !a.beforeLogin && c.sess == rootSession && c.s.AuthMethod() != ""
}

// authPath resolves the path a user action works on: `None auth` for
// auth_info and set_auth_typ, `None auth TYP user [IDENT]` for the
// others.
func authPath(req *wire.Request) (path.Path, error) {
	switch req.Action {
	case wire.AuthInfo, wire.SetAuthTyp:
		return authRoot, nil
	}
	if !auth.Known(req.Typ) {
		return path.Path{}, fmt.Errorf("%w: typ %q: the login methods with users are %s and %s", wire.ErrBadRequest, req.Typ, auth.Test, auth.Password)
	}
	if req.Kind != "" && req.Kind != "user" {
		return path.Path{}, fmt.Errorf("%w: kind %q: only \"user\" records exist", wire.ErrBadRequest, req.Kind)
	}
	p := authRoot.Join(path.Must(req.Typ, "user"))
	if req.Ident == "" {
		if req.Action == wire.AuthList {
			return p, nil
		}
		return path.Path{}, fmt.Errorf("%w: %s needs ident, the user's name", wire.ErrBadRequest, req.Action)
	}
	if err := auth.CheckUserName(req.Ident); err != nil {
		return path.Path{}, fmt.Errorf("%w: %w", wire.ErrBadRequest, err)
	}
	return p.Join(path.Must(req.Ident)), nil
}

func userPath(method, name string) path.Path { return path.Must(nil, "auth", method, "user", name) }

// diffieHellman agrees on the key that seals a password (see core/auth):
// once per connection.
func (c *conn) diffieHellman(r *call) error {
	if c.dhUsed {
		return fmt.Errorf("%w: a connection makes one key exchange only", wire.ErrBadRequest)
	}
	c.dhUsed = true
	length := r.Length
	if length == 0 {
		length = auth.DHLength
	}
	d, err := auth.NewDH(length)
	if err != nil {
		return fmt.Errorf("%w: %w", wire.ErrBadRequest, err)
	}
	key, err := d.Key(r.PubKey)
	if err != nil {
		return fmt.Errorf("%w: field \"pubkey\": %w", wire.ErrBadRequest, err)
	}
	c.dhKey = key
	c.reply(r.Seq, func(m *wire.Msg) {
		m.Key("pubkey")
		m.B = pack.AppendBytes(m.B, d.Pub)
	})
	return nil
}

// unseal opens a password the client sealed with the connection's key.
func (c *conn) unseal(sealed []byte) ([]byte, error) {
	if c.dhKey == nil {
		return nil, fmt.Errorf("%w: a password travels sealed: call diffie_hellman first", wire.ErrBadRequest)
	}
	d, err := auth.Open(c.dhKey, sealed)
	if err == nil && len(d) != 32 {
		err = errors.New("the sealed password is not a sha256 digest")
	}
	return d, err
}

// errLoginFailed is the one answer to a failed login: it does not say
// whether the user or the password was wrong.
var errLoginFailed = fmt.Errorf("%w: unknown user or wrong password", wire.ErrLogin)

// login is the auth action: it checks the user's proof and gives the
// connection the user's session. Failures are slowed down (auth.Throttle)
// and logged.
func (c *conn) login(r *call) error {
	if c.sess != rootSession {
		return fmt.Errorf("%w: this connection is logged in as %s already", wire.ErrBadRequest, c.sess.User)
	}
	if cur := c.s.AuthMethod(); cur != "" && r.Typ != cur {
		return fmt.Errorf("%w: this network logs in using %s, not %q", wire.ErrLogin, cur, r.Typ)
	}
	if !auth.Known(r.Typ) {
		return fmt.Errorf("%w: unknown method %q", wire.ErrLogin, r.Typ)
	}
	name := r.Ident
	if d := c.s.throttle.Delay(name, c.loginFails); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return c.ctx.Err()
		}
	}
	ok, err := c.checkLogin(r.Typ, name, r.Password)
	if err != nil {
		return err
	}
	if !ok {
		c.loginFails++
		c.s.throttle.Failed(name)
		c.log.Warn("failed login", "method", r.Typ, "user", name, "failures", c.loginFails)
		return errLoginFailed
	}
	c.s.throttle.Succeeded(name)
	c.sess = &Session{Method: r.Typ, User: name}
	c.log.Info("logged in", "method", r.Typ, "user", name)
	tock := c.s.tree.Tock()
	c.reply(r.Seq, func(m *wire.Msg) { m.Uint("tock", tock) })
	return nil
}

// checkLogin reports whether a client's proof is right.
func (c *conn) checkLogin(method, name string, sealed []byte) (bool, error) {
	var digest []byte
	if method == auth.Password {
		d, err := c.unseal(sealed)
		if errors.Is(err, wire.ErrBadRequest) {
			return false, err
		}
		if err != nil {
			auth.VerifyNobody(make([]byte, 32))
			return false, nil
		}
		digest = d
	}
	return c.s.verifyLogin(method, name, digest), nil
}

// verifyLogin reports whether name is a user of method and, for
// password, digest its password's. An unknown user costs the work of a
// wrong password.
func (s *Server) verifyLogin(method, name string, digest []byte) bool {
	var it tree.Item
	found := false
	if auth.CheckUserName(name) == nil {
		it, found = s.tree.Get(userPath(method, name))
		found = found && it.HasValue
	}
	if method == auth.Test {
		return found
	}
	if !found {
		auth.VerifyNobody(digest)
		return false
	}
	rec, err := decodeRecord(it.Value)
	var h auth.Hash
	if err == nil {
		h, err = auth.ParseHash(rec)
	}
	if err != nil {
		s.log.Error("a user record cannot be used: nobody can log in as this user until it is set again", "user", name, "err", err)
		auth.VerifyNobody(digest)
		return false
	}
	if !h.Verify(digest) {
		return false
	}
	if h.Plain {
		s.upgrade(userPath(method, name), it, rec, digest)
	}
	return true
}

// upgrade replaces an original's plain sha256 record by an argon2id one,
// if nobody changed the record meanwhile.
func (s *Server) upgrade(p path.Path, it tree.Item, rec pack.Map, digest []byte) {
	h, err := auth.NewHash(digest)
	var raw []byte
	if err == nil {
		raw, err = pack.Append(nil, auth.SetFields(rec, h.Fields()))
	}
	if err == nil {
		_, err = s.tree.Set(p, string(raw), tree.Cond{Chain: &tree.Want{Node: it.Head.Node.Name, Tick: it.Head.Tick}})
	}
	if err != nil {
		s.log.Warn("could not re-hash a plain password record", "path", p, "err", err)
		return
	}
	s.log.Info("re-hashed a plain password record with argon2id", "path", p)
}

// checkPeerLogin decides whether another server may be this one's peer
// (replica.Config.CheckLogin): while logins are on it must log in, with
// the current method, as a user bound by no ACL.
func (s *Server) checkPeerLogin(peer string, l *replica.PeerLogin) error {
	cur := s.AuthMethod()
	if cur == "" {
		return nil
	}
	if l == nil {
		return fmt.Errorf("sent no login, and logins are on (method %s): give that server connect.auth", cur)
	}
	if l.Method != cur {
		return fmt.Errorf("logs in using %s; this network uses %s", l.Method, cur)
	}
	if !s.verifyLogin(l.Method, l.User, l.Digest) {
		s.throttle.Failed(l.User)
		s.log.Warn("failed peer login", "peer", peer, "method", l.Method, "user", l.User)
		return errLoginFailed
	}
	// A user whom no ACL restricts may do everything everywhere, the
	// system tree included: a server copies all of it.
	if g := s.grant(&Session{Method: l.Method, User: l.User}, "peer", systemRoot); g.Allow != AllModes {
		return fmt.Errorf("logs in as %s, whom an ACL restricts (%s); a server logs in as a user without an ACL", l.User, g.By)
	}
	return nil
}

func decodeRecord(raw string) (pack.Map, error) {
	v, err := pack.Decode([]byte(raw))
	if err != nil {
		return nil, err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return nil, errors.New("a user record is a map")
	}
	return m, nil
}

// ErrExposed: logins are on (or asked for) while other machines can join
// this server's network without a proof: its gossip or peer port is
// reachable beyond loopback without a key (see warnExposure), and
// Cluster.Insecure does not say that this is wanted. Logins would then
// protect nothing, as anyone could join as a server and copy the data.
// Redis's protected mode is the model.
var ErrExposed = errors.New("logins would protect nothing")

// loginsAllowed returns an error if logins cannot be on (ErrExposed).
func (s *Server) loginsAllowed() error {
	why := s.exposed.Load()
	if why == nil {
		return nil
	}
	return fmt.Errorf("%w: %s, so anyone there can join as a server and copy every entry. Set server.serf.key on every server (distkv keygen makes one), bind the ports to loopback, or set server.peer.insecure: true if this is what you want", ErrExposed, *why)
}
