package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Where stored code lives, as the original lays it out: `.distkv code
// proc PATH…` for code runners run, `.distkv code module PATH…` for the
// modules scripts load with require.
var (
	codeRoot   = storedCode.Join(path.Must("proc"))
	moduleRoot = storedCode.Join(path.Must("module"))
)

// rootOf is the root of the command's kind of code: modules for `code
// module …`.
func rootOf(kctx *kong.Context) path.Path {
	if strings.HasPrefix(kctx.Command(), "client code module") {
		return moduleRoot
	}
	return codeRoot
}

// CodeCmd is `distkv client code`: Lua code stored in the tree, for
// runners to run.
type CodeCmd struct {
	Set    CodeSetCmd    `cmd:"" help:"Store Lua code at PATH (the body from standard input or -s FILE)."`
	Get    CodeGetCmd    `cmd:"" help:"Print the code stored at PATH."`
	List   CodeListCmd   `cmd:"" help:"List the stored code's paths."`
	Delete CodeDeleteCmd `cmd:"" help:"Delete the code at PATH."`
	Module CodeModuleCmd `cmd:"" help:"Manage modules: Lua code that scripts load with require(\"PATH\")."`
}

// CodeModuleCmd is `code module`: the same commands for modules.
type CodeModuleCmd struct {
	Set    CodeSetCmd    `cmd:"" help:"Store a module at PATH (the body from standard input or -s FILE)."`
	Get    CodeGetCmd    `cmd:"" help:"Print the module stored at PATH."`
	List   CodeListCmd   `cmd:"" help:"List the modules' paths."`
	Delete CodeDeleteCmd `cmd:"" help:"Delete the module at PATH."`
}

func (CodeModuleCmd) Help() string {
	return `A module is a Lua chunk that returns what require gives its caller,
usually a table of functions. Scripts load modules only from the tree.

Example:
  distkv client code module set util <<< 'local M = {} function M.double(x) return 2 * x end return M'
  distkv client type set -g 2 -g 4 -b 3 even <<< 'if require("util").double(value / 2) ~= value then error("odd") end'`
}

func (CodeCmd) Help() string {
	return `Code is a Lua chunk; what it returns is its result, print() goes to the
runner's output. The server compiles it when it is stored and refuses a
syntax error, naming its line.

Examples:
  distkv client code set the.answer <<END
  print("Forty-Two!")
  return 42
  END
  distkv client code get the.answer`
}

func codePath(kctx *kong.Context, words pathArg) (path.Path, error) {
	p, err := words.path()
	if err != nil {
		return p, err
	}
	if p.IsRoot() {
		return p, errors.New("name the code's path, e.g. the.answer")
	}
	return rootOf(kctx).Join(p), nil
}

// CodeSetCmd is `code set`.
type CodeSetCmd struct {
	Script string  `short:"s" placeholder:"FILE" help:"Read the code from FILE instead of standard input."`
	Info   string  `short:"i" placeholder:"TEXT" help:"A one-line description."`
	Path   pathArg `arg:"" help:"Where to store the code."`
}

func (c *CodeSetCmd) Run(kctx *kong.Context, ctx context.Context, k *connector, g *globals) error {
	p, err := codePath(kctx, c.Path)
	if err != nil {
		return err
	}
	code, err := readScript(c.Script, g.stdin)
	if err != nil {
		return err
	}
	rec := pack.Map{{Key: "code", Value: code}, {Key: "is_async", Value: false}, {Key: "vars", Value: []any{}}}
	if c.Info != "" {
		rec = append(rec, pack.KV{Key: "info", Value: c.Info})
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Set(ctx, p, rec)
	return err
}

// CodeGetCmd is `code get`.
type CodeGetCmd struct {
	Script string  `short:"s" placeholder:"FILE" help:"Write the code to FILE instead of printing the record."`
	Path   pathArg `arg:"" help:"The code's path."`
}

func (c *CodeGetCmd) Run(kctx *kong.Context, ctx context.Context, k *connector, g *globals) error {
	p, err := codePath(kctx, c.Path)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	e, err := cl.Get(ctx, p)
	if err != nil {
		return err
	}
	if !e.HasValue {
		return fmt.Errorf("no code at %v", p)
	}
	v, err := e.Value()
	if err != nil {
		return err
	}
	if c.Script != "" {
		m, _ := v.(pack.Map)
		code, _ := m.Get("code")
		s, ok := code.(string)
		if !ok {
			return fmt.Errorf("the record at %v holds no code", p)
		}
		return os.WriteFile(c.Script, []byte(s), 0o644)
	}
	return printYAML(g.stdout, v)
}

// CodeListCmd is `code list`.
type CodeListCmd struct{}

func (c *CodeListCmd) Run(kctx *kong.Context, ctx context.Context, k *connector, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	root := rootOf(kctx)
	for e, err := range cl.GetTree(ctx, root, client.TreeOptions{MinDepth: 1}) {
		if err != nil {
			return err
		}
		rel, _ := e.Path.TrimPrefix(root)
		fmt.Fprintln(g.stdout, rel)
	}
	return nil
}

// CodeDeleteCmd is `code delete`.
type CodeDeleteCmd struct {
	Path pathArg `arg:"" help:"The code's path."`
}

func (c *CodeDeleteCmd) Run(kctx *kong.Context, ctx context.Context, k *connector) error {
	p, err := codePath(kctx, c.Path)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	res, err := cl.Delete(ctx, p)
	if err != nil {
		return err
	}
	if !res.Changed {
		return fmt.Errorf("no code at %v", p)
	}
	return nil
}
