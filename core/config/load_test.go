package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads with no search list unless opt has one.
func mustLoad(t *testing.T, opt Options) (Config, Sources) {
	t.Helper()
	if opt.Search == nil {
		opt.Search = []string{}
	}
	c, src, err := Load(opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, src
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.cfg", "server:\n  root: :a\n  bind_default: {port: 1111}\nconnect:\n  host: a.example\n")
	b := writeFile(t, dir, "b.cfg", "# b overrides a\nserver:\n  bind_default:\n    port: 2222\n")
	empty := writeFile(t, dir, "empty.cfg", "")
	comments := writeFile(t, dir, "comments.cfg", "# nothing here\n\n")
	nulls := writeFile(t, dir, "nulls.cfg", "---\nserver:\nconnect:\n")
	tutorial := writeFile(t, dir, "test.cfg", "connect:\n    auth: \"_test name=joe\"\n    host: 127.0.0.1\n")
	anchors := writeFile(t, dir, "anchors.cfg", "server: {bind_default: &b {host: 0.0.0.0, port: 5}}\nconnect: *b\n")
	ssl := writeFile(t, dir, "ssl.cfg", "server:\n  bind_default:\n    ssl: {cert: s.pem, key: s.key}\nconnect:\n  ssl: {ca: ca.pem}\n")
	noSSL := writeFile(t, dir, "nossl.cfg", "server:\n  bind_default: {ssl: false}\nconnect: {ssl: false}\n")

	tests := []struct {
		name  string
		files []string
		want  map[string]string // key -> value; others keep their defaults
	}{
		{"one file", []string{a}, map[string]string{"server.root": ":a", "server.bind_default.port": "1111", "connect.host": "a.example"}},
		{"later file wins, others keep", []string{a, b}, map[string]string{"server.root": ":a", "server.bind_default.port": "2222", "connect.host": "a.example"}},
		{"order matters", []string{b, a}, map[string]string{"server.root": ":a", "server.bind_default.port": "1111", "connect.host": "a.example"}},
		{"dev null", []string{os.DevNull}, nil},
		{"empty file", []string{empty}, nil},
		{"only comments", []string{comments}, nil},
		{"empty sections", []string{nulls}, nil},
		{"tutorial example", []string{tutorial}, map[string]string{"connect.auth": "_test name=joe", "connect.host": "127.0.0.1"}},
		{"anchors", []string{anchors}, map[string]string{"server.bind_default.host": "0.0.0.0", "server.bind_default.port": "5", "connect.host": "0.0.0.0", "connect.port": "5"}},
		{"ssl", []string{ssl}, map[string]string{"server.bind_default.ssl.cert": "s.pem", "server.bind_default.ssl.key": "s.key", "connect.ssl.ca": "ca.pem"}},
		{"ssl false, as the original writes it", []string{ssl, noSSL}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A search list that would be found must be ignored with -c.
			decoy := writeFile(t, t.TempDir(), "decoy.cfg", "server: {root: :decoy}\n")
			c, src := mustLoad(t, Options{Files: tt.files, Search: []string{decoy}})
			if !slices.Equal(src.Files, tt.files) || src.Searched != nil {
				t.Errorf("Sources = %+v, want files %q", src, tt.files)
			}
			def := Default()
			for _, k := range Keys() {
				want, ok := tt.want[k.Name]
				if !ok {
					want = mustGet(t, def, k.Name)
				}
				if got := mustGet(t, c, k.Name); got != want {
					t.Errorf("%s = %q, want %q", k.Name, got, want)
				}
			}
		})
	}

	_, src := mustLoad(t, Options{Files: []string{a, b}})
	if o, ok := src.Origin("server.bind_default.port"); !ok || o != (Origin{Source: b, Line: 4}) {
		t.Errorf("origin of the port = %+v, %v; want %s:4", o, ok, b)
	}
	if o, ok := src.Origin("server.root"); !ok || o != (Origin{Source: a, Line: 2}) {
		t.Errorf("origin of the root = %+v, %v; want %s:2", o, ok, a)
	}
	if _, ok := src.Origin("connect.port"); ok {
		t.Error("a default has an origin")
	}
	if got, want := src.String(), "config from "+a+", "+b; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLoadSearch(t *testing.T) {
	tests := []struct {
		name     string
		files    []int // indexes of the search list that exist as files
		dirs     []int // indexes that exist as directories
		want     int   // index of the file read, -1 for none
		searched int   // how many places were looked at
	}{
		{"none", nil, nil, -1, 5},
		{"first", []int{0, 1, 4}, nil, 0, 1},
		{"second", []int{1, 2}, nil, 1, 2},
		{"home dot file", []int{2, 3}, nil, 2, 3},
		{"etc only", []int{4}, nil, 4, 5},
		{"a directory is skipped", []int{3}, []int{1}, 3, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, etc := t.TempDir(), t.TempDir()
			search := []string{"~/config/distkv.cfg", "~/.config/distkv.cfg", "~/.distkv.cfg", etc + "/distkv/distkv.cfg", etc + "/distkv.cfg"}
			expand := func(i int) string { return strings.Replace(search[i], "~", home, 1) }
			for _, i := range tt.files {
				writeFile(t, "/", expand(i), fmt.Sprintf("server: {root: \":%d\"}\n", i))
			}
			for _, i := range tt.dirs {
				if err := os.MkdirAll(expand(i), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c, src, err := Load(Options{Search: search, Home: home})
			if err != nil {
				t.Fatal(err)
			}
			var wantSearched []string
			for i := range tt.searched {
				wantSearched = append(wantSearched, filepath.Clean(expand(i)))
			}
			if !slices.Equal(src.Searched, wantSearched) {
				t.Errorf("Searched = %q, want %q", src.Searched, wantSearched)
			}
			if tt.want < 0 {
				if !reflect.DeepEqual(c, Default()) || src.Files != nil || src.String() != "no config file; looked for "+strings.Join(wantSearched, ", ") {
					t.Errorf("Load = %+v, %+v (%s)", c, src, src)
				}
				return
			}
			if want := fmt.Sprintf(":%d", tt.want); c.Server.Root != want {
				t.Errorf("root = %q, want %q", c.Server.Root, want)
			}
			if !slices.Equal(src.Files, []string{wantSearched[len(wantSearched)-1]}) {
				t.Errorf("Files = %q, want the last searched of %q", src.Files, wantSearched)
			}
		})
	}

	t.Run("no home", func(t *testing.T) {
		t.Setenv("HOME", "")
		etc := writeFile(t, t.TempDir(), "distkv.cfg", "server: {root: ':etc'}\n")
		c, src, err := Load(Options{Search: []string{"~/.distkv.cfg", etc}})
		if err != nil || c.Server.Root != ":etc" || !slices.Equal(src.Searched, []string{etc}) {
			t.Errorf("Load = %q, %+v, %v", c.Server.Root, src, err)
		}
	})
	t.Run("default search list", func(t *testing.T) {
		home := t.TempDir()
		writeFile(t, home, ".distkv.cfg", "connect: {port: 4242}\n")
		c, src, err := Load(Options{Home: home})
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Searched) < 3 || src.Searched[2] != filepath.Join(home, ".distkv.cfg") {
			t.Errorf("Searched = %q", src.Searched)
		}
		// A machine running the tests may have /etc/distkv.cfg; the home
		// file comes first.
		if c.Connect.Port != 4242 {
			t.Errorf("connect.port = %d, want 4242 from ~/.distkv.cfg", c.Connect.Port)
		}
	})
	t.Run("empty search list", func(t *testing.T) {
		_, src, err := Load(Options{Search: []string{}})
		if err != nil || src.Searched != nil || src.String() != "no config file" {
			t.Errorf("Load = %+v, %v", src, err)
		}
	})
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "a.cfg", "connect:\n  port: 1111\n  timeout: 1s\n")
	tests := []struct {
		name      string
		overrides []string
		key, want string
	}{
		{"int", []string{"server.bind_default.port=1234"}, "server.bind_default.port", "1234"},
		{"int hex", []string{"server.change.length=0x10"}, "server.change.length", "16"},
		{"int overrides file", []string{"connect.port=2222"}, "connect.port", "2222"},
		{"last wins", []string{"connect.port=2", "connect.port=3"}, "connect.port", "3"},
		{"string with = and space", []string{"connect.auth=_test name=joe"}, "connect.auth", "_test name=joe"},
		{"string double quoted", []string{`connect.auth="_test name=joe"`}, "connect.auth", "_test name=joe"},
		{"string single quoted", []string{`connect.auth='it''s'`}, "connect.auth", "it's"},
		{"string one quote", []string{`connect.auth="x`}, "connect.auth", `"x`},
		{"string empty", []string{"connect.auth="}, "connect.auth", ""},
		{"string spaces around key", []string{" server.root =:x"}, "server.root", ":x"},
		{"enum", []string{"server.log.sync=always"}, "server.log.sync", "always"},
		{"duration go", []string{"connect.timeout=2s"}, "connect.timeout", "2s"},
		{"duration seconds", []string{"connect.timeout=0.5"}, "connect.timeout", "500ms"},
		{"duration whole seconds", []string{"server.log.interval=3"}, "server.log.interval", "3s"},
		{"size bytes", []string{"server.conn.max_message=1048576"}, "server.conn.max_message", "1MiB"},
		{"size suffix", []string{"server.conn.max_message=100k"}, "server.conn.max_message", "100KiB"},
		{"size odd", []string{"server.conn.max_message=70000"}, "server.conn.max_message", "70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, src := mustLoad(t, Options{Files: []string{file}, Overrides: tt.overrides})
			if got := mustGet(t, c, tt.key); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
			last := tt.overrides[len(tt.overrides)-1]
			if o, ok := src.Origin(tt.key); !ok || o.Source != `-C "`+strings.ReplaceAll(last, `"`, `\"`)+`"` || o.Line != 0 {
				t.Errorf("origin = %+v, %v", o, ok)
			}
		})
	}
	c, _ := mustLoad(t, Options{Files: []string{file}, Overrides: []string{"connect.port=2222"}})
	if c.Connect.Timeout.D() != time.Second {
		t.Errorf("an override reset the file's other keys: %+v", c.Connect)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name      string
		file      string // content of FILE, "" for none
		overrides []string
		want      error
		msgs      []string // substrings; FILE stands for the file's path
	}{
		{
			name: "unknown key with suggestion",
			file: "server:\n  bind_defualt:\n    port: 1\n",
			want: ErrUnknownKey,
			msgs: []string{"FILE:3: server.bind_defualt.port: unknown key; did you mean server.bind_default.port?"},
		},
		{
			name: "unknown key, several",
			file: "connect:\n  hots: x\n  auht: y\n  frobnicate: 1\n",
			want: ErrUnknownKey,
			msgs: []string{
				"FILE:2: connect.hots: unknown key; did you mean connect.host?",
				"FILE:3: connect.auht: unknown key; did you mean connect.auth?",
				"FILE:4: connect.frobnicate: unknown key\n",
			},
		},
		{
			name: "unknown section",
			file: "\nservr:\n  root: x\n",
			want: ErrUnknownKey,
			msgs: []string{"FILE:3: servr.root: unknown key; did you mean server.root?"},
		},
		{
			name: "unknown empty section",
			file: "logs: {}\n",
			want: ErrUnknownKey,
			msgs: []string{"FILE:1: logs: unknown key"},
		},
		{
			name: "key in the wrong section",
			file: "server:\n  port: 1\n",
			want: ErrUnknownKey,
			msgs: []string{"FILE:2: server.port: unknown key; did you mean server.bind_default.port or server.serf.port?"},
		},
		{
			name: "dotted key in a file",
			file: "server.root: x\n",
			want: ErrUnknownKey,
			msgs: []string{"FILE:1: server.root: unknown key; in a file keys nest: server: {root: …}"},
		},
		{
			name: "wrong type int",
			file: "connect:\n  port: abc\n",
			want: ErrType,
			msgs: []string{`FILE:2: connect.port: wrong type: "abc" is not an int`},
		},
		{
			name: "wrong type duration",
			file: "connect:\n  timeout: soon\n",
			want: ErrType,
			msgs: []string{`FILE:2: connect.timeout: wrong type: "soon" is not a duration`},
		},
		{
			name: "wrong type size",
			file: "server: {conn: {max_message: 5 apples}}\n",
			want: ErrType,
			msgs: []string{`FILE:1: server.conn.max_message: wrong type: "5 apples" is not a size`},
		},
		{
			name: "missing number",
			file: "connect:\n  port:\n",
			want: ErrType,
			msgs: []string{"FILE:2: connect.port: wrong type: want an int, not nothing"},
		},
		{
			name: "mapping for a key",
			file: "connect:\n  host:\n    name: x\n",
			want: ErrType,
			msgs: []string{"FILE:3: connect.host: wrong type: want a string, not a mapping"},
		},
		{
			name: "scalar for a section",
			file: "server: 5\n",
			want: ErrType,
			msgs: []string{`FILE:1: server: wrong type: a section wants a mapping of its keys, not "5"`},
		},
		{
			name: "not YAML",
			file: "connect:\n  host: [a\n  port: 1\n",
			want: ErrSyntax,
			msgs: []string{"FILE:", ": syntax error: not YAML: "},
		},
		{
			name: "not YAML, tab",
			file: "connect:\n\thost: a\n",
			want: ErrSyntax,
			msgs: []string{"FILE:2: syntax error: not YAML: found character that cannot start any token"},
		},
		{
			name: "top level list",
			file: "# a list\n- connect\n",
			want: ErrSyntax,
			msgs: []string{"FILE:2: syntax error: want a mapping of keys at the top, not a list"},
		},
		{
			name: "top level scalar",
			file: "connect.port=5\n",
			want: ErrSyntax,
			msgs: []string{`FILE:1: syntax error: want a mapping of keys at the top, not "connect.port=5"`},
		},
		{
			name: "repeated key",
			file: "connect:\n  port: 1\n  port: 2\n",
			want: ErrSyntax,
			msgs: []string{"FILE:3: connect.port: syntax error: repeated key, first at line 2"},
		},
		{
			name: "two documents",
			file: "connect: {port: 1}\n---\nconnect: {port: 2}\n",
			want: ErrSyntax,
			msgs: []string{"FILE:2: syntax error: a second YAML document"},
		},
		{
			name: "invalid value from a file",
			file: "server:\n  bind_default:\n    port: 70000\n",
			want: ErrInvalid,
			msgs: []string{"FILE:3: server.bind_default.port: invalid value 70000: want 0..65535"},
		},
		{
			name:      "override without =",
			overrides: []string{"server.root"},
			want:      ErrSyntax,
			msgs:      []string{`-C "server.root": server.root: syntax error: want -C key=value`},
		},
		{
			name:      "override unknown key",
			overrides: []string{"server.bind_defualt.port=1234"},
			want:      ErrUnknownKey,
			msgs:      []string{`-C "server.bind_defualt.port=1234": server.bind_defualt.port: unknown key; did you mean server.bind_default.port?`},
		},
		{
			name:      "override of a section",
			overrides: []string{"connect=localhost"},
			want:      ErrUnknownKey,
			msgs:      []string{`-C "connect=localhost": connect: unknown key: connect is a section; its keys are connect.host, connect.port, connect.auth, connect.timeout`},
		},
		{
			name:      "override wrong type int",
			overrides: []string{"server.bind_default.port=http"},
			want:      ErrType,
			msgs:      []string{`-C "server.bind_default.port=http": server.bind_default.port: wrong type: "http" is not an int`},
		},
		{
			name:      "override int too large",
			overrides: []string{"connect.port=99999999999999999999"},
			want:      ErrType,
			msgs:      []string{`connect.port: wrong type: "99999999999999999999" is too large for an int`},
		},
		{
			name:      "override wrong type duration",
			overrides: []string{"connect.timeout=2 parsecs"},
			want:      ErrType,
			msgs:      []string{`-C "connect.timeout=2 parsecs": connect.timeout: wrong type: "2 parsecs" is not a duration`},
		},
		{
			name:      "override wrong type size",
			overrides: []string{"server.conn.max_message=-1"},
			want:      ErrType,
			msgs:      []string{`-C "server.conn.max_message=-1": server.conn.max_message: wrong type: "-1" is not a size`},
		},
		{
			name:      "several overrides wrong",
			overrides: []string{"connect.port=x", "connect.host=ok", "connect.timeout=y"},
			want:      ErrType,
			msgs:      []string{`-C "connect.port=x": connect.port:`, `-C "connect.timeout=y": connect.timeout:`},
		},
		{
			name:      "invalid value from an override",
			file:      "server:\n  log:\n    sync: always\n",
			overrides: []string{"server.log.sync=sometimes", "server.change.length=0"},
			want:      ErrInvalid,
			msgs: []string{
				`-C "server.log.sync=sometimes": server.log.sync: invalid value "sometimes": want always, interval, never`,
				`-C "server.change.length=0": server.change.length: invalid value 0: want 1..100`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opt Options
			path := filepath.Join(t.TempDir(), "bad.cfg")
			if tt.file != "" {
				writeFile(t, "/", path, tt.file)
				opt.Files = []string{path}
			} else {
				opt.Files = []string{os.DevNull}
			}
			opt.Overrides = tt.overrides
			c, _, err := Load(opt)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %q is not an *Error", err)
			}
			msg := err.Error() + "\n"
			for _, m := range tt.msgs {
				if m = strings.ReplaceAll(m, "FILE", path); !strings.Contains(msg, m) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, m)
				}
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("config on error: %+v", c)
			}
		})
	}

	t.Run("syntax error lines", func(t *testing.T) {
		// yaml.v3 counts lines from 0 or from 1 depending on the problem;
		// the error always says the line where it is.
		for _, tt := range []struct {
			file string
			line int
		}{
			{"server: {root: :etc}\n", 1},
			{"a: 1\nb: {c: :e}\n", 2},
			{"server:\n  root: x\n  change:\n    length: 5\n bad: 1\n", 5},
			{"a: 1\nb: 2\nc: 3\n  d: 4\n", 4},
			{"a: 1\nb: 2\nc: 3\n- d\n", 4},
			{"a: 1\nb: 2\nc: 3\nd: 'x\n", 4},
			{"a: 1\nb: 2\nc: 3\nd: \"\\q\"\n", 4},
			{"a: 1\nb: 2\nc: *x\n", 3},
			{"a: 1\nb: 2\nc: \x01\n", 3},
			{"a: 1\nb: 2\nc: \xff\n", 3},
			{"a: 1\nb: 2\nc: !foo!x x\n", 3},
			{"a: 1\n\nb: [1,\n2,\n3\nc: 3\n", 3},
			{":\n", 1},
		} {
			path := writeFile(t, t.TempDir(), "bad.cfg", tt.file)
			_, _, err := Load(Options{Files: []string{path}})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) || e.Line != tt.line || e.Source != path {
				t.Errorf("%q: error %v, want line %d", tt.file, err, tt.line)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.cfg")
		_, src, err := Load(Options{Files: []string{os.DevNull, path}})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("error = %v", err)
		}
		if !slices.Equal(src.Files, []string{os.DevNull}) {
			t.Errorf("Files = %q", src.Files)
		}
	})
	t.Run("error in a searched file", func(t *testing.T) {
		home := t.TempDir()
		path := writeFile(t, home, ".config/distkv.cfg", "conect:\n  host: x\n")
		_, _, err := Load(Options{Home: home, Search: []string{"~/.config/distkv.cfg"}})
		if want := path + ":2: conect.host: unknown key; did you mean connect.host?"; err == nil || err.Error() != want {
			t.Errorf("error = %v, want %s", err, want)
		}
	})
}

