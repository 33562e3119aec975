package codecs

import (
	"context"
	"fmt"
	"github.com/distkv-go/distkv/internal/memo"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// Runner compiles codec scripts.
type Runner interface {
	// Compile compiles a script's source; name says where it comes from.
	Compile(name, src string) (Proc, error)
}

// Proc is a compiled script. Call runs it with the value to convert as
// the variable "value" (in core/value's model) and returns what the
// script returns, in the same model; an error fails the conversion. pure
// reports that the result depends on the value alone (see
// luart.Runtime.CallPure), so that it may be remembered.
type Proc interface {
	Call(ctx context.Context, value any) (out any, pure bool, err error)
}

// The system tree's roots of codecs, convert lists and users.
var (
	CodecRoot = path.Must(nil, "codec")
	ConvRoot  = path.Must(nil, "conv")
	AuthRoot  = path.Must(nil, "auth")
)

var systemRoot = path.Must(nil)

var _ server.Codec = (*Codecs)(nil)

// Codecs is the server's Codec (see server.Codec) and the checker of
// codec and conversion records (Check).
type Codecs struct {
	run  Runner
	tree *tree.Tree
	log  *slog.Logger

	snap atomic.Pointer[snapshot]
	gen  atomic.Uint64 // snapshots built, for Generation

	mu       sync.Mutex        // serializes rebuilds; protects compiled
	compiled map[string]*codec // the last rebuild's codecs, by name encoding
	stop     func()            // ends following the tree (safe to call twice)
}

// codec is one compiled codec.
type codec struct {
	raw      string // the record it was compiled from
	name     path.Path
	enc, dec Proc  // nil: that direction passes values unchanged
	err      error // the record cannot be used: converts nothing, fails every use

	// encMemo and decMemo remember pure conversions (see Proc): the raw
	// value → the raw result. Values repeat, and a Lua call costs about a
	// microsecond; a changed codec is a new codec with empty memos.
	encMemo, decMemo *memo.Cache[[]byte]
}

// The largest value a memo remembers (see internal/memo for how many).
const maxMemoValue = 256

// list is one compiled convert list.
type list struct {
	match  *acl.ACL
	codecs []*codec // by rule index
}

// snapshot is one compiled state of the records; never changed.
type snapshot struct {
	users map[auth.User]*list // only users bound to a list with rules
}

// New returns the Codecs of the records in t, following their changes
// until Close.
func New(t *tree.Tree, run Runner, log *slog.Logger) *Codecs {
	c := &Codecs{run: run, tree: t, log: log}
	c.stop = t.Follow(systemRoot, relevant, c.rebuild)
	return c
}

// Close stops following the tree; safe to call twice.
func (c *Codecs) Close() { c.stop() }

func relevant(p path.Path) bool {
	return p.HasPrefix(CodecRoot) || p.HasPrefix(ConvRoot) || p.HasPrefix(AuthRoot)
}

// Generation counts the tables built; a test waits for it to move.
func (c *Codecs) Generation() uint64 { return c.gen.Load() }

// Decode implements server.Codec: the user's value for p as it is to be
// stored.
func (c *Codecs) Decode(s *server.Session, p path.Path, raw []byte) ([]byte, error) {
	if s == nil || s.User == "" {
		return raw, nil
	}
	cd := c.find(s, p)
	if cd == nil {
		return raw, nil
	}
	return cd.convert("decode", cd.dec, cd.decMemo, p, raw)
}

// Encode implements server.Codec: the stored value at p as the user
// reads it.
func (c *Codecs) Encode(s *server.Session, p path.Path, raw []byte) ([]byte, error) {
	if s == nil || s.User == "" {
		return raw, nil
	}
	cd := c.find(s, p)
	if cd == nil {
		return raw, nil
	}
	return cd.convert("encode", cd.enc, cd.encMemo, p, raw)
}

// find returns the codec of the user's list for p; nil: none.
func (c *Codecs) find(s *server.Session, p path.Path) *codec {
	snap := c.snap.Load()
	if len(snap.users) == 0 {
		return nil
	}
	l := snap.users[auth.User{Method: s.Method, Name: s.User}]
	if l == nil || p.HasPrefix(systemRoot) {
		return nil
	}
	i, ok := l.match.MatchIndex(p)
	if !ok {
		return nil
	}
	return l.codecs[i]
}

// Error is a value a codec could not convert.
type Error struct {
	Codec path.Path
	Dir   string // "encode" or "decode"
	Path  path.Path
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("codec %v, %s at %v: %v", e.Codec, e.Dir, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// convert runs raw through proc (nil: unchanged), remembering pure
// results in m.
func (cd *codec) convert(dir string, proc Proc, m *memo.Cache[[]byte], p path.Path, raw []byte) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, &Error{Codec: cd.name, Dir: dir, Path: p, Err: err}
	}
	if cd.err != nil {
		return fail(cd.err)
	}
	if proc == nil {
		return raw, nil
	}
	small := len(raw) <= maxMemoValue
	if small {
		if b, ok := m.Get(raw); ok {
			return b, nil
		}
	}
	v, err := value.Decode(raw)
	if err != nil {
		return fail(err)
	}
	out, pure, err := proc.Call(context.Background(), v)
	if err != nil {
		return fail(err)
	}
	b, err := value.Encode(out)
	if err != nil {
		return fail(fmt.Errorf("the script's result: %w", err))
	}
	if pure && small {
		m.Put(raw, b)
	}
	return b, nil
}
