package types

import (
	"context"
	"errors"
	"fmt"
	"github.com/distkv-go/distkv/internal/memo"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
)

// Runner compiles and runs validator scripts.
type Runner interface {
	// Compile compiles a script's source; name says where it comes from.
	Compile(name, src string) (Proc, error)
}

// Proc is a compiled script. Call runs it with the value to check as the
// variable "value" (in core/pack's value model); an error refuses the
// value, and its message is what the client reads. pure reports that the
// outcome depends on the value alone (see luart.Runtime.CallPure), so
// that it may be remembered.
type Proc interface {
	Call(ctx context.Context, value any) (pure bool, err error)
}

// The system tree's roots of types and matches.
var (
	TypeRoot  = path.Must(nil, "type")
	MatchRoot = path.Must(nil, "match")
)

// Checker is the server's Checker for types (see server.Checker).
type Checker struct {
	run  Runner
	tree *tree.Tree
	log  *slog.Logger

	snap atomic.Pointer[snapshot]
	gen  atomic.Uint64 // snapshots built, for Wait

	mu   sync.Mutex // serializes rebuilds
	stop func()     // ends following the tree
}

// typ is one compiled type.
type typ struct {
	raw  string // the record it was compiled from
	name path.Path
	proc Proc  // nil: no code (accepts everything)
	err  error // the stored record cannot be used: refuses everything
}

// snapshot is one compiled state of the records; never changed, but for
// its targets' memos.
type snapshot struct {
	types   map[string]*typ // by the type path's encoding
	match   *acl.ACL        // nil: no match
	targets []target        // of each match rule, by MatchIndex
}

// target is the type a match rule names, with its memo: the outcome of
// the type's chain for a value (the raw value → error, nil if it passes)
// when every script of the chain was pure. Values repeat (percentages,
// ON/OFF), and a Lua call costs about a microsecond. It lives as long as
// the snapshot, so any change of a type or match starts afresh.
type target struct {
	name path.Path
	memo *memo.Cache[error]
}

// The largest value a memo remembers (see internal/memo for how many).
const maxMemoValue = 256

// New returns a Checker of the types in t, following their changes until
// Close.
func New(t *tree.Tree, run Runner, log *slog.Logger) *Checker {
	c := &Checker{run: run, tree: t, log: log}
	c.stop = t.Follow(path.Must(nil), func(p path.Path) bool {
		return p.HasPrefix(TypeRoot) || p.HasPrefix(MatchRoot)
	}, c.followed)
	return c
}

// Close stops following the tree.
func (c *Checker) Close() { c.stop() }

// rebuild reads every type and match into a new snapshot.
func (c *Checker) rebuild() {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &snapshot{types: map[string]*typ{}}
	var prev map[string]*typ
	if old := c.snap.Load(); old != nil {
		prev = old.types
	}
	c.tree.Walk(TypeRoot, tree.WalkOptions{MinDepth: 1, MaxDepth: -1}, func(items []tree.Item) bool {
		for i := range items {
			it := &items[i]
			name, _ := it.Path.TrimPrefix(TypeRoot)
			// An unchanged record keeps its compiled script: a rebuild
			// after one change must not recompile thousands.
			if old := prev[name.Encoded()]; old != nil && old.raw == it.Value {
				s.types[name.Encoded()] = old
				continue
			}
			t := &typ{name: name.Clone(), raw: it.Value}
			rec, err := parseType(it.Value)
			if err == nil && rec.code != "" {
				t.proc, err = c.run.Compile("type "+name.String(), rec.code)
			}
			if err != nil {
				t.err = err
				c.log.Warn("a stored type cannot be used: writes it checks are refused", "type", name.String(), "err", err)
			}
			s.types[name.Encoded()] = t
		}
		return true
	})
	var rules []acl.Rule
	c.tree.Walk(MatchRoot, tree.WalkOptions{MinDepth: 1, MaxDepth: -1}, func(items []tree.Item) bool {
		for i := range items {
			it := &items[i]
			pattern, _ := it.Path.TrimPrefix(MatchRoot)
			name, err := matchTarget(it.Value)
			if err != nil {
				c.log.Warn("a stored type match cannot be used: it is ignored", "match", pattern.String(), "err", err)
				continue
			}
			rules = append(rules, acl.Rule{Pattern: pattern.Clone(), Modes: acl.ModeRead})
			s.targets = append(s.targets, target{name: name, memo: memo.New[error]()})
		}
		return true
	})
	if len(rules) > 0 {
		m, err := acl.Compile(rules)
		if err != nil {
			c.log.Error("type matches cannot be compiled: no value is checked", "err", err)
		} else {
			s.match = m
		}
	}
	c.snap.Store(s)
}

