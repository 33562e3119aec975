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
	return &Script{name: name, src: src, proto: proto}, nil
}
