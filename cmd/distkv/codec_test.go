package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/value"
)

// goCodecRunner stands in for Lua: the tutorial's two scripts as Go.
type goCodecRunner struct{}

type goCodecProc func(any) (any, error)

func (p goCodecProc) Call(_ context.Context, v any) (any, bool, error) {
	out, err := p(v)
	return out, true, err
}

func (goCodecRunner) Compile(name, src string) (codecs.Proc, error) {
	switch strings.TrimSpace(src) {
	case "return tostring(value)":
		return goCodecProc(func(v any) (any, error) {
			if f, ok := v.(float64); ok {
				return strconv.FormatFloat(f, 'g', -1, 64), nil
			}
			return fmt.Sprint(v), nil
		}), nil
	case "return tonumber(value)":
		return goCodecProc(func(v any) (any, error) {
			s, _ := v.(string)
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, errors.New("not a number")
			}
			return f, nil
		}), nil
	}
	return nil, fmt.Errorf("%s: syntax error", name)
}

type codecHooks struct{ cd *codecs.Codecs }

func (h *codecHooks) Decode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	return h.cd.Decode(s, p, v)
}

func (h *codecHooks) Encode(s *server.Session, p path.Path, v []byte) ([]byte, error) {
	return h.cd.Encode(s, p, v)
}

func (h *codecHooks) Check(s *server.Session, p path.Path, v []byte) error {
	return h.cd.Check(s, p, v)
}

// TestCodecCommands runs the tutorial's "Data mangling" commands in
// process, against a server whose codecs run Go stand-ins for the Lua.
func TestCodecCommands(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &codecHooks{}
	s, err := server.New(server.Config{Node: "t", Listen: "127.0.0.1:0", Logger: log, Hooks: server.Hooks{Codec: h, Checker: h}})
	if err != nil {
		t.Fatal(err)
	}
	h.cd = codecs.New(s.Tree(), goCodecRunner{}, log)
	t.Cleanup(h.cd.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	port := strconv.Itoa(s.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	enc, dec := filepath.Join(dir, "enc.lua"), filepath.Join(dir, "dec.lua")
	os.WriteFile(enc, []byte("return tostring(value)\n"), 0o644)
	os.WriteFile(dec, []byte("return tonumber(value)\n"), 0o644)

	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port=" + port, "client"}, args...), strings.NewReader(""), &out, &errOut)
		if code != 0 {
			return strings.TrimSpace(out.String() + errOut.String()), fmt.Errorf("exit %d", code)
		}
		return strings.TrimSpace(out.String()), nil
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	must("auth", "-m", "_test", "user", "add", "name=root")
	must("auth", "-m", "_test", "user", "add", "name=joe")
	must("auth", "-m", "_test", "init")
	root := func(args ...string) string {
		t.Helper()
		return must(append([]string{"-a", "_test name=root"}, args...)...)
	}
	joe := func(args ...string) string {
		t.Helper()
		return must(append([]string{"-a", "_test name=joe"}, args...)...)
	}

	root("codec", "set", "-i", `"12.5"`, "12.5", "-o", "13.25", `"13.25"`, "-e", enc, "-d", dec, "float.str")
	root("codec", "convert", "-c", "float.str", "floatval", "monitor.#.value")
	root("auth", "user", "modify", "--aux", "codec=floatval", "name=joe")
	if got := root("codec", "convert", "floatval", "monitor.#.value"); got != "float.str" {
		t.Errorf("convert, shown: %q", got)
	}
	if got := root("codec", "convert", "floatval"); got != "monitor.#.value: float.str" {
		t.Errorf("convert, the list: %q", got)
	}
	if got := root("codec", "list"); got != "float.str" {
		t.Errorf("list: %q", got)
	}
	if got := root("codec", "get", "float.str"); !strings.Contains(got, "return tostring(value)") || !strings.Contains(got, "13.25") {
		t.Errorf("get: %q", got)
	}

	// Joe writes and reads strings; root sees the numbers stored.
	deadline := time.Now().Add(10 * time.Second)
	for {
		root("data", "set", "-ev", "1.5", "monitor", "probe", "value")
		if got := joe("data", "get", "monitor", "probe", "value"); got == `"1.5"` {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("joe reads %s", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	joe("data", "set", "-v", "99.5", "monitor", "a", "b", "c", "value")
	joe("data", "set", "-v", "12.3", "monitor", "a", "b", "c", "thing")
	if got := root("data", "get", "monitor", "a", "b", "c", "value"); got != "99.5" {
		t.Errorf("root reads %s", got)
	}
	if got := joe("data", "get", "monitor", "a", "b", "c", "value"); got != `"99.5"` {
		t.Errorf("joe reads %s", got)
	}
	it, _ := s.Tree().Get(path.P("monitor.a.b.c.thing"))
	if v, _ := value.Decode([]byte(it.Value)); v != "12.3" {
		t.Errorf("a path no pattern matches: stored %#v", v)
	}

	// Refusals, with the reason.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"codec", "set", "-i", `"12.5"`, "13", "-o", "13.25", `"13.25"`, "-e", enc, "-d", dec, "bad"}, `decode example "12.5" gives 12.5, not 13`},
		{[]string{"codec", "set", "-i", `"12.5"`, "12.5", "-e", enc, "-d", dec, "bad"}, "needs at least one example (-o IN OUT)"},
		{[]string{"codec", "set", "-i", `"12.5"`, "12.5", "bad"}, "give the scripts with -e FILE"},
		{[]string{"codec", "convert", "-c", "nope", "floatval", "a.#"}, "codec nope does not exist"},
		{[]string{"codec", "get", "nope"}, "no codec nope"},
	} {
		out, err := cli(append([]string{"-a", "_test name=root"}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %v %q, want %q", tc.args, err, out, tc.want)
		}
	}

	root("codec", "convert", "-d", "floatval", "monitor.#.value")
	root("codec", "delete", "float.str")
	if got := root("codec", "list"); got != "" {
		t.Errorf("list after delete: %q", got)
	}
}
