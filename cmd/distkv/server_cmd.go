package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
)

// ServerCmd is `distkv server`.
type ServerCmd struct {
	Init *string  `short:"i" name:"init" placeholder:"VALUE" help:"Start a new network: store VALUE at the root (a string; with -e a literal). Never use it to join an existing network."`
	Eval bool     `short:"e" name:"eval" help:"Read the -i value as a literal: 123, True, None, b'…', [1, 2], {'a': 1}."`
	Load []string `short:"l" name:"load" placeholder:"FILE" sep:"none" help:"Load a save or log file before serving (repeatable, in order; a stream such as <(cat a b) works)."`
	Name string   `arg:"" help:"This server's name: unique in the network, e.g. $(hostname)."`
}

// Help is shown below the flags of `distkv server --help`.
func (ServerCmd) Help() string {
	return `The server keeps all data in memory and listens for clients on
server.bind_default (localhost:27586). It prints "Running." once it serves.

Examples:
  distkv server -i Testing $(hostname)             # a new network
  distkv server -l /var/lib/distkv/latest.state $(hostname)
  distkv server -l <(cat /var/lib/distkv/*.state) $(hostname)`
}

func (c *ServerCmd) Run(ctx context.Context, g *globals) error {
	cfg := g.cfg.Server
	sync, err := persist.ParseSyncPolicy(string(cfg.Log.Sync))
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Node:        c.Name,
		Listen:      net.JoinHostPort(cfg.BindDefault.Host, strconv.Itoa(cfg.BindDefault.Port)),
		ChainLength: cfg.Change.Length,
		Queue:       cfg.Conn.Queue,
		MaxMessage:  int(cfg.Conn.MaxMessage),
		LogSync:     sync,
		LogInterval: cfg.Log.Interval.D(),
		Logger:      g.log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, name := range c.Load {
		if err := loadFile(srv, name, g); err != nil {
			return err
		}
	}
	if c.Init != nil {
		raw, err := parseValue(*c.Init, c.Eval)
		if err != nil {
			return fmt.Errorf("-i: %w", err)
		}
		if err := srv.Init(raw); err != nil {
			return err
		}
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "Running.")
	<-ctx.Done()
	g.log.Info("stopping")
	return srv.Close()
}

func loadFile(srv *server.Server, name string, g *globals) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("-l: %w", err)
	}
	defer f.Close()
	st, err := srv.Load(f, name)
	if err != nil {
		return err
	}
	g.log.Info("loaded", "file", name, "records", st.Records, "applied", st.Applied, "damaged", st.Damaged)
	return nil
}
