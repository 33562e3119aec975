package server

import (
	"fmt"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// The user actions: auth_set, auth_get, auth_list and set_auth_typ
// (auth_info is get_value of `None auth`). Their paths are in the system
// tree (see authPath), so the gate lets only users without an ACL, or
// with one that names `None auth` literally, use them.

// authSet adds or changes a user: {typ, ident, password?, aux?, chain?}.
// The password arrives sealed (see diffieHellman) and is stored as an
// argon2id hash; aux becomes the record's "_aux" (what the session gets:
// {acl: NAME, codec: LIST}). A new password user needs a password; a
// change without one keeps the old.
func (c *conn) authSet(r *call) error {
	rec := pack.Map{{Key: "_aux", Value: nil}}
	old, exists := c.s.tree.Get(r.path)
	exists = exists && old.HasValue
	if exists {
		m, err := decodeRecord(old.Value)
		if err != nil {
			c.log.Warn("replacing an unusable user record", "path", r.path, "err", err)
		} else {
			rec = m
		}
	}
	if r.HasAux {
		aux, err := parseAux(r.Aux)
		if err != nil {
			return err
		}
		rec = auth.SetFields(rec, pack.Map{{Key: "_aux", Value: aux}})
	}
	if r.Typ == auth.Password {
		switch {
		case len(r.Password) > 0:
			digest, err := c.unseal(r.Password)
			if err != nil {
				return fmt.Errorf("%w: field \"password\": %w", wire.ErrBadRequest, err)
			}
			h, err := auth.NewHash(digest)
			if err != nil {
				return err
			}
			rec = auth.SetFields(rec, h.Fields())
		case !exists:
			return fmt.Errorf("%w: a new user of method password needs a password", wire.ErrBadRequest)
		}
	}
	raw, err := pack.Append(nil, rec)
	if err != nil {
		return err
	}
	cd, err := c.cond(r)
	if err != nil {
		return err
	}
	if err := c.writeOrCreate(r, &cd); err != nil {
		return err
	}
	res, err := c.s.tree.Set(r.path, string(raw), cd)
	if err != nil {
		return err
	}
	return c.changeReply(r, cd, res)
}

// parseAux checks a user's aux data: nil, or a map whose "acl" and
// "codec" (or the original's "conv") are names.
func parseAux(raw []byte) (any, error) {
	if err := value.Validate(raw); err != nil {
		return nil, fmt.Errorf("%w: field \"aux\": %w", wire.ErrBadValue, err)
	}
	v, err := pack.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: field \"aux\": %w", wire.ErrBadValue, err)
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(pack.Map)
	if !ok {
		return nil, fmt.Errorf("%w: field \"aux\" is a map such as {acl: NAME}", wire.ErrBadValue)
	}
	for _, kv := range m {
		k, ok := kv.Key.(string)
		if !ok {
			return nil, fmt.Errorf("%w: field \"aux\": keys are strings", wire.ErrBadValue)
		}
		switch k {
		case "acl", "codec", "conv":
			if _, ok := kv.Value.(string); !ok && kv.Value != nil {
				return nil, fmt.Errorf("%w: field \"aux\": %s is a name", wire.ErrBadValue, k)
			}
		}
	}
	return m, nil
}

// authInfo is get_value of `None auth` (which holds the current method).
func (c *conn) authInfo(r *call) error {
	r.HasPath = true
	return c.getValue(r)
}

// userInfo is what may be told about a user: never the password's hash.
func userInfo(m *wire.Msg, typ, ident string, it *tree.Item, nchain int) {
	m.Str("typ", typ)
	m.Str("kind", "user")
	m.Str("ident", ident)
	m.Str("name", ident)
	if rec, err := decodeRecord(it.Value); err == nil {
		if aux, ok := rec.Get("_aux"); ok {
			if b, err := pack.Append(nil, aux); err == nil {
				m.Raw("aux", string(b))
			}
		}
	}
	if nchain != 0 && it.Head.Node != nil {
		m.Chain("chain", it.Head, it.Older, nchain)
	}
}

// authGet tells about one user: {typ, kind, ident, name, aux, chain?}.
func (c *conn) authGet(r *call) error {
	it, ok := c.s.tree.Get(r.path)
	if !ok || !it.HasValue {
		return fmt.Errorf("%w: no user %q of method %s", wire.ErrNoData, r.Ident, r.Typ)
	}
	n := nchain(r.Request, 0)
	c.reply(r.Seq, func(m *wire.Msg) {
		userInfo(m, r.Typ, r.Ident, &it, n)
		m.Uint("tock", it.Tock)
	})
	return nil
}

