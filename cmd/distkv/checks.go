package main

import (
	"fmt"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/types"
)

// storedCode is where code and modules live: `.distkv code proc|module …`.
var storedCode = path.Must(".distkv", "code")

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
		return fmt.Errorf("stored code at %v is a map {code: TEXT, …}", p)
	}
	c, _ := m.Get("code")
	code, ok := c.(string)
	if !ok {
		return fmt.Errorf("stored code at %v needs code, the Lua text", p)
	}
	kind, name := rel.Split() // proc or module, then the code's own path
	if _, err := run.Compile(fmt.Sprintf("%v %v", kind, name), code); err != nil {
		return err // names the code and the line
	}
	return nil
}
