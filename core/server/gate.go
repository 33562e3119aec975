package server

import (
	"fmt"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// This file is the request gate: what every request passes before its
// action runs (see handle in actions.go), and the hooks that user code,
// logins and ACLs plug into. core/server declares the hooks; cmd/distkv
// wires in implementations. A nil Access is the built-in policy
// (policy.go); the other nil hooks allow everything and change nothing,
// at no cost.

// Session is what the gate knows of a client connection. A connection's
// session is replaced whole (at a login), never changed in place, so a
// stream may keep the one it started with.
type Session struct {
	// Method is the login method the user logged in with ("password",
	// "_test"); "" before any login.
	Method string
	// User is the logged-in user; "" before any login, when the
	// connection has the rights of root (the start state).
	User string

	// bound caches the built-in policy's lookup of the user, per snapshot.
	bound atomic.Pointer[binding]
}

// rootSession is the session of a connection nobody logged in on.
var rootSession = &Session{}

// Modes and its constants live in core/acl, which matches ACLs; these
// aliases keep the gate's users unchanged.
type Modes = acl.Modes

// The access modes (see core/acl).
const (
	ModeRead    = acl.ModeRead
	ModeWrite   = acl.ModeWrite
	ModeCreate  = acl.ModeCreate
	ModeDelete  = acl.ModeDelete
	ModeAccess  = acl.ModeAccess
	ModeEnum    = acl.ModeEnum
	ModeNew     = acl.ModeNew
	ModeReadACL = acl.ModeReadACL
	AllModes    = acl.AllModes
)

// ParseModes reads a string of mode letters (acl.ParseModes).
func ParseModes(s string) (Modes, error) { return acl.ParseModes(s) }

// Grant is what a session may do at one path, and why.
type Grant struct {
	Allow Modes
	// By says in plain words what decided, for the error of a refusal:
	// "ACL writeonly, rule wom.#". Empty for allow-all.
	By string
}

// Need returns nil if g allows every mode in m, else an *AccessError.
func (g Grant) Need(action string, p path.Path, m Modes) error {
	if g.Allow&m == m {
		return nil
	}
	return &AccessError{Action: action, Path: p, Missing: m &^ g.Allow, Grant: g}
}

// Access decides what a session may do. Grant is asked once per request
// for the request's resolved path, and in walks, watches and enums once
// per item that would go out. It must be safe for concurrent use, fast,
// and must not block or call into the server.
//
// The path is absolute: the connection's root is joined in, and the
// system tree's paths start with the None element (systemRoot). Actions
// that concern the whole server (save, log, get_state) ask for the
// system root; msg_send and msg_monitor ask for the message's topic.
type Access interface {
	Grant(s *Session, action string, p path.Path) Grant
}

// Pruner is what an Access may also implement: Hidden reports that the
// session may read nothing at or below p, so that walks skip the whole
// subtree without reading it. It must depend on the path alone (not on
// the entries), be fast, and not block.
type Pruner interface {
	Hidden(s *Session, action string, p path.Path) bool
}

// Checker checks a value before it is stored at p (a type check). It is
// called for every local set of a client, before the tree takes its lock,
// and not for changes that arrive from other servers. The value is raw
// msgpack and must not be kept. Checker must be safe for concurrent use
// and should be fast: the client waits for it.
type Checker interface {
	Check(s *Session, p path.Path, value []byte) error
}

// Codec converts values between what a client sends or sees and what the
// tree stores, per session and path. Decode runs on the way in (set's
// value and prev), Encode on the way out (every value a reply carries).
// Both get raw msgpack, must not keep it and must return raw msgpack.
// An error fails a request for one value (naming the path); in get_tree,
// watch, enum and delete_tree the item (or its old value) is left out
// and logged, and the stream goes on. A Codec must be safe for
// concurrent use and fast when it converts nothing: it runs on every
// value in and out.
type Codec interface {
	Decode(s *Session, p path.Path, value []byte) ([]byte, error)
	Encode(s *Session, p path.Path, value []byte) ([]byte, error)
}

// Hooks are the gate's implementations. A nil Access is the built-in
// policy (policy.go); the other nil fields allow everything and convert
// nothing.
type Hooks struct {
	Access  Access
	Checker Checker
	Codec   Codec
}

// AccessError is a request the session may not make.
type AccessError struct {
	Action  string
	Path    path.Path
	Missing Modes // the modes the grant lacked
	Grant   Grant
}

// Error says what was refused, what was missing and what decided:
//
//	access denied: set_value at wom.foo.bar needs w (write): ACL writeonly, rule wom.#, allows only cx
func (e *AccessError) Error() string {
	msg := fmt.Sprintf("access denied: %s at %v needs %s", e.Action, e.Path, e.Missing.Describe())
	if e.Grant.By != "" {
		msg += ": " + e.Grant.By
	}
	if e.Grant.Allow == 0 {
		return msg + ", allows nothing"
	}
	return msg + ", allows only " + e.Grant.Allow.String()
}

func (e *AccessError) Unwrap() error { return wire.ErrAccess }

// grant asks the Access hook what sess may do at p.
func (s *Server) grant(sess *Session, action string, p path.Path) Grant {
	if s.hooks.Access == nil {
		return Grant{Allow: AllModes}
	}
	return s.hooks.Access.Grant(sess, action, p)
}

// pruner returns the walk's prune predicate for the session: nil unless
// the Access hook is a Pruner.
func (c *conn) pruner(sess *Session, action string) func(path.Path) bool {
	if pol, ok := c.s.hooks.Access.(*policy); ok {
		if sess.User == "" {
			return nil // root: nothing to prune, and no call per entry
		}
		// Hidden runs under the tree lock and cannot rebuild a stale
		// snapshot: do it now.
		pol.current()
	}
	pr, ok := c.s.hooks.Access.(Pruner)
	if !ok {
		return nil
	}
	return func(p path.Path) bool { return pr.Hidden(sess, action, p) }
}

// outValue is the one way a stored value leaves for a client: it reports
// false when the session may not read it (walks and watches then skip
// the item), and passes it through the codec.
func (c *conn) outValue(sess *Session, action string, it *tree.Item) (string, bool, error) {
	if c.s.hooks.Access != nil && c.s.grant(sess, action, it.Path).Allow&ModeRead == 0 {
		return "", false, nil
	}
	return c.encodeOut(sess, it)
}

// outValueAt is outValue for the value at the request's own path, whose
// grant the gate asked for already.
func (c *conn) outValueAt(r *call, it *tree.Item) (string, bool, error) {
	if it.Path != r.path {
		return c.outValue(r.sess, r.Action, it)
	}
	if r.grant.Allow&ModeRead == 0 {
		return "", false, nil
	}
	return c.encodeOut(r.sess, it)
}

func (c *conn) encodeOut(sess *Session, it *tree.Item) (string, bool, error) {
	h := &c.s.hooks
	if !it.HasValue || h.Codec == nil {
		return it.Value, true, nil
	}
	v, err := h.Codec.Encode(sess, it.Path, []byte(it.Value))
	if err != nil {
		return "", false, fmt.Errorf("encode the value at %v: %w", it.Path, err)
	}
	return string(v), true, nil
}

// codecFailed logs that a value was left out of what goes to the client
// because the codec could not convert it: a warning once a minute per
// user and msg, since a walk over many values of a broken codec would
// otherwise log one line for each.
func (c *conn) codecFailed(sess *Session, msg string, err error, args ...any) {
	args = append(args, "user", sess.User, "err", err)
	c.s.quiet.Warn(c.log, msg+"\x00"+sess.Method+"\x00"+sess.User, msg, args...)
}

// inValue passes a value a client sends for p through the codec.
func (c *conn) inValue(p path.Path, v []byte) ([]byte, error) {
	if c.s.hooks.Codec == nil {
		return v, nil
	}
	out, err := c.s.hooks.Codec.Decode(c.sess, p, v)
	if err != nil {
		return nil, fmt.Errorf("decode the value for %v: %w", p, err)
	}
	return out, nil
}
