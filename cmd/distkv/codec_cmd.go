package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// CodecCmd is `distkv client codec`: converters of the system tree's
// `None codec NAME…`, and the convert lists `None conv LIST PATTERN…`
// that apply them for the users bound to a list.
type CodecCmd struct {
	Set     CodecSetCmd     `cmd:"" help:"Define a codec: Lua scripts that encode and decode 'value', with examples."`
	Get     CodecGetCmd     `cmd:"" help:"Print a codec's scripts and examples."`
	List    CodecListCmd    `cmd:"" help:"List the codecs."`
	Delete  CodecDeleteCmd  `cmd:"" help:"Delete a codec."`
	Convert CodecConvertCmd `cmd:"" help:"Apply a codec to the paths a pattern matches in a convert list (-c), show (no flag) or delete (-d) a conversion."`
}

func (CodecCmd) Help() string {
	return `A codec converts the values of the users bound to a convert list: decode
turns what such a user writes into what is stored, encode turns what is
stored into what the user reads (get, get_tree, watch). Other users see
the stored values. Both scripts see the value as "value" and return the
converted one.

Examples:
  distkv client codec set -i '"12.5"' 12.5 -o 13.25 '"13.25"' float.str
  distkv client codec convert -c float.str floatval 'monitor.#.value'
  distkv client auth user modify --aux codec=floatval name=joe`
}

// codecPath is the system path of a codec.
func codecPath(words pathArg) (path.Path, path.Path, error) {
	name, err := words.path()
	if err != nil {
		return name, name, err
	}
	if name.IsRoot() {
		return name, name, errors.New("name the codec, e.g. float.str")
	}
	return name, path.Must("codec").Join(name), nil
}

// examplePairs is -i IN OUT or -o IN OUT, repeatable: one flag, two words,
// each a literal.
type examplePairs [][2]any

func (e *examplePairs) Decode(ctx *kong.DecodeContext) error {
	flag := "-" + string(ctx.Value.Flag.Short)
	var pair [2]any
	for i, what := range []string{"IN", "OUT"} {
		v, err := popLiteral(ctx, flag, what, "two values, IN and OUT")
		if err != nil {
			return err
		}
		pair[i] = v
	}
	*e = append(*e, pair)
	return nil
}

// popLiteral takes the flag's next word as a literal: kong's own parsing
// would take a negative number for a flag.
func popLiteral(ctx *kong.DecodeContext, flag, what, needs string) (any, error) {
	t := ctx.Scan.Pop()
	if t.IsEOL() {
		return nil, fmt.Errorf("%s needs %s", flag, needs)
	}
	text := fmt.Sprint(t.Value)
	v, err := literal.Parse(text)
	switch {
	case err != nil && strings.HasPrefix(text, "-"):
		return nil, fmt.Errorf("%s needs %s before the next flag (%s)", flag, needs, text)
	case err != nil:
		return nil, fmt.Errorf("%s %s %q: %w", flag, what, text, err)
	}
	return v, nil
}

// literals is a repeatable flag of one literal each (type set -g, -b).
type literals []any

func (l *literals) Decode(ctx *kong.DecodeContext) error {
	v, err := popLiteral(ctx, "-"+string(ctx.Value.Flag.Short), "VALUE", "a value")
	if err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}

func (e examplePairs) list() []any {
	l := make([]any, 0, len(e))
	for _, p := range e {
		l = append(l, []any{p[0], p[1]})
	}
	return l
}

// CodecSetCmd is `codec set`.
type CodecSetCmd struct {
	In     examplePairs `short:"i" placeholder:"IN OUT" help:"A decode example: the user's IN is stored as OUT (two literals; repeatable)."`
	Out    examplePairs `short:"o" placeholder:"IN OUT" help:"An encode example: the stored IN reads as OUT (two literals; repeatable)."`
	Encode string       `short:"e" placeholder:"FILE" help:"Read the encode script from FILE (- for standard input)."`
	Decode string       `short:"d" placeholder:"FILE" help:"Read the decode script from FILE (- for standard input)."`
	Name   pathArg      `arg:"" help:"The codec's name."`
}

func (CodecSetCmd) Help() string {
	return `On a terminal, without -e and -d, it asks for both scripts; end each with
^D (an empty one leaves that direction out). Otherwise -e, -d or both
give them. A decode script needs -i examples, an encode script -o
examples, and the server refuses the codec unless every example holds.

Examples:
  distkv client codec set -i '"12.5"' 12.5 -o 13.25 '"13.25"' float.str
  Enter the Lua script to encode 'value'.
  return tostring(value)
  ^D
  Enter the Lua script to decode 'value'.
  return tonumber(value)
  ^D
  distkv client codec set -e enc.lua -d dec.lua -i '"12.5"' 12.5 -o 13.25 '"13.25"' float.str`
}

