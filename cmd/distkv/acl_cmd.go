package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// ACLCmd is `distkv client acl`: the rules of the system tree's
// `None acl NAME PATH…` entries.
type ACLCmd struct {
	Set    ACLSetCmd    `cmd:"" help:"Set or change the modes of one rule of an ACL."`
	Get    ACLGetCmd    `cmd:"" help:"Print the modes of one rule of an ACL."`
	List   ACLListCmd   `cmd:"" help:"List the ACLs' names."`
	Dump   ACLDumpCmd   `cmd:"" help:"Print the rules of an ACL (below PATH)."`
	Delete ACLDeleteCmd `cmd:"" help:"Delete one rule of an ACL (with -r, all of them)."`
	Test   ACLTestCmd   `cmd:"" help:"Ask the server what an ACL allows at PATH."`
}

func (ACLCmd) Help() string {
	return `An ACL is a set of rules: a path pattern and the modes it grants.
Modes: r read, w write (an existing value), c create (a new value),
d delete, x access, e enumerate children, n new children, a read ACLs.
In patterns, "+" matches one path element and "#" one or more; the
most specific matching rule decides, no match means no access. A user
is bound to an ACL by "auth user set param USER acl NAME".

Examples:
  distkv client acl set writeonly -a xc 'wom.#'
  distkv client acl test -a writeonly -m w wom.foo`
}

// aclPath is the system path of ACL name's rule for pattern.
func aclPath(name string, pattern path.Path) path.Path {
	return path.Must("acl", name).Join(pattern)
}

// rulePattern parses a rule's pattern, which must not be the root.
func rulePattern(words pathArg) (path.Path, error) {
	p, err := words.path()
	if err != nil {
		return p, err
	}
	if p.IsRoot() {
		return p, errors.New("a rule needs a non-empty path pattern")
	}
	return p, nil
}

// ACLSetCmd is `acl set`.
type ACLSetCmd struct {
	Modes string  `name:"acl" default:"+x" placeholder:"MODES" help:"(-a) The modes (letters of rwcdxena); +MODES adds to the rule's modes, -MODES removes from them."`
	Name  string  `arg:"" help:"The ACL's name."`
	Path  pathArg `arg:"" help:"The path pattern, e.g. 'wom.#' (quote it for the shell)."`
}

func (ACLSetCmd) Help() string {
	return `Prints nothing. A rule with no modes is a rule too: it denies
everything where it is the most specific match.

Examples:
  distkv client acl set writeonly -a xc 'wom.#'
  distkv client acl set writeonly -a +r 'wom.public.#'
  distkv client acl set writeonly -a -c 'wom.frozen.#'`
}

func (c *ACLSetCmd) Run(ctx context.Context, k *connector) error {
	pat, err := rulePattern(c.Path)
	if err != nil {
		return err
	}
	op, letters := byte(0), c.Modes
	if len(letters) > 1 && (letters[0] == '+' || letters[0] == '-') {
		op, letters = letters[0], letters[1:]
	}
	modes, err := acl.ParseModes(letters)
	if err != nil {
		return fmt.Errorf("-a %s: %w", c.Modes, err)
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	p := aclPath(c.Name, pat)
	if op != 0 {
		old, err := ruleModes(ctx, cl, p)
		if err != nil {
			return err
		}
		if op == '+' {
			modes = old | modes
		} else {
			modes = old &^ modes
		}
	}
	_, err = cl.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: modes.String()}})
	return err
}

// ruleModes reads a rule's modes; none if there is no rule.
func ruleModes(ctx context.Context, cl *client.Client, p path.Path) (acl.Modes, error) {
	rep, err := cl.Request(ctx, wire.GetInternal, client.Args{{Key: "path", Value: p}})
	if err != nil || !rep.HasValue {
		return 0, err
	}
	v, err := value.Decode(rep.Value)
	if err != nil {
		return 0, err
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("the rule at %v holds %v, not a string of modes", p, v)
	}
	return acl.ParseModes(s)
}

// ACLGetCmd is `acl get`.
type ACLGetCmd struct {
	Name string  `arg:"" help:"The ACL's name."`
	Path pathArg `arg:"" help:"The rule's path pattern, as it was set."`
}

func (ACLGetCmd) Help() string {
	return `This reads a rule; it does not say which rule decides for a path
(that is "acl test").

Example:
  distkv client acl get writeonly 'wom.#'`
}