// authList streams the users of a method, one message each, as authGet
// tells them; with ident, just that one.
func (c *conn) authList(r *call) error {
	st := c.streamOf(r.Request)
	st.state("start")
	n := nchain(r.Request, 0)
	if r.Ident != "" {
		if it, ok := c.s.tree.Get(r.path); ok && it.HasValue {
			st.send(func(m *wire.Msg) { userInfo(m, r.Typ, r.Ident, &it, n) })
		}
		return nil
	}
	c.s.tree.Walk(r.path, tree.WalkOptions{MinDepth: 1, MaxDepth: 1}, func(items []tree.Item) bool {
		for i := range items {
			name, _ := items[i].Path.Last().Value().(string)
			st.send(func(m *wire.Msg) { userInfo(m, r.Typ, name, &items[i], n) })
		}
		return st.pace()
	})
	return nil
}

// setAuthTyp switches the current method ({typ: METHOD}), or turns
// logins off ({typ: null}). It refuses a method without users: the
// switch would lock everybody out.
func (c *conn) setAuthTyp(r *call) error {
	if !r.HasTyp {
		return fmt.Errorf("%w: set_auth_typ needs typ (a method, or null to turn logins off)", wire.ErrBadRequest)
	}
	typ := r.Typ
	if typ == auth.Root {
		typ = ""
	}
	if typ != "" {
		if !auth.Known(typ) {
			return fmt.Errorf("%w: typ %q: the login methods are %s and %s", wire.ErrBadRequest, typ, auth.Test, auth.Password)
		}
		if err := c.s.canSwitchTo(typ); err != nil {
			return err
		}
	}
	rec := pack.Map{}
	if it, ok := c.s.tree.Get(authRoot); ok && it.HasValue {
		if m, err := decodeRecord(it.Value); err == nil {
			rec = m
		}
	}
	kept := rec[:0]
	for _, kv := range rec {
		if k, _ := kv.Key.(string); k != "current" {
			kept = append(kept, kv)
		}
	}
	rec = kept
	if typ != "" {
		rec = append(rec, pack.KV{Key: "current", Value: typ})
	}
	raw, err := pack.Append(nil, rec)
	if err != nil {
		return err
	}
	cd, err := c.cond(r)
	if err != nil {
		return err
	}
	res, err := c.s.tree.Set(authRoot, string(raw), cd)
	if err != nil {
		return err
	}
	if typ == "" {
		c.log.Warn("logins turned off: every client has the rights of root")
	} else {
		c.log.Info("logins switched on", "method", typ)
	}
	return c.changeReply(r, cd, res)
}

// users counts the users of a method, up to 2.
func (s *Server) users(method string) int {
	n := 0
	s.tree.Walk(authRoot.Join(path.Must(method, "user")), tree.WalkOptions{MinDepth: 1, MaxDepth: 1}, func(items []tree.Item) bool {
		n += len(items)
		return n < 2
	})
	return n
}

// canSwitchTo returns why logins cannot be switched to method: a method
// without users would lock everybody out, and an exposed server would
// protect nothing (loginsAllowed).
func (s *Server) canSwitchTo(method string) error {
	if s.users(method) == 0 {
		return fmt.Errorf("%w: method %s has no user yet: add one first (distkv client auth -m %s user add name=…), or nobody could log in", wire.ErrBadRequest, method, method)
	}
	return s.loginsAllowed()
}

// checkAuthRecord guards what a client writes or deletes directly in the
// system tree (set_internal, delete_internal) against what the user
// actions refuse: logins switched to a method without users or on an
// exposed server, and deleting the last user of the current method.
func (s *Server) checkAuthRecord(p path.Path, v []byte, del bool) error {
	rel, ok := p.TrimPrefix(authRoot)
	if !ok {
		return nil
	}
	if rel.IsRoot() {
		if del {
			return nil // logins off
		}
		cur := currentMethod(string(v))
		if cur == "" || cur == s.AuthMethod() {
			return nil
		}
		if !auth.Known(cur) {
			return fmt.Errorf("%w: %v: current: %q is not a login method (%s, %s)", wire.ErrBadValue, p, cur, auth.Test, auth.Password)
		}
		return s.canSwitchTo(cur)
	}
	// METHOD user NAME: the last user of the current method stays.
	if !del || rel.Len() != 3 {
		return nil
	}
	method, _ := rel.Split()
	if m, _ := method.Value().(string); m != "" && m == s.AuthMethod() && s.users(m) < 2 {
		return fmt.Errorf("%w: %v is the last user of the current login method %s: turn logins off (auth init --off) or switch first, or nobody could log in", wire.ErrBadRequest, p, m)
	}
	return nil
}
