package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// DataCmd is `distkv client data`.
type DataCmd struct {
	Get      DataGetCmd     `cmd:"" help:"Print the value at PATH, or with -r the subtree."`
	Set      DataSetCmd     `cmd:"" help:"Store a value at PATH."`
	Delete   DataDeleteCmd  `cmd:"" help:"Delete the value at PATH (with -r, the subtree)."`
	List     DataListCmd    `cmd:"" help:"List the children of PATH."`
	Monitor  DataMonitorCmd `cmd:"" help:"Print changes below PATH as they happen."`
	Update   DataUpdateCmd  `cmd:"" help:"Store the path/value records of a YAML stream read from stdin."`
	Internal InternalCmd    `cmd:"" hidden:"" help:"Same as 'distkv client internal'."`
}

const (
	pathHelp      = "The path: one word in text form (one.two:31, a.b:.c), or several words, one string element each. Default: the root (:)."
	writePathHelp = "The path: one word in text form (one.two:31, a.b:.c), or several words, one string element each. Required; the root is written ':'."
)

// DataGetCmd is `data get`.
type DataGetCmd struct {
	Recursive bool    `short:"r" help:"Read the whole subtree."`
	AsDict    *string `short:"d" name:"as-dict" placeholder:"KEY" help:"With -r: print a nested mapping, each value under KEY (-d_)."`
	MinDepth  int     `short:"m" name:"mindepth" placeholder:"MIN" help:"With -r: skip entries less than MIN levels below PATH."`
	MaxDepth  int     `short:"M" name:"maxdepth" default:"-1" placeholder:"MAX" help:"With -r: skip entries more than MAX levels below PATH."`
	Empty     bool    `short:"e" help:"With -r: include entries that hold no value."`
	Chain     bool    `short:"c" name:"chain" help:"Also print each entry's chain and tock."`
	Path      pathArg `arg:"" optional:"" help:"${path_help}"`
}

func (DataGetCmd) Help() string {
	return `Strings print in double quotes, numbers plain, other values as YAML.

Examples:
  distkv client data get one.two.three
  distkv client data get -rd_ one
  distkv client data get -r -M 1 :`
}

func (c *DataGetCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, cl, err := k.at(ctx, c.Path)
	if err != nil {
		return err
	}
	if !c.Recursive {
		e, err := cl.Get(ctx, p)
		if err != nil {
			return err
		}
		if !e.HasValue {
			return fmt.Errorf("no value at %v", p)
		}
		if c.Chain {
			return printYAML(g.stdout, entryMap(e, path.Root))
		}
		v, err := e.Value()
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, value.Top(v))
		return nil
	}
	opt := client.TreeOptions{MinDepth: c.MinDepth, MaxDepth: c.MaxDepth, Empty: c.Empty}
	if c.MaxDepth == 0 {
		opt.MaxDepth = 1 // the client's 0 means "no limit": filter below
	}
	if c.Chain {
		opt.Chains = -1
	}
	return printTree(g.stdout, cl.GetTree(ctx, p, opt), path.Root, c.AsDict, c.Chain, c.MaxDepth == 0)
}

// printTree prints entries nested under key (-d KEY), or as a mapping
// from path text to value. onlyTop keeps depth 0 alone (-M 0).
func printTree(w io.Writer, entries func(func(client.Entry, error) bool), prefix path.Path, key *string, chains, onlyTop bool) error {
	nest := newNested()
	flat := pack.Map{}
	seen := false
	for e, err := range entries {
		if err != nil {
			return err
		}
		if onlyTop && !e.Path.IsRoot() {
			continue
		}
		seen = true
		var v any
		if chains {
			v = entryMap(e, prefix)
		} else if e.HasValue {
			if v, err = e.Value(); err != nil {
				return err
			}
		}
		if key != nil {
			nest.put(prefix.Join(e.Path), *key, v)
		} else {
			flat = append(flat, pack.KV{Key: prefix.Join(e.Path).String(), Value: v})
		}
	}
	switch {
	case !seen:
		return nil
	case key != nil:
		return printYAML(w, nest.tree())
	}
	return printYAML(w, flat)
}

