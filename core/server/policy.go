package server

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// The built-in access policy: the Access (and Pruner) a server uses when
// Config.Hooks.Access is nil. It reads the original's records from the
// system tree:
//
//	None acl NAME PATTERN…            "rwc…": the modes of one rule of ACL NAME
//	None auth METHOD user NAME        the user record: {_aux: {acl: NAME}, …}
//	None auth METHOD user NAME acl    {key: NAME}: the param form; it wins over _aux.acl
//
// Decisions:
//
//   - No login (Session.User ""): everything, at the cost of one
//     comparison.
//   - A user without an ACL (none named, or "*"): everything. The
//     original's NullACL refuses only "a" (reading ACL flags); here such
//     a user is what the tutorial calls a "root" user, trusted with the
//     system tree anyway (it can rewrite every ACL), so hiding the ACL
//     flags from it would protect nothing.
//   - A user bound to ACL NAME: the modes of the deciding rule (see
//     core/acl); no rule, or an ACL without rules: nothing.
//   - A user whose record is gone (deleted after the login): nothing.
//
// The records are compiled into an immutable snapshot. A tree watch on
// `None acl` and `None auth` counts a change (the watch runs under the
// tree lock and may not read the tree); the next Grant rebuilds the
// snapshot before deciding, and Grants that come meanwhile wait for it. Grant is never called with the tree lock held (walks call
// their callbacks after releasing it); Hidden is (it is a walk's Prune),
// so it only reads the snapshot, and the gate refreshes the snapshot
// before a walk starts (see conn.pruner).
type policy struct {
	tree *tree.Tree
	log  *slog.Logger

	// gen counts the changes of the records; a snapshot holds the gen it
	// was built at, so one older than gen is stale.
	gen  atomic.Uint64
	snap atomic.Pointer[policySnap]

	mu     sync.Mutex      // serializes rebuilds; protects logged
	logged map[string]bool // malformed records logged already, by path and value
}

var (
	_ Access = (*policy)(nil)
	_ Pruner = (*policy)(nil)
)

var aclRoot = systemRoot.Child(path.Str("acl"))

// policySnap is one compiled state of the records; never changed.
type policySnap struct {
	gen uint64 // policy.gen when the build began
	// users holds every user record; a nil *boundACL: no ACL.
	users map[auth.User]*boundACL
	// acls holds every ACL that has rules or that a user names.
	acls map[string]*boundACL
}

// boundACL is a compiled ACL with the texts its grants carry.
type boundACL struct {
	acl   *acl.ACL
	modes []Modes  // by rule index
	by    []string // by rule index: "ACL NAME, rule PATTERN"
	none  string   // the By of a path no rule matches
}

func newPolicy(t *tree.Tree, log *slog.Logger) *policy {
	p := &policy{tree: t, log: log, logged: map[string]bool{}}
	// One watch of the system tree rather than two: each watched prefix
	// length costs every change of the tree a lookup. Never cancelled: it
	// lives as long as the tree.
	t.Watch(systemRoot, func(it *tree.Item) {
		if it.Path.HasPrefix(aclRoot) || it.Path.HasPrefix(authRoot) {
			p.gen.Add(1)
		}
	})
	return p
}

