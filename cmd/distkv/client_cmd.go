package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

// ClientCmd is `distkv client`: the connection flags and the commands
// that use a connection.
type ClientCmd struct {
	Host string `short:"h" placeholder:"HOST" help:"Server to talk to (default: config connect.host, localhost)."`
	Port int    `short:"p" placeholder:"PORT" help:"Its client port (default: config connect.port, 27586)."`
	Auth string `short:"a" placeholder:"AUTH" help:"Login, e.g. \"_test name=joe\" (default: config connect.auth)."`

	Data     DataCmd     `cmd:"" help:"Read and write data."`
	Internal InternalCmd `cmd:"" help:"Look at the server's internal data and state."`
	Log      LogCmd      `cmd:"" help:"Save the server's data to files."`
	Msg      MsgCmd      `cmd:"" help:"Send and receive messages across the network (small and lossy)."`
	AuthCmd  AuthCmd     `cmd:"" name:"auth" help:"Manage logins and users."`
	ACL      ACLCmd      `cmd:"" name:"acl" help:"Manage the access control lists that restrict users."`
	Type     TypeCmd     `cmd:"" help:"Manage types: Lua validators of the values written to matched paths."`
	Code     CodeCmd     `cmd:"" help:"Store Lua code for runners."`
	Codec    CodecCmd    `cmd:"" help:"Manage codecs: Lua converters of the values some users read and write."`
	Run      RunCmd      `cmd:"" help:"Run stored Lua code on the nodes: jobs, and the runner daemon that runs them."`
	Error    ErrorCmd    `cmd:"" help:"List, resolve and delete the records of failures (of runners' jobs, types, codecs)."`
	Console  ConsoleCmd  `cmd:"" help:"Print the URL of the server's web console."`
}

func (ClientCmd) Help() string {
	return `Examples:
  distkv client data get
  distkv client -h otherhost data get one.two
  distkv client log save /var/local/lib/distkv.save`
}

// connector opens the connection when a command first needs it.
type connector struct {
	cmd *ClientCmd
	g   *globals // its config is loaded after parsing, before Run
	c   *client.Client
	// reconnect: the connection is for a daemon (run all), which takes
	// the server again when the connection drops.
	reconnect bool

	stdin *bufio.Reader // for prompts when standard input is no terminal
}

// host is the server's host: -h, or connect.host.
func (k *connector) host() string {
	if k.cmd.Host != "" {
		return k.cmd.Host
	}
	return k.g.cfg.Connect.Host
}

func (k *connector) get(ctx context.Context) (*client.Client, error) {
	if k.c == nil {
		cfg := client.FromConfig(k.g.cfg.Connect)
		if k.cmd.Auth != "" {
			cfg.Auth = k.cmd.Auth
		}
		cfg.Prompt = k.prompt
		cfg.Reconnect = k.reconnect
		cfg.Host = k.host()
		if k.cmd.Port != 0 {
			cfg.Port = k.cmd.Port
		}
		c, err := client.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		k.c = c
	}
	return k.c, nil
}

// at parses a path argument and connects.
func (k *connector) at(ctx context.Context, words pathArg) (path.Path, *client.Client, error) {
	p, err := words.path()
	if err != nil {
		return p, nil, err
	}
	cl, err := k.get(ctx)
	return p, cl, err
}

// fileRequest sends an action whose "path" names a file on the server's
// machine; a relative name is taken from the current directory.
func (k *connector) fileRequest(ctx context.Context, action, file string, args client.Args) error {
	name, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Request(ctx, action, append(client.Args{{Key: "path", Value: name}}, args...))
	return err
}

func (k *connector) close() {
	if k.c != nil {
		k.c.Close()
	}
}

// AfterApply binds a connector for the subcommands.
func (c *ClientCmd) AfterApply(kctx *kong.Context, g *globals) error {
	kctx.Bind(&connector{cmd: c, g: g})
	return nil
}

// AfterRun closes the connection.
func (c *ClientCmd) AfterRun(k *connector) error {
	k.close()
	return nil
}

// pathArg is a path given as words: one word in text form, several as
// one string element each.
type pathArg []string

func (p pathArg) path() (path.Path, error) {
	return path.FromArgs(p)
}

// parseValue reads a command-line value: a string, or with eval a literal.
func parseValue(text string, eval bool) ([]byte, error) {
	if !eval {
		return value.Encode(text)
	}
	v, err := literal.Parse(text)
	if err != nil {
		return nil, err
	}
	return value.Encode(v)
}

// LogCmd is `distkv client log`.
type LogCmd struct {
	Dest LogDestCmd `cmd:"" help:"Write the current state to FILE, then append every change as it happens."`
	Save LogSaveCmd `cmd:"" help:"Write the current state to FILE, once."`
	Stop LogStopCmd `cmd:"" help:"Stop appending changes to the log file."`
}

// LogDestCmd is `log dest`.
type LogDestCmd struct {
	Incremental bool   `short:"i" help:"Only append changes; do not write the current state first."`
	File        string `arg:"" help:"The file, on the server's machine. It is appended to, never truncated."`
}

func (LogDestCmd) Help() string {
	return `The server keeps the file open and appends every change. Restart from
it with "distkv server -l FILE NAME"; incremental files go together with
the full one: "distkv server -l <(cat full.state inc.state) NAME".
A relative FILE is taken from the current directory.

Example:
  distkv client log dest /var/local/lib/distkv.$(date +%Y%m%d).state`
}

func (c *LogDestCmd) Run(ctx context.Context, k *connector) error {
	return k.fileRequest(ctx, "log", c.File, client.Args{{Key: "fetch", Value: !c.Incremental}})
}

// LogSaveCmd is `log save`.
type LogSaveCmd struct {
	File string `arg:"" help:"The file, on the server's machine; written whole or not at all."`
}

func (LogSaveCmd) Help() string {
	return `Example:
  distkv client log save /var/local/lib/distkv.$(date +%Y%m%d).save
  distkv server -l /var/local/lib/distkv.20261125.save $(hostname)`
}

func (c *LogSaveCmd) Run(ctx context.Context, k *connector) error {
	return k.fileRequest(ctx, "save", c.File, nil)
}

// LogStopCmd is `log stop`.
type LogStopCmd struct{}

func (LogStopCmd) Help() string {
	return `The log file is closed (and fsynced); it stays as it is.

Example:
  distkv client log stop`
}

func (c *LogStopCmd) Run(ctx context.Context, k *connector) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Request(ctx, "log", nil)
	return err
}

// prompt asks for a login's key?=Label value: on a terminal it prints
// "Label: " and reads without echo; otherwise it reads one line of
// standard input (so a script can pipe a password in).
func (k *connector) prompt(label string) (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprintf(os.Stderr, "%s: ", label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	if k.stdin == nil {
		k.stdin = bufio.NewReader(os.Stdin)
	}
	line, err := k.stdin.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read %s from standard input: %w", label, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
