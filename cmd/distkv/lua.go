package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/luart"
	"github.com/distkv-go/distkv/types"
)

// This file wires user code into the server: types check writes, codecs
// convert values per user, stored code is compiled when it is stored; all
// of it runs in one Lua runtime with the validators' limits.

// userCode is what the server runs of its users' Lua, made with the
// server (it follows the server's tree) and closed with it.
type userCode struct {
	rt     *luart.Runtime
	types  *types.Checker
	codecs *codecs.Codecs
	fail   *failures // nil: failures are only returned
}

// hooks returns the server's hooks; they forward to u, whose parts are
// made once the server (and so its tree) exists: start before Start.
func (u *userCode) hooks() server.Hooks {
	return server.Hooks{Checker: (*userChecks)(u), Codec: (*userCodec)(u)}
}

// start makes the parts that follow the server's tree.
func (u *userCode) start(s *server.Server, log *slog.Logger) {
	u.rt = luart.New(luart.ValidatorLimits)
	u.rt.SetModules(func(name string) (string, bool) { return storedModule(s.Tree(), name) })
	u.types = types.New(s.Tree(), typeRunner{u.rt}, log)
	u.codecs = codecs.New(s.Tree(), codecRunner{u.rt}, log)
}

func (u *userCode) close() {
	if u.types != nil {
		u.types.Close()
	}
	if u.codecs != nil {
		u.codecs.Close()
	}
}

// userChecks is the server's Checker: codec and conv records, stored
// code, and types (data and type records).
type userChecks userCode

func (u *userChecks) Check(s *server.Session, p path.Path, v []byte) error {
	switch {
	case p.HasPrefix(codecs.CodecRoot) || p.HasPrefix(codecs.ConvRoot):
		err := u.codecs.Check(s, p, v)
		if err == nil && p.HasPrefix(codecs.CodecRoot) {
			u.fail.fixed("codec", p)
		}
		return err
	case p.HasPrefix(storedCode):
		return checkCode(typeRunner{u.rt}, p, v)
	}
	err := u.types.Check(s, p, v)
	switch {
	case err != nil:
		u.fail.typeFailed(err)
	case p.HasPrefix(types.TypeRoot):
		u.fail.fixed("type", p)
	}
	return err
}

// userCodec is the server's Codec.
type userCodec userCode

func (u *userCodec) Decode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	out, err := u.codecs.Decode(s, p, v)
	if err != nil {
		u.fail.codecFailed(err)
	}
	return out, err
}

func (u *userCodec) Encode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	out, err := u.codecs.Encode(s, p, v)
	if err != nil {
		u.fail.codecFailed(err)
	}
	return out, err
}

// typeRunner runs type scripts: an error refuses the value.
type typeRunner struct{ rt *luart.Runtime }

func (r typeRunner) Compile(name, src string) (types.Proc, error) {
	s, err := luart.Compile(name, src)
	if err != nil {
		return nil, err
	}
	return typeProc{r.rt, s}, nil
}

type typeProc struct {
	rt *luart.Runtime
	s  *luart.Script
}

func (p typeProc) Call(ctx context.Context, v any) (bool, error) {
	_, pure, err := p.rt.CallPure(ctx, p.s, []luart.Var{{Name: "value", Value: v}}, nil)
	return pure, scriptMessage(err)
}

// codecRunner runs codec scripts: the result is the converted value.
type codecRunner struct{ rt *luart.Runtime }

func (r codecRunner) Compile(name, src string) (codecs.Proc, error) {
	s, err := luart.Compile(name, src)
	if err != nil {
		return nil, err
	}
	return codecProc{r.rt, s}, nil
}

type codecProc struct {
	rt *luart.Runtime
	s  *luart.Script
}

func (p codecProc) Call(ctx context.Context, v any) (any, bool, error) {
	out, pure, err := p.rt.CallPure(ctx, p.s, []luart.Var{{Name: "value", Value: v}}, nil)
	return out, pure, scriptMessage(err)
}

// scriptMessage turns a script's own error into its message alone (what
// the tutorial's client prints: "not an integer"); limits and panics keep
// their full text.
func scriptMessage(err error) error {
	var se *luart.ScriptError
	if errors.As(err, &se) && !se.Panic {
		return errors.New(se.Message)
	}
	return err
}

// storedModule returns the code of the module stored at `.distkv code
// module NAME` (NAME in the path text form, as require gets it).
func storedModule(t *tree.Tree, name string) (string, bool) {
	p, err := path.Parse(name)
	if err != nil || p.IsRoot() {
		return "", false
	}
	it, ok := t.Get(moduleRoot.Join(p))
	if !ok || !it.HasValue {
		return "", false
	}
	v, err := pack.Decode([]byte(it.Value))
	if err != nil {
		return "", false
	}
	m, _ := v.(pack.Map)
	c, _ := m.Get("code")
	code, ok := c.(string)
	return code, ok
}