// followed rebuilds after a change of the records was applied.
func (c *Checker) followed() {
	c.rebuild()
	c.gen.Add(1)
}

// Generation counts the tables built after changes of the records were
// applied (not those Check builds to check a record before it is
// stored): a test that waits for it to move then sees the change.
func (c *Checker) Generation() uint64 { return c.gen.Load() }

// Check implements server.Checker: for a data path, the matched type's
// chain; for a type or match record, the record's own rules.
func (c *Checker) Check(_ *server.Session, p path.Path, value []byte) error {
	s := c.snap.Load()
	switch {
	case p.HasPrefix(TypeRoot) || p.HasPrefix(MatchRoot):
		// A record may rest on one set a moment ago (a supertype, the
		// type of a match) that the subscriber has not compiled yet: read
		// the records now. Records are set rarely.
		c.rebuild()
		s = c.snap.Load()
		if p.HasPrefix(TypeRoot) {
			return c.checkType(s, p, value)
		}
		return c.checkMatch(s, p, value)
	case s.match == nil:
		return nil
	}
	i, ok := s.match.MatchIndex(p)
	if !ok {
		return nil
	}
	target := s.targets[i]
	small := len(value) <= maxMemoValue
	if small {
		if err, ok := target.memo.Get(value); ok {
			return err
		}
	}
	v, err := pack.Decode(value)
	if err != nil {
		return err
	}
	pure, err := s.chainPure(target.name, v, nil)
	if pure && small {
		target.memo.Put(value, err)
	}
	return err
}

// chain runs v through the type name's supertypes, root first, then the
// type itself; extra, if not nil, stands in for the type's own code (a
// record being set). A missing type refuses the value.
func (s *snapshot) chain(name path.Path, v any, extra Proc) error {
	_, err := s.chainPure(name, v, extra)
	return err
}

// chainPure is chain that also reports whether every script it ran was
// pure (see Proc).
func (s *snapshot) chainPure(name path.Path, v any, extra Proc) (pure bool, err error) {
	pure = true
	run := func(p Proc, tn path.Path) error {
		ok, err := call(p, tn, v)
		pure = pure && ok
		return err
	}
	n := name.Len()
	for depth := 1; depth <= n; depth++ {
		tn := name.Prefix(depth)
		if depth == n && extra != nil {
			if err := run(extra, tn); err != nil {
				return pure, err
			}
			continue
		}
		t := s.types[tn.Encoded()]
		if t == nil {
			if depth == n {
				return pure, fmt.Errorf("type %v does not exist", tn)
			}
			continue // an intermediate name without a record checks nothing
		}
		if t.err != nil {
			return pure, fmt.Errorf("type %v cannot be used: %w", tn, t.err)
		}
		if t.proc != nil {
			if err := run(t.proc, tn); err != nil {
				return pure, err
			}
		}
	}
	return pure, nil
}

// CheckError is a value a type refused.
type CheckError struct {
	Type path.Path
	Err  error
}

func (e *CheckError) Error() string { return fmt.Sprintf("type %v: %v", e.Type, e.Err) }
func (e *CheckError) Unwrap() error { return e.Err }

func call(p Proc, name path.Path, v any) (pure bool, err error) {
	pure, err = p.Call(context.Background(), v)
	if err != nil {
		return pure, &CheckError{Type: name, Err: err}
	}
	return pure, nil
}

// record is a type record's fields.
type record struct {
	code      string
	good, bad []any
}