func (c *CodecSetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	name, p, err := codecPath(c.Name)
	if err != nil {
		return err
	}
	var enc, dec string
	if c.Encode == "" && c.Decode == "" {
		if !isTerminal(g.stdin) {
			return errors.New("give the scripts with -e FILE (encode) and -d FILE (decode), or run on a terminal to type them")
		}
		if enc, err = promptScript(g, "encode"); err != nil {
			return err
		}
		if dec, err = promptScript(g, "decode"); err != nil {
			return err
		}
	} else {
		if c.Encode == "-" && c.Decode == "-" {
			return errors.New("-e - and -d - cannot both read standard input")
		}
		if c.Encode != "" {
			if enc, err = readScript(c.Encode, g.stdin); err != nil {
				return fmt.Errorf("-e: %w", err)
			}
		}
		if c.Decode != "" {
			if dec, err = readScript(c.Decode, g.stdin); err != nil {
				return fmt.Errorf("-d: %w", err)
			}
		}
	}
	switch {
	case enc == "" && dec == "":
		return fmt.Errorf("codec %v needs a script: encode, decode or both", name)
	case dec != "" && len(c.In) == 0:
		return fmt.Errorf("codec %v: a decode script needs at least one example (-i IN OUT)", name)
	case enc != "" && len(c.Out) == 0:
		return fmt.Errorf("codec %v: an encode script needs at least one example (-o IN OUT)", name)
	}
	rec := pack.Map{}
	if enc != "" {
		rec = append(rec, pack.KV{Key: "encode", Value: enc})
	}
	if dec != "" {
		rec = append(rec, pack.KV{Key: "decode", Value: dec})
	}
	rec = append(rec, pack.KV{Key: "in", Value: c.In.list()}, pack.KV{Key: "out", Value: c.Out.list()})
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: rec}})
	return err
}

// isTerminal reports whether in is a terminal.
func isTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// promptScript asks for a script on the terminal and reads it until EOF
// (^D); a terminal goes on after an EOF, so the next one can follow.
func promptScript(g *globals, dir string) (string, error) {
	fmt.Fprintf(g.stderr, "Enter the Lua script to %s 'value'.\n", dir)
	b, err := io.ReadAll(g.stdin)
	if err != nil {
		return "", fmt.Errorf("read the %s script: %w", dir, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", nil
	}
	return string(b), nil
}

// CodecGetCmd is `codec get`.
type CodecGetCmd struct {
	Name pathArg `arg:"" help:"The codec's name."`
}

func (c *CodecGetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	name, p, err := codecPath(c.Name)
	if err != nil {
		return err
	}
	return printInternal(ctx, k, g, p, fmt.Sprintf("no codec %v", name))
}

// CodecListCmd is `codec list`.
type CodecListCmd struct{}

func (c *CodecListCmd) Run(ctx context.Context, k *connector, g *globals) error {
	return listInternal(ctx, k, g, path.Must("codec"))
}

// CodecDeleteCmd is `codec delete`.
type CodecDeleteCmd struct {
	Name pathArg `arg:"" help:"The codec's name."`
}

func (c *CodecDeleteCmd) Run(ctx context.Context, k *connector) error {
	name, p, err := codecPath(c.Name)
	if err != nil {
		return err
	}
	return deleteInternal(ctx, k, p, fmt.Sprintf("no codec %v", name))
}

// CodecConvertCmd is `codec convert`.
type CodecConvertCmd struct {
	Codec  string  `short:"c" placeholder:"CODEC" help:"Apply this codec to the paths PATTERN matches."`
	Delete bool    `short:"d" help:"Delete the conversion."`
	List   string  `arg:"" help:"The convert list's name (what a user's aux codec=LIST names)."`
	Path   pathArg `arg:"" optional:"" help:"The path pattern: + matches one element, # one or more. Without it: print the list."`
}

func (CodecConvertCmd) Help() string {
	return `Examples:
  distkv client codec convert -c float.str floatval 'monitor.#.value'
  distkv client codec convert floatval 'monitor.#.value'    # prints float.str
  distkv client codec convert floatval                      # prints the list
  distkv client codec convert -d floatval 'monitor.#.value'`
}

func (c *CodecConvertCmd) Run(ctx context.Context, k *connector, g *globals) error {
	if c.List == "" {
		return errors.New("name the convert list")
	}
	pattern, err := c.Path.path()
	if err != nil {
		return err
	}
	list := path.Must("conv", c.List)
	p := list.Join(pattern)
	switch {
	case c.Codec != "" && c.Delete:
		return errors.New("-c sets a conversion and -d deletes it: give one")
	case pattern.IsRoot() && (c.Codec != "" || c.Delete):
		return errors.New("a conversion needs a non-empty path pattern")
	case pattern.IsRoot():
		return c.print(ctx, k, g, list)
	}
	return refRecord(ctx, k, g, p, "codec", "-c", c.Codec, c.Delete, fmt.Sprintf("no conversion at %v in %s", pattern, c.List))
}

// print prints a convert list: PATTERN: CODEC, one a line.
func (c *CodecConvertCmd) print(ctx context.Context, k *connector, g *globals, list path.Path) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	abs := path.Must(nil).Join(list)
	for e, err := range cl.GetTree(ctx, list, client.TreeOptions{Internal: true, MinDepth: 1}) {
		if err != nil {
			return err
		}
		rel, _ := e.Path.TrimPrefix(abs)
		if rel.IsRoot() {
			rel = e.Path
		}
		fmt.Fprintf(g.stdout, "%v: %s\n", rel, refOf(e.Raw, "codec"))
	}
	return nil
}
