// Command distkv runs DistKV servers and talks to them.
//
// It parses the command line, wires the packages of core/ together and
// prints; the logic lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/alecthomas/kong"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/wire"
)

// CLI is the command tree below the global flags.
type CLI struct {
	Help    helpFlag         `help:"Show help for the command." name:"help"`
	Version kong.VersionFlag `help:"Print the version (distkv v0.3.0-12-gabc1234) and exit." name:"version"`

	Server ServerCmd `cmd:"" help:"Run a DistKV server."`
	Client ClientCmd `cmd:"" help:"Talk to a DistKV server: read and write data, control logging."`
	Keygen KeygenCmd `cmd:"" help:"Print a new random network key for server.serf.key."`
}

const description = `DistKV: a master-less distributed key-value store.

Global flags go before the command word:
  -h               show this help ("distkv help COMMAND…" or
                   "COMMAND… --help" explain a command)
  -v, -vv          log more (info, debug)
  -q               log less (warnings and errors only)
  -c FILE          read this config file instead of the usual places
                   (~/.config/distkv.cfg, ~/.distkv.cfg, /etc/distkv/distkv.cfg,
                   /etc/distkv.cfg); repeatable; -c /dev/null reads none
  -C KEY=VALUE     override a config value, e.g. -C server.bind_default.port=27587

Examples:
  distkv server -i Testing $(hostname)
  distkv client data set -v Duh one.two
  distkv client data get one.two`

// globals are the flags before the command word.
type globals struct {
	verbose int
	quiet   bool
	help    bool
	files   []string
	sets    []string

	cfg    config.Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

// helpFlag is --help; kong's own would take -h, which `client -h` needs.
type helpFlag bool

func (helpFlag) IgnoreDefault() {}

func (helpFlag) BeforeReset(ctx *kong.Context) error {
	if err := ctx.PrintUsage(false); err != nil {
		return err
	}
	ctx.Kong.Exit(0)
	return nil
}

// parseGlobals takes the global flags off the front of args.
func parseGlobals(args []string, g *globals) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" || strings.HasPrefix(a, "--") {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case 'v':
				g.verbose++
			case 'q':
				g.quiet = true
			case 'h':
				g.help = true
			case 'c', 'C':
				val := a[i+1:]
				if val == "" {
					if len(args) == 0 {
						return nil, fmt.Errorf("-%c needs a value", a[i])
					}
					val, args = args[0], args[1:]
				}
				if a[i] == 'c' {
					g.files = append(g.files, val)
				} else {
					g.sets = append(g.sets, val)
				}
				i = len(a)
			default:
				return nil, fmt.Errorf("unknown global flag -%c (global flags: -h -v -q -c FILE -C KEY=VALUE; command flags go after the command word)", a[i])
			}
		}
	}
	return args, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	for _, a := range args {
		if !utf8.ValidString(a) {
			fmt.Fprintln(stderr, "distkv:", notUTF8(a))
			return 2
		}
	}
	rest, err := parseGlobals(args, g)
	if err != nil {
		fmt.Fprintln(stderr, "distkv:", err)
		return 2
	}
	if len(rest) > 0 && rest[0] == "help" {
		rest, g.help = rest[1:], true
	}
	var cli CLI
	exit := -1
	parser, err := kong.New(&cli,
		kong.Name("distkv"),
		kong.Description(description),
		kong.NoDefaultHelp(),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Bind(g),
		kong.Vars{"version": "distkv " + versionString(), "path_help": pathHelp, "write_path_help": writePathHelp, "ack_help": ackHelp},
	)
	if err != nil {
		fmt.Fprintln(stderr, "distkv: internal error:", err)
		return 3
	}
	if g.help || len(rest) == 0 {
		rest = append(rest, "--help")
	}
	rest = clientShortA(rest)
	kctx, err := parser.Parse(rest)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		if hint := misplacedGlobal(err, rest); hint != "" {
			err = errors.New(hint)
		}
		fmt.Fprintln(stderr, "distkv:", err)
		return 2
	}
	cfg, src, err := config.Load(config.Options{Files: g.files, Overrides: g.sets})
	if err != nil {
		fmt.Fprintln(stderr, "distkv:", err)
		return 2
	}
	g.cfg = cfg
	g.log = newLogger(g, stderr, strings.HasPrefix(kctx.Command(), "client"))
	g.log.Debug("configuration", "source", src.String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}

// notUTF8 explains why an argument that is not UTF-8 is refused: paths
// and strings are text, and bytes have literals of their own.
func notUTF8(arg string) string {
	var lit strings.Builder
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' {
			lit.WriteByte(c)
		} else {
			fmt.Fprintf(&lit, `\x%02x`, c)
		}
	}
	return fmt.Sprintf("argument %q is not valid UTF-8: values and paths are text; bytes are written as a literal, -e \"b'%s'\" for a value, :y%x for a path element",
		arg, lit.String(), arg)
}

// misplacedGlobal explains a parse error caused by a global flag after the
// command word, "" if there is none: the command did not take it.
func misplacedGlobal(err error, args []string) string {
	var pe *kong.ParseError
	if !errors.As(err, &pe) || pe.Context == nil {
		return ""
	}
	taken := map[rune]bool{}
	for _, f := range pe.Context.Flags() {
		taken[f.Short] = true
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			continue
		}
		if f := rune(a[1]); strings.ContainsRune("vqcC", f) && !taken[f] {
			example := map[rune]string{'v': "-v", 'q': "-q", 'c': "-c FILE", 'C': "-C KEY=VALUE"}[f]
			return fmt.Sprintf("-%c is a global flag: global flags go before the command word, as in: distkv %s %s …",
				f, example, pe.Context.Command())
		}
	}
	return ""
}

// newLogger logs at logging.level, adjusted by -v and -q; client commands
// log warnings only unless asked, as their output is what the user reads.
func newLogger(g *globals, w io.Writer, client bool) *slog.Logger {
	level := g.cfg.Logging.Level.Slog()
	if client {
		level = max(level, slog.LevelWarn)
	}
	switch {
	case g.quiet:
		level = slog.LevelWarn
	case g.verbose == 1:
		level = min(level, slog.LevelInfo)
	case g.verbose > 1:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// printError prints an error as the tutorial shows: errors the server
// raised as "ServerError: …".
func printError(w io.Writer, err error) {
	var are *client.AuthRequiredError
	if errors.As(err, &are) {
		fmt.Fprintln(w, "ClientAuthRequiredError:", are.Error())
		return
	}
	var se *wire.ServerError
	if errors.As(err, &se) {
		fmt.Fprintln(w, "ServerError:", se.Msg)
		return
	}
	fmt.Fprintln(w, "distkv:", err)
}