// entryMap shows an entry with its chain, for -c.
func entryMap(e client.Entry, prefix path.Path) pack.Map {
	m := pack.Map{{Key: "path", Value: prefix.Join(e.Path).String()}}
	if e.HasValue {
		v, err := e.Value()
		if err != nil {
			v = fmt.Sprintf("<%v>", err)
		}
		m = append(m, pack.KV{Key: "value", Value: v})
	}
	var links []any
	for _, l := range e.Chain {
		links = append(links, pack.Map{{Key: "node", Value: l.Node}, {Key: "tick", Value: l.Tick}})
	}
	if links != nil {
		m = append(m, pack.KV{Key: "chain", Value: links})
	}
	return append(m, pack.KV{Key: "tock", Value: e.Tock})
}

func printYAML(w io.Writer, v any) error {
	b, err := value.YAML(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// nested builds the -d form: a mapping per path element, the value
// under a key of its own.
type nested struct {
	kids   map[string]*nested // by element encoding
	order  []string           // element encodings, in the order seen
	keys   []any              // the elements' values, in the same order
	valKey string
	val    any
	has    bool
}

func newNested() *nested { return &nested{kids: map[string]*nested{}} }

func (n *nested) put(p path.Path, key string, v any) {
	for e := range p.Elems() {
		k := e.Encoded()
		c := n.kids[k]
		if c == nil {
			c = newNested()
			n.kids[k] = c
			n.order = append(n.order, k)
			n.keys = append(n.keys, e.Value())
		}
		n = c
	}
	n.val, n.has, n.valKey = v, true, key
}

func (n *nested) tree() pack.Map {
	m := pack.Map{}
	if n.has {
		m = append(m, pack.KV{Key: n.valKey, Value: n.val})
	}
	for i, k := range n.order {
		m = append(m, pack.KV{Key: n.keys[i], Value: n.kids[k].tree()})
	}
	return m
}

// DataSetCmd is `data set`.
type DataSetCmd struct {
	Value *string  `short:"v" name:"value" placeholder:"VALUE" help:"The value: a string, or with -e a literal."`
	Eval  bool     `short:"e" name:"eval" help:"Read VALUE (and --prev) as a literal: 123, 1.5, True, None, 'text', b'bytes', [1, 2], (1, 2), {'a': 1}."`
	Last  *lastArg `name:"last" placeholder:"NODE TICK" help:"Only if the entry's newest change is still NODE's TICK (see 'data get -c')."`
	New   bool     `name:"new" help:"Only if the entry has no value yet."`
	Prev  *string  `name:"prev" placeholder:"VALUE" help:"Only if the entry's value is still VALUE."`
	Ack   string   `name:"ack" placeholder:"LEVEL" help:"${ack_help}"`
	Path  pathArg  `arg:"" optional:"" help:"${write_path_help}"`
}

// ackHelp explains --ack of data set and delete.
const ackHelp = "When the server answers: local, once it has applied the change; peer, once another server has, too (then a crash of this server cannot lose it). Default: the server's server.ack."

// ackOption is the client option of --ack.
func ackOption(level string) ([]client.Option, error) {
	if level == "" {
		return nil, nil
	}
	switch l, err := wire.ParseAckLevel(level); {
	case err != nil:
		return nil, fmt.Errorf("--ack: %w", err)
	case l == wire.AckPeer:
		return []client.Option{client.AckPeer()}, nil
	}
	return []client.Option{client.AckLocal()}, nil
}

func (DataSetCmd) Help() string {
	return `Examples:
  distkv client data set -v Duh one.two.three.four.five
  distkv client data set -ev 123 one.two.three
  distkv client data set -v 99.5 monitor a b c value
  distkv client data set -ev 124 --last test1 7 one.two.three
  distkv client data set -v on --ack peer lights.hall`
}

// lastArg is --last NODE TICK: one flag, two words.
type lastArg struct {
	Node string
	Tick uint64
}

func (l *lastArg) Decode(ctx *kong.DecodeContext) error {
	var node, tick string
	if err := ctx.Scan.PopValueInto("node", &node); err != nil {
		return err
	}
	if err := ctx.Scan.PopValueInto("tick", &tick); err != nil {
		return err
	}
	t, err := strconv.ParseUint(tick, 10, 64)
	if err != nil {
		return fmt.Errorf("--last %s %s: the tick must be a number", node, tick)
	}
	l.Node, l.Tick = node, t
	return nil
}

func preconditions(last *lastArg, isNew bool, prev *string, eval bool) ([]client.Option, error) {
	n := 0
	var opts []client.Option
	if last != nil {
		n++
		opts = append(opts, client.IfChain(client.Chain{{Node: last.Node, Tick: last.Tick}}))
	}
	if isNew {
		n++
		opts = append(opts, client.IfNew())
	}
	if prev != nil {
		n++
		raw, err := parseValue(*prev, eval)
		if err != nil {
			return nil, fmt.Errorf("--prev: %w", err)
		}
		opts = append(opts, client.IfValue(client.Raw(raw)))
	}
	if n > 1 {
		return nil, errors.New("--last, --new and --prev exclude each other")
	}
	return opts, nil
}

// writePath is the path of a command that changes an entry: it must be
// given, so that the root (the network's name, by convention) is never
// changed by a forgotten argument.
func writePath(words pathArg, verb string) (path.Path, error) {
	if len(words) == 0 {
		return path.Root, fmt.Errorf("no path: give the path to %s (the root is written ':')", verb)
	}
	return words.path()
}

func (c *DataSetCmd) Run(ctx context.Context, k *connector) error {
	p, err := writePath(c.Path, "set")
	if err != nil {
		return err
	}
	if c.Value == nil {
		return errors.New("give the value with -v VALUE")
	}
	raw, err := parseValue(*c.Value, c.Eval)
	if err != nil {
		return err
	}
	opts, err := preconditions(c.Last, c.New, c.Prev, c.Eval)
	if err != nil {
		return err
	}
	ack, err := ackOption(c.Ack)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Set(ctx, p, client.Raw(raw), append(opts, ack...)...)
	return err
}

// DataDeleteCmd is `data delete`.
type DataDeleteCmd struct {
	Recursive bool     `short:"r" help:"Delete every value at and below PATH."`
	Last      *lastArg `name:"last" placeholder:"NODE TICK" help:"Only if the entry's newest change is still NODE's TICK."`
	Prev      *string  `name:"prev" placeholder:"VALUE" help:"Only if the entry's value is still VALUE."`
	Eval      bool     `short:"e" name:"eval" help:"Read --prev as a literal."`
	Ack       string   `name:"ack" placeholder:"LEVEL" help:"${ack_help}"`
	Path      pathArg  `arg:"" optional:"" help:"${write_path_help}"`
}

func (DataDeleteCmd) Help() string {
	return `The entry keeps its history (so the deletion reaches other servers);
its value is gone.

Examples:
  distkv client data delete one.two.three
  distkv client data delete -r one              # everything below one, too
  distkv client data delete --prev Duh one.two.three.four.five`
}

func (c *DataDeleteCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, err := writePath(c.Path, "delete")
	if err != nil {
		return err
	}
	opts, err := preconditions(c.Last, false, c.Prev, c.Eval)
	if err != nil {
		return err
	}
	ack, err := ackOption(c.Ack)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	if c.Recursive {
		if len(opts) > 0 || c.Ack != "" {
			return errors.New("-r cannot check --last or --prev, nor wait for --ack")
		}
		n, err := cl.DeleteTree(ctx, p)
		if err == nil {
			g.log.Info("deleted", "entries", n)
		}
		return err
	}
	_, err = cl.Delete(ctx, p, append(opts, ack...)...)
	return err
}

// DataListCmd is `data list`.
type DataListCmd struct {
	Path pathArg `arg:"" optional:"" help:"${path_help}"`
}

func (DataListCmd) Help() string {
	return `Prints one child per line, in path order, also children without a value.

Example:
  distkv client data list one.two`
}

func (c *DataListCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, cl, err := k.at(ctx, c.Path)
	if err != nil {
		return err
	}
	for e, err := range cl.GetTree(ctx, p, client.TreeOptions{MinDepth: 1, MaxDepth: 1, Empty: true}) {
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, e.Path.String())
	}
	return nil
}

// DataMonitorCmd is `data monitor`.
type DataMonitorCmd struct {
	State bool    `short:"s" help:"Print the current state first, then '--- # up to date'."`
	Only  bool    `short:"o" help:"Print only the value at PATH itself, a line per change."`
	Path  pathArg `arg:"" optional:"" help:"${path_help}"`
}

func (DataMonitorCmd) Help() string {
	return `Each change prints as a YAML document (path, value or deleted: true,
tock), so that "data monitor" output can feed "data update". Stop it
with Ctrl-C.

Examples:
  distkv client data monitor -s one          # the current state, then changes
  distkv client data monitor -o one.two      # only one.two's value`
}

func (c *DataMonitorCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, cl, err := k.at(ctx, c.Path)
	if err != nil {
		return err
	}
	opt := client.WatchOptions{Fetch: c.State}
	w := bufio.NewWriter(g.stdout)
	defer w.Flush()
	for ev, err := range cl.Watch(ctx, p, opt) {
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		switch {
		case ev.UpToDate:
			fmt.Fprintln(w, "--- # up to date")
		case c.Only:
			if !ev.Path.IsRoot() {
				continue
			}
			if !ev.HasValue {
				fmt.Fprintln(w, "# deleted")
			} else if v, err := ev.Value(); err == nil {
				fmt.Fprintln(w, value.Top(v))
			}
		default:
			m := pack.Map{{Key: "path", Value: ev.Path.String()}}
			if ev.HasValue {
				v, err := ev.Value()
				if err != nil {
					return err
				}
				m = append(m, pack.KV{Key: "value", Value: v})
			} else {
				m = append(m, pack.KV{Key: "deleted", Value: true})
			}
			m = append(m, pack.KV{Key: "tock", Value: ev.Tock})
			fmt.Fprintln(w, "---")
			if err := printYAML(w, m); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// DataUpdateCmd is `data update`.
type DataUpdateCmd struct {
	Path pathArg `arg:"" optional:"" help:"Prefix for the records' paths. ${path_help}"`
}

func (DataUpdateCmd) Help() string {
	return `Reads YAML documents from stdin, each a mapping with "path" (text form,
relative to PATH) and "value", or "deleted: true" to delete:

  ---
  path: one.two
  value: 123
  ---
  path: one.three
  deleted: true

Example:
  distkv client data monitor -s one > one.yaml   # … later:
  distkv client data update one < one.yaml`
}

func (c *DataUpdateCmd) Run(ctx context.Context, k *connector, g *globals) error {
	prefix, err := c.Path.path()
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(g.stdin)
	for n := 1; ; n++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("stdin, record %d: %w", n, err)
		}
		rec, err := value.FromYAML(&doc)
		if err != nil {
			return fmt.Errorf("stdin, record %d: %w", n, err)
		}
		if err := applyRecord(ctx, cl, prefix, rec); err != nil {
			return fmt.Errorf("stdin, record %d: %w", n, err)
		}
	}
}

func applyRecord(ctx context.Context, cl *client.Client, prefix path.Path, rec any) error {
	m, ok := rec.(pack.Map)
	if !ok {
		if rec == nil {
			return nil // an empty document
		}
		return errors.New("a record must be a mapping with path and value")
	}
	pv, ok := m.Get("path")
	if !ok {
		return errors.New(`the record has no "path"`)
	}
	var p path.Path
	var err error
	switch pv := pv.(type) {
	case string:
		p, err = path.Parse(pv)
	case path.Path:
		p = pv
	case []any:
		p, err = path.New(pv...)
	default:
		err = fmt.Errorf("path %v is not a path", pv)
	}
	if err != nil {
		return err
	}
	p = prefix.Join(p)
	if d, _ := m.Get("deleted"); d == true {
		_, err = cl.Delete(ctx, p)
		return err
	}
	v, ok := m.Get("value")
	if !ok {
		return fmt.Errorf(`the record for %v has no "value" (or "deleted: true")`, p)
	}
	_, err = cl.Set(ctx, p, v)
	return err
}