func (c *ACLGetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	pat, err := rulePattern(c.Path)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	p := aclPath(c.Name, pat)
	rep, err := cl.Request(ctx, wire.GetInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if !rep.HasValue {
		return fmt.Errorf("ACL %s has no rule %v", c.Name, pat)
	}
	v, err := value.Decode(rep.Value)
	if err != nil {
		return err
	}
	if s, ok := v.(string); ok {
		fmt.Fprintln(g.stdout, s) // modes print bare, as the letters they are
	} else {
		fmt.Fprintln(g.stdout, value.Top(v))
	}
	return nil
}

// ACLListCmd is `acl list`.
type ACLListCmd struct{}

func (ACLListCmd) Help() string {
	return `Example:
  distkv client acl list`
}

func (c *ACLListCmd) Run(ctx context.Context, k *connector, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	// An ACL exists while it has a rule: its name entry alone may be a
	// leftover of deleted rules.
	var last path.Elem
	for e, err := range cl.GetTree(ctx, path.Must("acl"), client.TreeOptions{Internal: true, MinDepth: 1}) {
		if err != nil {
			return err
		}
		name, _ := e.Path.Split()
		if name == last {
			continue
		}
		last = name
		if s, ok := name.StrValue(); ok {
			fmt.Fprintln(g.stdout, s)
		} else {
			fmt.Fprintln(g.stdout, name)
		}
	}
	return nil
}

// ACLDumpCmd is `acl dump`.
type ACLDumpCmd struct {
	Name string  `arg:"" help:"The ACL's name."`
	Path pathArg `arg:"" optional:"" help:"Only the rules below this pattern prefix."`
}

func (ACLDumpCmd) Help() string {
	return `Prints the rules like "data get -rd_": each pattern's modes under "_".

Example:
  distkv client acl dump writeonly`
}

func (c *ACLDumpCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, err := c.Path.path()
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	key := "_"
	return printTree(g.stdout, cl.GetTree(ctx, aclPath(c.Name, p), client.TreeOptions{Internal: true}), path.Root, &key, false, false)
}

// ACLDeleteCmd is `acl delete`.
type ACLDeleteCmd struct {
	Recursive bool    `short:"r" help:"Delete every rule of the ACL (below PATH, if given)."`
	Name      string  `arg:"" help:"The ACL's name."`
	Path      pathArg `arg:"" optional:"" help:"The rule's path pattern."`
}

func (ACLDeleteCmd) Help() string {
	return `Examples:
  distkv client acl delete writeonly 'wom.#'
  distkv client acl delete -r writeonly`
}

func (c *ACLDeleteCmd) Run(ctx context.Context, k *connector) error {
	p, err := c.Path.path()
	if err != nil {
		return err
	}
	if !c.Recursive && p.IsRoot() {
		return errors.New("name the rule's path pattern, or delete the whole ACL with -r")
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	base := aclPath(c.Name, p)
	if !c.Recursive {
		rep, err := cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: base}})
		if err == nil && !rep.Changed {
			err = fmt.Errorf("ACL %s has no rule %v", c.Name, p)
		}
		return err
	}
	// There is no delete_tree for the system tree: one rule at a time.
	var rules []path.Path
	for e, err := range cl.GetTree(ctx, base, client.TreeOptions{Internal: true}) {
		if err != nil {
			return err
		}
		rules = append(rules, base.Join(e.Path).Clone())
	}
	for _, r := range rules {
		if _, err := cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: r}}); err != nil {
			return err
		}
	}
	return nil
}

// ACLTestCmd is `acl test`.
type ACLTestCmd struct {
	Mode string  `short:"m" placeholder:"MODE" help:"The mode letter(s) to test."`
	ACL  string  `name:"acl" placeholder:"ACL" help:"(-a) Test this ACL instead of your own (needs mode a at PATH)."`
	Path pathArg `arg:"" help:"The path to test."`
}

func (ACLTestCmd) Help() string {
	return `Prints "-" if the ACL refuses (MODE, or without -m everything), else
the deciding rule's modes if you may read ACLs there, else "+".

Examples:
  distkv client acl test wom.foo.bar
  distkv client acl test -a writeonly -m w wom.foo.bar`
}

func (c *ACLTestCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, err := rulePattern(c.Path)
	if err != nil {
		return err
	}
	if _, err := acl.ParseModes(c.Mode); err != nil {
		return fmt.Errorf("-m %s: %w", c.Mode, err)
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	args := client.Args{{Key: "path", Value: p}}
	if c.Mode != "" {
		args = append(args, client.Args{{Key: "mode", Value: c.Mode}}...)
	}
	if c.ACL != "" {
		args = append(args, client.Args{{Key: "acl", Value: c.ACL}}...)
	}
	rep, err := cl.Request(ctx, wire.TestACL, args)
	if err != nil {
		return err
	}
	raw, ok := rep.Other["access"]
	if !ok {
		return errors.New("the server's test_acl reply has no access field")
	}
	v, err := value.Decode(raw)
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		fmt.Fprintln(g.stdout, map[bool]string{true: "+", false: "-"}[v])
	case string:
		fmt.Fprintln(g.stdout, strings.TrimSpace(v))
	default:
		return fmt.Errorf("the server's test_acl reply has access %v", v)
	}
	return nil
}

// shortA names the subcommands that take -a as the original's do,
// although `client -a` is the login: kong refuses one short flag twice
// on a command's way, so clientShortA turns -a after them into their long
// flag. long takes a value unless bool.
var shortA = map[string]struct {
	long string
	bool bool
}{
	"acl set": {long: "--acl"}, "acl test": {long: "--acl"}, "error list": {long: "--all", bool: true},
}

// clientShortA rewrites -a after the subcommands of shortA.
func clientShortA(args []string) []string {
	takesValue := map[string]bool{"-a": true, "--auth": true, "-h": true, "--host": true, "-p": true, "--port": true}
	client := -1
	for i, a := range args {
		if a == "client" {
			client = i
			break
		}
	}
	if client < 0 {
		return args
	}
	for i := client + 1; i+1 < len(args); i++ {
		a := args[i]
		if takesValue[a] {
			i++ // its value
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		flag, ok := shortA[a+" "+args[i+1]]
		if !ok {
			return args // another command
		}
		out := append([]string{}, args[:i+2]...)
		for j := i + 2; j < len(args); j++ {
			switch w := args[j]; {
			case w == "--":
				return append(out, args[j:]...)
			case flag.bool && w == "-a":
				out = append(out, flag.long)
			case flag.bool && strings.HasPrefix(w, "-a"):
				out = append(out, flag.long, "-"+w[2:]) // -ad_: -a and -d_
			case w == "-a" && j+1 < len(args):
				// Joined: a value such as "-c" would read as a flag.
				out = append(out, flag.long+"="+args[j+1])
				j++
			case strings.HasPrefix(w, "-a"):
				out = append(out, flag.long+"="+w[2:])
			default:
				out = append(out, w)
			}
		}
		return out
	}
	return args
}
