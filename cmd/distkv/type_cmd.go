package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// TypeCmd is `distkv client type`: validators of the system tree's
// `None type NAME…` and the matches `None match PATH…` that apply them.
type TypeCmd struct {
	Set    TypeSetCmd    `cmd:"" help:"Define a type: a Lua script that raises an error for a bad value, with examples."`
	Get    TypeGetCmd    `cmd:"" help:"Print a type's script and examples."`
	List   TypeListCmd   `cmd:"" help:"List the types."`
	Delete TypeDeleteCmd `cmd:"" help:"Delete a type."`
	Match  TypeMatchCmd  `cmd:"" help:"Apply a type to the paths a pattern matches (-t), show (no flag) or delete (-d) a match."`
}

func (TypeCmd) Help() string {
	return `A type checks every value a client writes to the paths it is matched to.
Its script sees the value as "value" and refuses it by raising an error,
whose message the client gets. A type's supertype is its parent name
(int.percent's is int); a value runs through the whole chain. Values
already stored are not checked again.

Examples:
  distkv client type set -g 0 -g -2 -g 123 -b 1.2 -b '"Hello"' int <<END
  if type(value) ~= "number" or value ~= math.floor(value) then error("not an integer") end
  END
  distkv client type match -t int.percent 'stats.#.quota'`
}

// typePath is the system path of a type.
func typePath(words pathArg) (path.Path, path.Path, error) {
	name, err := words.path()
	if err != nil {
		return name, name, err
	}
	if name.IsRoot() {
		return name, name, errors.New("name the type, e.g. int or int.percent")
	}
	return name, path.Must("type").Join(name), nil
}

// TypeSetCmd is `type set`.
type TypeSetCmd struct {
	Good   literals `short:"g" placeholder:"VALUE" help:"A value the type accepts (a literal; at least two)."`
	Bad    literals `short:"b" placeholder:"VALUE" help:"A value the type refuses (a literal; at least one)."`
	Script string   `short:"s" placeholder:"FILE" help:"Read the Lua script from FILE instead of standard input."`
	Name   pathArg  `arg:"" help:"The type's name; its parent name is its supertype."`
}

func (c *TypeSetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	name, p, err := typePath(c.Name)
	if err != nil {
		return err
	}
	good, bad := []any(c.Good), []any(c.Bad)
	if len(good) < 2 || len(bad) < 1 {
		return fmt.Errorf("type %v needs at least two good examples (-g) and one bad one (-b)", name)
	}
	code, err := readScript(c.Script, g.stdin)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	rec := pack.Map{{Key: "code", Value: code}, {Key: "good", Value: good}, {Key: "bad", Value: bad}}
	_, err = cl.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: rec}})
	return err
}

// readScript reads a script from file, or from in ("-" or "": standard
// input).
func readScript(file string, in io.Reader) (string, error) {
	var b []byte
	var err error
	if file != "" && file != "-" {
		b, err = os.ReadFile(file)
	} else {
		b, err = io.ReadAll(in)
	}
	if err != nil {
		return "", fmt.Errorf("read the script: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", errors.New("the script is empty: give it on standard input or with -s FILE")
	}
	return string(b), nil
}

// TypeGetCmd is `type get`.
type TypeGetCmd struct {
	Name pathArg `arg:"" help:"The type's name."`
}

func (c *TypeGetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	name, p, err := typePath(c.Name)
	if err != nil {
		return err
	}
	return printInternal(ctx, k, g, p, fmt.Sprintf("no type %v", name))
}

// printInternal prints the value of a system entry as YAML, or fails
// with missing.
func printInternal(ctx context.Context, k *connector, g *globals, p path.Path, missing string) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	rep, err := cl.Request(ctx, wire.GetInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if !rep.HasValue {
		return errors.New(missing)
	}
	v, err := value.Decode(rep.Value)
	if err != nil {
		return err
	}
	return printYAML(g.stdout, v)
}

// TypeListCmd is `type list`.
type TypeListCmd struct{}

func (c *TypeListCmd) Run(ctx context.Context, k *connector, g *globals) error {
	return listInternal(ctx, k, g, path.Must("type"))
}

// listInternal prints the paths below a system entry that hold values,
// one per line, relative to it.
func listInternal(ctx context.Context, k *connector, g *globals, root path.Path) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	for e, err := range cl.GetTree(ctx, root, client.TreeOptions{Internal: true, MinDepth: 1}) {
		if err != nil {
			return err
		}
		rel, _ := e.Path.TrimPrefix(path.Must(nil).Join(root))
		if rel.IsRoot() {
			rel = e.Path
		}
		fmt.Fprintln(g.stdout, rel)
	}
	return nil
}

