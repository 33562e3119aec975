package codecs

import (
	"errors"
	"fmt"
	"github.com/distkv-go/distkv/internal/memo"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// record is a codec record's fields.
type record struct {
	encode, decode string
	in, out        [][2]any
}

// parseCodec reads a codec record.
func parseCodec(raw string) (record, error) {
	var rec record
	v, err := value.Decode([]byte(raw))
	if err != nil {
		return rec, err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return rec, errors.New("a codec record is a map {encode, decode, in, out}")
	}
	for _, f := range []struct {
		key string
		to  *string
	}{{"encode", &rec.encode}, {"decode", &rec.decode}} {
		if s, ok := m.Get(f.key); ok && s != nil {
			if *f.to, ok = s.(string); !ok {
				return rec, fmt.Errorf("a codec's %s script is a string, not %T", f.key, s)
			}
		}
	}
	for _, f := range []struct {
		key string
		to  *[][2]any
	}{{"in", &rec.in}, {"out", &rec.out}} {
		l, ok := m.Get(f.key)
		if !ok || l == nil {
			continue
		}
		pairs, ok := l.([]any)
		if !ok {
			return rec, fmt.Errorf("a codec's %s examples are a list of [IN, OUT] pairs, not %T", f.key, l)
		}
		for i, p := range pairs {
			pair, ok := p.([]any)
			if !ok || len(pair) != 2 {
				return rec, fmt.Errorf("a codec's %s example %d is not a pair [IN, OUT]", f.key, i+1)
			}
			*f.to = append(*f.to, [2]any{pair[0], pair[1]})
		}
	}
	return rec, nil
}

// compile compiles a codec record's scripts.
func (c *Codecs) compile(name path.Path, rec record) (cd *codec, err error) {
	cd = &codec{name: name, encMemo: memo.New[[]byte](), decMemo: memo.New[[]byte]()}
	if rec.encode != "" {
		if cd.enc, err = c.run.Compile(fmt.Sprintf("codec %v encode", name), rec.encode); err != nil {
			return cd, fmt.Errorf("encode: %w", err)
		}
	}
	if rec.decode != "" {
		if cd.dec, err = c.run.Compile(fmt.Sprintf("codec %v decode", name), rec.decode); err != nil {
			return cd, fmt.Errorf("decode: %w", err)
		}
	}
	return cd, nil
}

// convTarget reads a conversion's codec: a path (msgpack ext 3 or a list
// of elements) or a string in the path text form.
func convTarget(raw string) (path.Path, error) {
	var target path.Path
	v, err := value.Decode([]byte(raw))
	if err != nil {
		return target, err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return target, errors.New("a conversion is a map {codec: NAME}")
	}
	switch t, _ := m.Get("codec"); t := t.(type) {
	case path.Path:
		target = t
	case string:
		if target, err = path.Parse(t); err != nil {
			return target, fmt.Errorf("codec: %w", err)
		}
	case []any:
		if target, err = path.New(t...); err != nil {
			return target, fmt.Errorf("codec: %w", err)
		}
	case nil:
		return target, errors.New("a conversion needs codec, the codec's name")
	default:
		return target, fmt.Errorf("a conversion's codec is a name, not %T", t)
	}
	if target.IsRoot() {
		return target, errors.New("a conversion needs codec, the codec's name")
	}
	return target, nil
}

// rebuild reads every codec, conversion and user binding into a new
// snapshot.
func (c *Codecs) rebuild() {
	c.mu.Lock()
	defer c.mu.Unlock()
	codecs := map[string]*codec{}
	c.tree.Walk(CodecRoot, tree.WalkOptions{MinDepth: 1, MaxDepth: -1}, func(items []tree.Item) bool {
		for i := range items {
			it := &items[i]
			name, _ := it.Path.TrimPrefix(CodecRoot)
			// An unchanged record keeps its compiled scripts (and what
			// they remember): a rebuild after one change must not
			// recompile thousands.
			if old := c.compiled[name.Encoded()]; old != nil && old.raw == it.Value {
				codecs[name.Encoded()] = old
				continue
			}
			name = name.Clone()
			rec, err := parseCodec(it.Value)
			var cd *codec
			if err == nil {
				cd, err = c.compile(name, rec)
			}
			if err != nil {
				cd = &codec{name: name, err: fmt.Errorf("the stored record cannot be used: %w", err)}
				c.log.Warn("a stored codec cannot be used: values it converts fail", "codec", name.String(), "err", err)
			}
			cd.raw = it.Value
			codecs[name.Encoded()] = cd
		}
		return true
	})
	c.compiled = codecs

	type rules struct {
		rules  []acl.Rule
		codecs []*codec
	}
	lists := map[string]*rules{}
	c.tree.Walk(ConvRoot, tree.WalkOptions{MinDepth: 2, MaxDepth: -1}, func(items []tree.Item) bool {
		for i := range items {
			it := &items[i]
			rel, _ := it.Path.TrimPrefix(ConvRoot)
			first, pattern := rel.Split()
			name, ok := first.StrValue()
			if !ok {
				c.log.Warn("a conversion outside a named list is ignored", "path", it.Path.String())
				continue
			}
			target, err := convTarget(it.Value)
			if err != nil {
				c.log.Warn("a stored conversion cannot be used: it is ignored", "list", name, "pattern", pattern.String(), "err", err)
				continue
			}
			cd := codecs[target.Encoded()]
			if cd == nil {
				cd = &codec{name: target, err: errors.New("the codec does not exist")}
			}
			l := lists[name]
			if l == nil {
				l = &rules{}
				lists[name] = l
			}
			l.rules = append(l.rules, acl.Rule{Pattern: pattern.Clone(), Modes: acl.ModeRead})
			l.codecs = append(l.codecs, cd)
		}
		return true
	})
	compiled := map[string]*list{}
	for name, r := range lists {
		m, err := acl.Compile(r.rules)
		if err != nil {
			// The tree holds each path once and within the limits: not reached.
			c.log.Error("a codec list cannot be compiled: it converts nothing", "list", name, "err", err)
			continue
		}
		compiled[name] = &list{match: m, codecs: r.codecs}
	}

	users := auth.Bindings{Param: "conv", Aux: []string{"codec", "conv"}}
	c.tree.Walk(AuthRoot, tree.WalkOptions{MinDepth: 3, MaxDepth: 4}, func(items []tree.Item) bool {
		for i := range items {
			rel, _ := items[i].Path.TrimPrefix(AuthRoot)
			users.Add(rel, items[i].Value)
		}
		return true
	})
	s := &snapshot{users: map[auth.User]*list{}}
	for u, bd := range users.Users() {
		if bd.Err != nil {
			c.log.Warn("a user's codec list cannot be read: the user's values are not converted", "user", u.Name, "method", u.Method, "err", bd.Err)
			continue
		}
		if l := compiled[bd.Name]; l != nil {
			s.users[u] = l
		}
	}
	c.snap.Store(s)
	c.gen.Add(1)
}

// Check implements server.Checker for the records of this package: a
// codec only if its scripts compile and its examples hold, a conversion
// only of an existing codec. Other paths: nil.
func (c *Codecs) Check(_ *server.Session, p path.Path, raw []byte) error {
	switch {
	case p.HasPrefix(CodecRoot):
		return c.checkCodec(p, raw)
	case p.HasPrefix(ConvRoot):
		return c.checkConv(p, raw)
	}
	return nil
}

func (c *Codecs) checkCodec(p path.Path, raw []byte) error {
	name, _ := p.TrimPrefix(CodecRoot)
	if name.IsRoot() {
		return fmt.Errorf("%v holds no codec; name one below it", p)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("codec %v: %s", name, fmt.Sprintf(format, a...))
	}
	rec, err := parseCodec(string(raw))
	if err != nil {
		return bad("%v", err)
	}
	switch {
	case rec.encode == "" && rec.decode == "":
		return bad("needs a script: encode, decode or both")
	case rec.decode != "" && len(rec.in) == 0:
		return bad("a decode script needs at least one example (in: [[IN, OUT]…])")
	case rec.encode != "" && len(rec.out) == 0:
		return bad("an encode script needs at least one example (out: [[IN, OUT]…])")
	}
	cd, err := c.compile(name, rec)
	if err != nil {
		return bad("%v", err)
	}
	for _, f := range []struct {
		dir      string
		proc     Proc
		memo     *memo.Cache[[]byte]
		examples [][2]any
	}{{"decode", cd.dec, cd.decMemo, rec.in}, {"encode", cd.enc, cd.encMemo, rec.out}} {
		for _, ex := range f.examples {
			if err := holds(cd, f.dir, f.proc, f.memo, ex); err != nil {
				return bad("%v", err)
			}
		}
	}
	return nil
}

// holds reports whether an example [IN, OUT] holds: proc(IN) == OUT.
func holds(cd *codec, dir string, proc Proc, m *memo.Cache[[]byte], ex [2]any) error {
	in, err := value.Encode(ex[0])
	if err != nil {
		return fmt.Errorf("%s example %s: %w", dir, show(ex[0]), err)
	}
	want, err := value.Encode(ex[1])
	if err != nil {
		return fmt.Errorf("%s example %s: %w", dir, show(ex[0]), err)
	}
	got, err := cd.convert(dir, proc, m, path.Root, in)
	if err != nil {
		return fmt.Errorf("%s example %s fails: %w", dir, show(ex[0]), unwrap(err))
	}
	if !value.Equal(got, want) {
		g, _ := value.Decode(got)
		return fmt.Errorf("%s example %s gives %s, not %s", dir, show(ex[0]), show(g), show(ex[1]))
	}
	return nil
}

func unwrap(err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

func (c *Codecs) checkConv(p path.Path, raw []byte) error {
	rel, _ := p.TrimPrefix(ConvRoot)
	first, pattern := rel.Split()
	if _, ok := first.StrValue(); !ok || pattern.IsRoot() {
		return fmt.Errorf("%v: a conversion is at %v LIST PATTERN…, LIST a name", p, ConvRoot)
	}
	target, err := convTarget(string(raw))
	if err != nil {
		return fmt.Errorf("conversion %v: %w", rel, err)
	}
	// The tree, not the snapshot: a codec set just before is there already.
	if it, ok := c.tree.Get(CodecRoot.Join(target)); !ok || !it.HasValue {
		return fmt.Errorf("conversion %v: codec %v does not exist", rel, target)
	}
	return nil
}

// show prints an example for an error.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "nil"
	}
	return fmt.Sprint(v)
}