func parseType(raw string) (record, error) {
	var rec record
	v, err := pack.Decode([]byte(raw))
	if err != nil {
		return rec, err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return rec, errors.New("a type record is a map {code, good, bad}")
	}
	if c, ok := m.Get("code"); ok && c != nil {
		if rec.code, ok = c.(string); !ok {
			return rec, errors.New("a type's code is a string")
		}
	}
	for _, f := range []struct {
		key string
		to  *[]any
	}{{"good", &rec.good}, {"bad", &rec.bad}} {
		if l, ok := m.Get(f.key); ok {
			if *f.to, ok = l.([]any); !ok {
				return rec, fmt.Errorf("a type's %s examples are a list", f.key)
			}
		}
	}
	return rec, nil
}

// checkType accepts a type record only if its examples hold (see the
// package doc).
func (c *Checker) checkType(s *snapshot, p path.Path, value []byte) error {
	name, _ := p.TrimPrefix(TypeRoot)
	if name.IsRoot() {
		return fmt.Errorf("%v holds no type; name one below it", p)
	}
	rec, err := parseType(string(value))
	if err != nil {
		return fmt.Errorf("type %v: %w", name, err)
	}
	if len(rec.good) < 2 || len(rec.bad) < 1 {
		return fmt.Errorf("type %v needs at least two good examples and one bad one (%d, %d given)", name, len(rec.good), len(rec.bad))
	}
	var proc Proc
	if rec.code != "" {
		if proc, err = c.run.Compile("type "+name.String(), rec.code); err != nil {
			return err // names the type and the line
		}
	}
	super := name.Prefix(name.Len() - 1)
	for _, g := range rec.good {
		if err := s.chain(super, g, nil); err != nil && !super.IsRoot() {
			return fmt.Errorf("type %v: good example %s fails supertype %v: %w", name, show(g), super, err)
		}
		if proc != nil {
			if _, err := call(proc, name, g); err != nil {
				return fmt.Errorf("type %v: good example %s fails: %w", name, show(g), unwrapCheck(err))
			}
		}
	}
	for _, b := range rec.bad {
		if err := s.chain(super, b, nil); err != nil && !super.IsRoot() {
			return fmt.Errorf("type %v: bad example %s fails supertype %v already: %w", name, show(b), super, err)
		}
		if proc == nil {
			return fmt.Errorf("type %v: bad example %s passes: the type has no code", name, show(b))
		}
		if _, err := call(proc, name, b); err == nil {
			return fmt.Errorf("type %v: bad example %s passes", name, show(b))
		}
	}
	return nil
}

func unwrapCheck(err error) error {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

// checkMatch accepts a match only of an existing type.
func (c *Checker) checkMatch(s *snapshot, p path.Path, value []byte) error {
	pattern, _ := p.TrimPrefix(MatchRoot)
	if pattern.IsRoot() {
		return fmt.Errorf("%v holds no match; name a path pattern below it", p)
	}
	target, err := matchTarget(string(value))
	if err != nil {
		return fmt.Errorf("match %v: %w", pattern, err)
	}
	if s.types[target.Encoded()] == nil {
		return fmt.Errorf("match %v: type %v does not exist", pattern, target)
	}
	return nil
}

// matchTarget reads a match record's type: a path (msgpack ext 3 or a
// list of elements) or a string in the path text form.
func matchTarget(raw string) (path.Path, error) {
	r := pack.NewReader([]byte(raw))
	var target path.Path
	found := false
	err := r.ReadMap(func(key []byte) error {
		if string(key) != "type" {
			return r.Skip()
		}
		found = true
		if k, _ := r.Peek(); k == pack.KindStr {
			s, err := r.ReadString()
			if err != nil {
				return err
			}
			target, err = path.Parse(s)
			return err
		}
		var err error
		target, err = path.Read(r)
		return err
	})
	switch {
	case err != nil:
		return target, fmt.Errorf("a match record is a map {type: PATH}: %w", err)
	case !found || target.IsRoot():
		return target, errors.New("a match record needs type, the type's name")
	}
	return target, nil
}

// show prints an example for an error.
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