// TypeDeleteCmd is `type delete`.
type TypeDeleteCmd struct {
	Name pathArg `arg:"" help:"The type's name."`
}

func (c *TypeDeleteCmd) Run(ctx context.Context, k *connector) error {
	name, p, err := typePath(c.Name)
	if err != nil {
		return err
	}
	return deleteInternal(ctx, k, p, fmt.Sprintf("no type %v", name))
}

// deleteInternal deletes a system entry, or fails with missing.
func deleteInternal(ctx context.Context, k *connector, p path.Path, missing string) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	rep, err := cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if !rep.Changed {
		return errors.New(missing)
	}
	return nil
}

// TypeMatchCmd is `type match`.
type TypeMatchCmd struct {
	Type   string  `short:"t" placeholder:"TYPE" help:"Apply this type to the paths PATTERN matches."`
	Delete bool    `short:"d" help:"Delete the match."`
	Path   pathArg `arg:"" help:"The path pattern: + matches one element, # one or more."`
}

func (TypeMatchCmd) Help() string {
	return `Examples:
  distkv client type match -t int.percent 'stats.#.quota'
  distkv client type match 'stats.#.quota'       # prints int.percent
  distkv client type match -d 'stats.#.quota'`
}

func (c *TypeMatchCmd) Run(ctx context.Context, k *connector, g *globals) error {
	pattern, err := c.Path.path()
	if err != nil {
		return err
	}
	if pattern.IsRoot() {
		return errors.New("a match needs a non-empty path pattern")
	}
	p := path.Must("match").Join(pattern)
	if c.Type != "" && c.Delete {
		return errors.New("-t sets a match and -d deletes it: give one")
	}
	return refRecord(ctx, k, g, p, "type", "-t", c.Type, c.Delete, fmt.Sprintf("no match at %v", pattern))
}

// refRecord sets, deletes or prints a system record that names another
// by path, {key: PATH} (a type match, a codec conversion): set is the
// name to set from flag ("" to print), del deletes; missing is the error
// for a record that is not there.
func refRecord(ctx context.Context, k *connector, g *globals, p path.Path, key, flag, set string, del bool, missing string) error {
	switch {
	case del:
		return deleteInternal(ctx, k, p, missing)
	case set != "":
		target, err := path.Parse(set)
		if err != nil {
			return fmt.Errorf("%s %s: %w", flag, set, err)
		}
		cl, err := k.get(ctx)
		if err != nil {
			return err
		}
		_, err = cl.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: pack.Map{{Key: key, Value: target}}}})
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	rep, err := cl.Request(ctx, wire.GetInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if !rep.HasValue {
		return errors.New(missing)
	}
	fmt.Fprintln(g.stdout, refOf(rep.Value, key))
	return nil
}

// refOf prints the path a {key: PATH} record names.
func refOf(raw []byte, key string) string {
	v, err := value.Decode(raw)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	m, _ := v.(pack.Map)
	switch r, _ := m.Get(key); r := r.(type) {
	case path.Path:
		return r.String()
	case string:
		return r
	}
	return fmt.Sprintf("(no %s: %v)", key, value.Top(v))
}