// FuzzLoadFile: any file content gives a valid config or an *Error with the
// file's name, never a panic.
func FuzzLoadFile(f *testing.F) {
	for _, s := range []string{
		"", "connect: {auth: \"_test name=joe\", host: 127.0.0.1}\n",
		"server:\n  bind_defualt:\n    port: 1\n", "a: &a {b: *a}\nservr: *a\n",
		"server: &s {change: *s}\n", "- 1\n", "a: [1\n", "x: 1\n---\ny: 2\n",
		Default().YAML(),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		path := writeFile(t, t.TempDir(), "f.cfg", text)
		c, _, err := Load(Options{Files: []string{path}})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Source != path {
				t.Fatalf("error %v is not an *Error of the file", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned an invalid config: %v", err)
		}
	})
}

// TestLoadUnreadable: a config file found on the search list that this
// user may not read (the package's, for the group distkv) says what to
// do instead; one given with -c does not need that.
func TestLoadUnreadable(t *testing.T) {
	etc := writeFile(t, t.TempDir(), "distkv.cfg", "server: {root: ':etc'}\n")
	t.Cleanup(func() { readFile = os.ReadFile })
	readFile = func(name string) ([]byte, error) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	_, _, err := Load(Options{Search: []string{etc}})
	if err == nil || err.Error() != "read config: open "+etc+": permission denied; give one of your own with -c FILE or in ~/.config/distkv.cfg, or ask to join the file's group" {
		t.Errorf("found: %v", err)
	}
	_, _, err = Load(Options{Files: []string{etc}})
	if err == nil || err.Error() != "read config: open "+etc+": permission denied" {
		t.Errorf("given: %v", err)
	}
}
