package main

import (
	"fmt"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/types"
)

// storedCode is where code and modules live: `.distkv code proc|module …`.
var storedCode = path.Must(".distkv", "code")

// writeChecks is the server's Checker: types for data and type records,
// a compile for stored code. Its fields are set after the server is made
// (types follow its tree) and before it starts.
type writeChecks struct {
	types *types.Checker
	run   types.Runner
}

func (w *writeChecks) Check(s *server.Session, p path.Path, v []byte) error {
	if p.HasPrefix(storedCode) {
		return checkCode(w.run, p, v)
	}
	return w.types.Check(s, p, v)
}

// checkCode refuses a code or module record whose code does not compile
// (the error names the line).
func checkCode(run types.Runner, p path.Path, raw []byte) error {
	rel, _ := p.TrimPrefix(storedCode)
	if rel.Len() < 2 {
		return nil // not a record: `.distkv code proc` itself, say
	}
	v, err := pack.Decode(raw)
	if err != nil {
		return err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return fmt.Errorf("%w: stored code at %v is a map {code: TEXT, …}", wire.ErrBadValue, p)
	}
	c, _ := m.Get("code")
	code, ok := c.(string)
	if !ok {
		return fmt.Errorf("%w: stored code at %v needs code, the Lua text", wire.ErrBadValue, p)
	}
	if _, err := run.Compile(p.String(), code); err != nil {
		return fmt.Errorf("%w: %w", wire.ErrBadValue, err)
	}
	return nil
}