// current returns the snapshot, rebuilt first if a record changed. The
// caller must not hold the tree lock. A caller that finds the snapshot
// stale while another rebuilds it waits for that rebuild (or makes one),
// so that it never decides by records older than its request (nor, before
// the first build, by none).
func (p *policy) current() *policySnap {
	if snap := p.snap.Load(); snap != nil && snap.gen == p.gen.Load() {
		return snap
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	snap := p.snap.Load()
	// gen is read before the records: a change during the rebuild leaves
	// the new snapshot stale, and the next call reads once more.
	if g := p.gen.Load(); snap == nil || snap.gen != g {
		snap = p.build()
		snap.gen = g
		p.snap.Store(snap)
	}
	return snap
}

// Grant implements Access.
func (p *policy) Grant(s *Session, action string, at path.Path) Grant {
	if s.User == "" {
		return Grant{Allow: AllModes}
	}
	return p.current().grant(s, at)
}

// binding is a session's user as one snapshot knows it.
type binding struct {
	snap *policySnap
	acl  *boundACL // nil: no ACL
	ok   bool      // the user record exists
}

// user finds the session's user, through the session's cache: the map
// lookup hashes two strings, a request should not pay for it.
func (snap *policySnap) user(s *Session) (*boundACL, bool) {
	if c := s.bound.Load(); c != nil && c.snap == snap {
		return c.acl, c.ok
	}
	b, ok := snap.users[auth.User{Method: s.Method, Name: s.User}]
	s.bound.Store(&binding{snap: snap, acl: b, ok: ok})
	return b, ok
}

func (snap *policySnap) grant(s *Session, at path.Path) Grant {
	b, ok := snap.user(s)
	switch {
	case !ok:
		return Grant{By: fmt.Sprintf("user %s (%s) does not exist (any more)", s.User, s.Method)}
	case b == nil:
		return Grant{Allow: AllModes}
	}
	return b.grant(at)
}

func (b *boundACL) grant(at path.Path) Grant {
	i, ok := b.acl.MatchIndex(at)
	if !ok {
		return Grant{By: b.none}
	}
	return Grant{Allow: b.modes[i], By: b.by[i]}
}

// grantACL is what ACL name grants at a path (test_acl's "acl"): "*"
// everything, an ACL without rules nothing.
func (p *policy) grantACL(name string, at path.Path) Grant {
	if name == "*" {
		return Grant{Allow: AllModes}
	}
	b := p.current().acls[name]
	if b == nil {
		b = emptyACL(name)
	}
	return b.grant(at)
}

// Hidden implements Pruner: true where no rule of the session's ACL can
// grant read at or below at. It runs under the tree lock: it reads the
// snapshot as it is.
func (p *policy) Hidden(s *Session, action string, at path.Path) bool {
	if s.User == "" {
		return false
	}
	snap := p.snap.Load()
	if snap == nil {
		return false // not built yet: every item is still checked by Grant
	}
	b, ok := snap.user(s)
	switch {
	case !ok:
		return true
	case b == nil:
		return false
	}
	return !b.acl.Reaches(at, ModeRead)
}

func emptyACL(name string) *boundACL {
	a, _ := acl.Compile(nil)
	return &boundACL{acl: a, none: fmt.Sprintf("ACL %s has no rules", name)}
}

// build reads the records into a new snapshot; p.mu is held.
func (p *policy) build() *policySnap {
	seen := map[string]bool{}
	bad := func(it *tree.Item, format string, args ...any) {
		k := it.Path.Encoded() + "\x00" + it.Value
		seen[k] = true
		if !p.logged[k] {
			p.log.Warn("a malformed access record grants nothing", "path", it.Path.String(), "problem", fmt.Sprintf(format, args...))
		}
	}
	snap := &policySnap{users: map[auth.User]*boundACL{}, acls: map[string]*boundACL{}}

	// The rules, by ACL name.
	rules := map[string][]acl.Rule{}
	var order []string
	p.tree.Walk(aclRoot, tree.WalkOptions{MinDepth: 1, MaxDepth: -1}, func(items []tree.Item) bool {
		for i := range items {
			it := &items[i]
			rel, _ := it.Path.TrimPrefix(aclRoot)
			first, pattern := rel.Split()
			name, ok := first.StrValue()
			if !ok {
				bad(it, "the ACL name %v is not a string", first)
				continue
			}
			modes, err := recordModes(it.Value)
			if err != nil {
				bad(it, "%v", err)
			}
			if _, ok := rules[name]; !ok {
				order = append(order, name)
			}
			rules[name] = append(rules[name], acl.Rule{Pattern: pattern.Clone(), Modes: modes})
		}
		return true
	})
	for _, name := range order {
		snap.acls[name] = p.compile(name, rules[name])
	}

	// The users and the ACL each is bound to.
	users := auth.Bindings{Param: "acl", Aux: []string{"acl"}}
	p.tree.Walk(authRoot, tree.WalkOptions{MinDepth: 3, MaxDepth: 4}, func(items []tree.Item) bool {
		for i := range items {
			rel, _ := items[i].Path.TrimPrefix(authRoot)
			users.Add(rel, items[i].Value)
		}
		return true
	})
	for u, bd := range users.Users() {
		switch {
		case bd.Err != nil:
			bad(&tree.Item{Path: userPath(u.Method, u.Name), Value: bd.Err.Error()}, "%v", bd.Err)
			snap.users[u] = &boundACL{acl: emptyACL("").acl, none: fmt.Sprintf("the ACL binding of user %s (%s) is malformed (see the server log)", u.Name, u.Method)}
		case bd.Name == "" || bd.Name == "*":
			snap.users[u] = nil
		default:
			a := snap.acls[bd.Name]
			if a == nil {
				a = emptyACL(bd.Name)
				snap.acls[bd.Name] = a
			}
			snap.users[u] = a
		}
	}
	p.logged = seen
	return snap
}

// compile builds one ACL; malformed rules are in it with no modes.
func (p *policy) compile(name string, rules []acl.Rule) *boundACL {
	a, err := acl.Compile(rules)
	if err != nil {
		// The tree holds each path once and within the limits: not reached.
		p.log.Error("an ACL cannot be compiled; it grants nothing", "acl", name, "err", err)
		return emptyACL(name)
	}
	b := &boundACL{acl: a, none: fmt.Sprintf("ACL %s, no rule matches", name)}
	for _, r := range rules {
		b.modes = append(b.modes, r.Modes)
		b.by = append(b.by, fmt.Sprintf("ACL %s, rule %v", name, r.Pattern))
	}
	return b
}

// recordModes reads an ACL rule's value: a string of mode letters.
func recordModes(raw string) (Modes, error) {
	v, err := value.Decode([]byte(raw))
	if err != nil {
		return 0, err
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("the modes must be a string of the letters rwcdxena, not %T", v)
	}
	return ParseModes(s)
}

// checkRecord refuses a client's value for an ACL rule (below None acl)
// that is not a string of mode letters: the policy would make such a rule
// grant nothing, silently.
func checkRecord(p path.Path, v []byte) error {
	rel, ok := p.TrimPrefix(aclRoot)
	if !ok || rel.IsRoot() {
		return nil
	}
	if first, _ := rel.Split(); first.Kind() != path.String {
		return fmt.Errorf("an ACL rule at %v: the element after %v must be the ACL's name, a string", p, aclRoot)
	}
	if _, err := recordModes(string(v)); err != nil {
		return fmt.Errorf("an ACL rule at %v: %w", p, err)
	}
	return nil
}
