package main

import (
	"context"
	"sort"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

// InternalCmd is `distkv client internal`.
type InternalCmd struct {
	Dump  InternalDumpCmd  `cmd:"" help:"Print the system tree (users, ACLs, types, …) below PATH."`
	State InternalStateCmd `cmd:"" help:"Print the server's view of nodes and their ticks."`
}

// InternalDumpCmd is `internal dump`.
type InternalDumpCmd struct {
	Path pathArg `arg:"" optional:"" help:"Below the system root; ':' for all of it. ${path_help}"`
}

func (InternalDumpCmd) Help() string {
	return `DistKV keeps its own data under a None root element, shown as "null".
This prints it like "data get -rd_".

Example:
  distkv client internal dump :`
}

func (c *InternalDumpCmd) Run(ctx context.Context, k *connector, g *globals) error {
	p, cl, err := k.at(ctx, c.Path)
	if err != nil {
		return err
	}
	key := "_"
	prefix := path.Must(nil).Join(p)
	return printTree(g.stdout, cl.GetTree(ctx, p, client.TreeOptions{Internal: true}), prefix, &key, false, false)
}

// InternalStateCmd is `internal state`.
type InternalStateCmd struct {
	Nodes      bool `short:"n" help:"The ticks of every node."`
	Present    bool `help:"The ticks each node's current data hold."`
	Superseded bool `short:"s" help:"The ticks whose data were replaced."`
	Deleted    bool `short:"d" help:"The ticks of deletions."`
	Missing    bool `short:"m" help:"The ticks this server has not seen."`
	All        bool `help:"All of the above."`
}

func (InternalStateCmd) Help() string {
	return `Every server counts its changes (ticks). This shows which ticks of which
node this server holds.

Example:
  distkv client internal state --all`
}

func (c *InternalStateCmd) Run(ctx context.Context, k *connector, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	flags := map[string]bool{
		"nodes": c.Nodes || c.All, "present": c.Present || c.All, "superseded": c.Superseded || c.All,
		"deleted": c.Deleted || c.All, "missing": c.Missing || c.All, "remote_missing": c.Missing || c.All,
	}
	var args client.Args
	for _, k := range sortedKeys(flags) {
		if flags[k] {
			args = append(args, pack.KV{Key: k, Value: true})
		}
	}
	rep, err := cl.Request(ctx, "get_state", args)
	if err != nil {
		return err
	}
	out := pack.Map{{Key: "node", Value: rep.Node}, {Key: "tock", Value: rep.Tock}}
	for _, k := range sortedKeys(rep.Other) {
		v, err := value.Decode(rep.Other[k])
		if err != nil {
			return err
		}
		if k == "known" {
			k = "superseded"
		}
		out = append(out, pack.KV{Key: k, Value: v})
	}
	return printYAML(g.stdout, out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
