package luart

import (
	"errors"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Script is compiled Lua. It is immutable and safe to share between
// goroutines and runtimes.
type Script struct {
	name  string
	src   string
	proto *lua.FunctionProto
}

// Name is the chunk name given to Compile; errors carry it.
func (s *Script) Name() string { return s.name }

// Source is the text the script was compiled from.
func (s *Script) Source() string { return s.src }

// MaxCached bounds the compile cache (scripts, by name and text). When it
// is full, an arbitrary half is dropped; a dropped script compiles again on
// its next use.
const MaxCached = 4096

var cache = struct {
	mu sync.Mutex // protects m
	m  map[cacheKey]*Script
}{m: map[cacheKey]*Script{}}

type cacheKey struct{ name, src string }

// Compile compiles src once per (name, text) and caches the result. A
// chunk that does not parse is a *SyntaxError with its line.
func Compile(name, src string) (*Script, error) {
	k := cacheKey{name, src}
	cache.mu.Lock()
	s, ok := cache.m[k]
	cache.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	cache.mu.Lock()
	if len(cache.m) >= MaxCached {
		n := 0
		for k := range cache.m { // map order is random: a random half goes
			if n++; n > MaxCached/2 {
				break
			}
			delete(cache.m, k)
		}
	}
	cache.m[k] = s
	cache.mu.Unlock()
	return s, nil
}

func compile(name, src string) (s *Script, err error) {
	defer func() { // the parser panics on some inputs; never let that out
		if r := recover(); r != nil {
			s, err = nil, &SyntaxError{Script: name, Message: "cannot compile: " + strings.TrimSpace(anyString(r))}
		}
	}()
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			line, col := pe.Pos.Line, pe.Pos.Column
			if line == parse.EOF {
				line, col = 0, 0
			}
			msg := pe.Message
			if pe.Token != "" && line != 0 {
				msg += " near '" + pe.Token + "'"
			}
			return nil, &SyntaxError{Script: name, Line: line, Column: col, Message: msg}
		}
		return nil, &SyntaxError{Script: name, Message: err.Error()}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, &SyntaxError{Script: name, Line: ce.Line, Message: ce.Message}
		}
		return nil, &SyntaxError{Script: name, Message: err.Error()}
	}
	// Lua 5.1's compatibility "arg" table would be built for the chunk on
	// every call (it takes no arguments): most of a short call's cost.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	trim(proto)
	return &Script{name: name, src: src, proto: proto}, nil
}

// trim cuts the slices of a compiled prototype (and its nested ones) to
// their length. gopher-lua's compiler builds the code in arrays of 1024
// instructions and 1024 line numbers and starts every other list with
// room for 16–128 entries, and the prototype keeps all of it: about 17 KB
// for a one-line validator, where trimmed it keeps about 1 KB in all;
// 10,000 types and 10,000 codecs took 1.4 GB of RSS untrimmed
// (BENCHMARKS.md, issue 14).
func trim(p *lua.FunctionProto) {
	p.Code = exact(p.Code)
	p.Constants = exact(p.Constants)
	p.FunctionPrototypes = exact(p.FunctionPrototypes)
	p.DbgSourcePositions = exact(p.DbgSourcePositions)
	p.DbgLocals = exact(p.DbgLocals)
	p.DbgCalls = exact(p.DbgCalls)
	p.DbgUpvalues = exact(p.DbgUpvalues)
	for _, f := range p.FunctionPrototypes {
		trim(f)
	}
}

// exact returns a copy of s whose capacity is its length.
func exact[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
