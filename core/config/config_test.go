package config

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustGet returns the text form of a key of c.
func mustGet(t *testing.T, c Config, key string) string {
	t.Helper()
	v, err := c.Get(key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return v
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() is not valid: %v", err)
	}
	want := map[string]string{
		"logging.level":                "info",
		"server.bind_default.host":     "localhost",
		"server.bind_default.port":     "27586",
		"server.bind_default.ssl.cert": "",
		"server.bind_default.ssl.key":  "",
		"server.bind_default.ssl.ca":   "",
		"server.root":                  ":distkv",
		"server.change.length":         "5",
		"server.log.sync":              "interval",
		"server.log.interval":          "100ms",
		"server.log.dir":               "",
		"server.conn.queue":            "1000",
		"server.conn.max_message":      "64MiB",
		"server.conn.input_budget":     "256MiB",
		"server.serf.bind":             "0.0.0.0:7946",
		"server.serf.join":             "",
		"server.serf.discover":         "true",
		"server.serf.host":             "",
		"server.serf.port":             "7373",
		"server.serf.key":              "",
		"server.serf.keyring":          "",
		"server.serf.profile":          "lan",
		"server.peer.bind":             "",
		"server.peer.insecure":         "false",
		"server.peer.ssl.cert":         "",
		"server.peer.ssl.key":          "",
		"server.peer.ssl.ca":           "",
		"server.http.bind":             "localhost:27587",
		"server.http.ssl.cert":         "",
		"server.http.ssl.key":          "",
		"server.http.ssl.ca":           "",
		"server.sync_timeout":          "0s",
		"server.ack":                   "local",
		"server.ack_timeout":           "5s",
		"connect.host":                 "localhost",
		"connect.port":                 "27586",
		"connect.ssl.ca":               "",
		"connect.ssl.cert":             "",
		"connect.ssl.key":              "",
		"connect.ssl.server_name":      "",
		"connect.auth":                 "",
		"connect.timeout":              "10s",
		"runner.timeout":               "10m",
		"runner.max_timeout":           "0s",
		"runner.nodes":                 "0",
	}
	for _, k := range Keys() {
		t.Run(k.Name, func(t *testing.T) {
			w, ok := want[k.Name]
			if !ok {
				t.Fatalf("key %s is not in this test", k.Name)
			}
			if got := mustGet(t, c, k.Name); got != w {
				t.Errorf("default %s = %q, want %q", k.Name, got, w)
			}
		})
	}
	if c.Server.Conn.MaxMessage != 64<<20 || c.Server.Log.Interval.D() != 100*time.Millisecond {
		t.Errorf("typed defaults: %+v", c.Server)
	}
}

// TestKeys pins the names that scripts and other packages rely on.
func TestKeys(t *testing.T) {
	var got []string
	for _, k := range Keys() {
		got = append(got, k.Name+" "+k.Type)
	}
	want := []string{
		"logging.level string",
		"server.bind_default.host string",
		"server.bind_default.port int",
		"server.bind_default.ssl.cert string",
		"server.bind_default.ssl.key string",
		"server.bind_default.ssl.ca string",
		"server.root string",
		"server.change.length int",
		"server.log.sync string",
		"server.log.interval duration",
		"server.log.dir string",
		"server.conn.queue int",
		"server.conn.max_message size",
		"server.conn.input_budget size",
		"server.serf.bind string",
		"server.serf.join list",
		"server.serf.discover bool",
		"server.serf.host string",
		"server.serf.port int",
		"server.serf.key string",
		"server.serf.keyring string",
		"server.serf.profile string",
		"server.peer.bind string",
		"server.peer.insecure bool",
		"server.peer.ssl.cert string",
		"server.peer.ssl.key string",
		"server.peer.ssl.ca string",
		"server.http.bind string",
		"server.http.ssl.cert string",
		"server.http.ssl.key string",
		"server.http.ssl.ca string",
		"server.sync_timeout duration",
		"server.ack string",
		"server.ack_timeout duration",
		"connect.host string",
		"connect.port int",
		"connect.auth string",
		"connect.timeout duration",
		"connect.ssl.ca string",
		"connect.ssl.cert string",
		"connect.ssl.key string",
		"connect.ssl.server_name string",
		"runner.timeout duration",
		"runner.max_timeout duration",
		"runner.nodes int",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Keys() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSetGet(t *testing.T) {
	// Every key reads back what it prints.
	for _, k := range Keys() {
		c := Default()
		if err := c.Set(k.Name, mustGet(t, c, k.Name)); err != nil {
			t.Errorf("Set(%s, Get): %v", k.Name, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Set(%s, Get(%s)) changed the config", k.Name, k.Name)
		}
	}
	tests := []struct {
		key, value, want string
	}{
		{"connect.auth", `"_test name=joe"`, `"_test name=joe"`}, // verbatim, unlike -C
		{"server.conn.max_message", "1.5 MiB", "1536KiB"},
		{"server.log.interval", "0.25", "250ms"},
	}
	for _, tt := range tests {
		c := Default()
		if err := c.Set(tt.key, tt.value); err != nil {
			t.Fatalf("Set(%s, %s): %v", tt.key, tt.value, err)
		}
		if got := mustGet(t, c, tt.key); got != tt.want {
			t.Errorf("Set(%s, %s): Get = %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
	c := Default()
	if err := c.Set("server.bind_defualt.port", "1"); !strings.Contains(err.Error(), "did you mean server.bind_default.port?") {
		t.Errorf("Set of a typo: %v", err)
	}
	if _, err := c.Get("server"); err == nil || !strings.Contains(err.Error(), "server.root") {
		t.Errorf("Get of a section: %v", err)
	}
}

// generic has a key of every supported kind, beyond those Config uses now.
type generic struct {
	Flag  bool     `yaml:"flag"`
	Small int8     `yaml:"small"`
	List  []string `yaml:"list"`
	Sub   struct {
		Size Size `yaml:"size"`
	} `yaml:"sub"`
}

func TestGenericKinds(t *testing.T) {
	var g generic
	v := reflect.ValueOf(&g).Elem()
	s := schemaOf(v.Type())
	var types []string
	for _, l := range s.leaves {
		types = append(types, l.name+" "+typeName(l.typ))
	}
	if want := []string{"flag bool", "small int", "list list", "sub.size size"}; !slices.Equal(types, want) {
		t.Errorf("schema = %q, want %q", types, want)
	}

	origins := map[string]Origin{}
	file := "flag: yes\nsmall: -5\nlist: [a, 'b c']\nsub: {size: 2k}\n"
	if err := applyFile(v, "g.cfg", []byte(file), origins); err != nil {
		t.Fatal(err)
	}
	if !g.Flag || g.Small != -5 || !slices.Equal(g.List, []string{"a", "b c"}) || g.Sub.Size != 2048 {
		t.Errorf("from file: %+v", g)
	}
	if err := applyFile(v, "g.cfg", []byte("list: one\n"), origins); err != nil || !slices.Equal(g.List, []string{"one"}) {
		t.Errorf("a scalar for a list: %q, %v", g.List, err)
	}
	if err := applyFile(v, "g.cfg", []byte("list:\n"), origins); err != nil || g.List != nil {
		t.Errorf("null for a list: %q, %v", g.List, err)
	}

	for _, tt := range []struct {
		key, value, want string
	}{
		{"flag", "off", "false"},
		{"flag", "TRUE", "true"},
		{"small", "127", "127"},
		{"list", "a:1, b:2,", "a:1,b:2"},
		{"list", "", ""},
	} {
		if err := override(v, tt.key+"="+tt.value, origins); err != nil {
			t.Fatalf("-C %s=%s: %v", tt.key, tt.value, err)
		}
		f, _ := lookup(v, tt.key)
		if got := textOf(f); got != tt.want {
			t.Errorf("-C %s=%s: got %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
	for _, bad := range []string{"flag=maybe", "small=128", "small=x"} {
		if err := override(v, bad, origins); err == nil {
			t.Errorf("-C %s: no error", bad)
		}
	}
}

func TestUnsupportedType(t *testing.T) {
	type bad struct {
		F float64 `yaml:"f"`
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "key f has unsupported type float64") {
			t.Errorf("panic = %v", r)
		}
	}()
	schemaOf(reflect.TypeFor[bad]())
}

func TestYAMLRoundTrip(t *testing.T) {
	changed := Default()
	changed.Logging.Level = LevelDebug
	changed.Server.BindDefault = Bind{Host: "::1", Port: 0}
	changed.Server.Root = ":test: net #1"
	changed.Server.Change.Length = 100
	changed.Server.Log = LogFile{Sync: SyncAlways, Interval: Duration(1500 * time.Millisecond)}
	changed.Server.Conn = Conn{Queue: 10, MaxMessage: 64*KiB + 1, InputBudget: 3 * MiB}
	changed.Connect = Connect{Host: "yes", Port: 1, Auth: `_test name="joe"`, Timeout: Duration(90 * time.Minute)}

	for name, c := range map[string]Config{"default": Default(), "changed": changed} {
		t.Run(name, func(t *testing.T) {
			text := c.YAML()
			file := filepath.Join(t.TempDir(), "show.cfg")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, _, err := Load(Options{Files: []string{file}})
			if err != nil {
				t.Fatalf("Load(YAML()): %v\n%s", err, text)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v\nYAML:\n%s", got, c, text)
			}
		})
	}
	if y := Default().YAML(); !strings.Contains(y, "server:\n  bind_default:\n    host: localhost\n    port: 27586\n") ||
		!strings.Contains(y, "max_message: 64MiB\n") || !strings.Contains(y, "interval: 100ms\n") {
		t.Errorf("Default().YAML() =\n%s", y)
	}
}

// TestFieldDocs checks that every field of the config structs has a doc
// comment, as docs/config.md and `go doc` rely on it.
func TestFieldDocs(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	structs := 0
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		structs++
		for _, field := range st.Fields.List {
			if field.Doc == nil || strings.TrimSpace(field.Doc.Text()) == "" {
				t.Errorf("%s: field %s.%s has no doc comment", fset.Position(field.Pos()), ts.Name, field.Names[0])
			}
		}
		return true
	})
	// A struct type may serve several sections (ServerSSL does).
	types := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		types[t] = true
		for i := range t.NumField() {
			if f := t.Field(i); isSection(f.Type) {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	if structs != len(types) {
		t.Errorf("config.go declares %d structs, Config has %d; keep all config structs in config.go", structs, len(types))
	}
}

// TestDocs keeps docs/config.md in step with Config: every key has a row
// with its type and default, no row names a key that does not exist, and
// the example files load.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ typ, def, meaning string }
	rows := map[string]row{}
	var examples []string
	var block *strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```yaml":
			block = &strings.Builder{}
		case line == "```" && block != nil:
			examples = append(examples, block.String())
			block = nil
		case block != nil:
			block.WriteString(line + "\n")
		case strings.HasPrefix(line, "| `"):
			cells := strings.SplitN(line, "|", 5)
			if len(cells) < 5 {
				t.Errorf("table row with too few cells: %s", line)
				continue
			}
			key := strings.Trim(strings.TrimSpace(cells[1]), "`")
			rows[key] = row{
				typ:     strings.TrimSpace(cells[2]),
				def:     strings.Trim(strings.TrimSpace(cells[3]), "`"),
				meaning: strings.TrimSuffix(strings.TrimSpace(cells[4]), "|"),
			}
		}
	}

	def := Default()
	for _, k := range Keys() {
		r, ok := rows[k.Name]
		if !ok {
			t.Errorf("docs/config.md: key %s is missing from the table", k.Name)
			continue
		}
		delete(rows, k.Name)
		want := mustGet(t, def, k.Name)
		if want == "" {
			want = `""`
		}
		if r.def != want {
			t.Errorf("docs/config.md: %s: default %q, Default() has %q", k.Name, r.def, want)
		}
		if r.typ != k.Type {
			t.Errorf("docs/config.md: %s: type %q, want %q", k.Name, r.typ, k.Type)
		}
		if strings.TrimSpace(r.meaning) == "" {
			t.Errorf("docs/config.md: %s: no meaning", k.Name)
		}
	}
	for key := range rows {
		t.Errorf("docs/config.md: documents %s, which is not a key", key)
	}

	if len(examples) == 0 {
		t.Error("docs/config.md: no yaml example")
	}
	for i, ex := range examples {
		file := filepath.Join(t.TempDir(), "example.cfg")
		if err := os.WriteFile(file, []byte(ex), 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, err := Load(Options{Files: []string{file}})
		if err != nil {
			t.Errorf("docs/config.md: example %d: %v", i+1, err)
		} else if c.Connect.Auth != "_test name=joe" || c.Connect.Host != "127.0.0.1" {
			t.Errorf("docs/config.md: example %d: connect = %+v", i+1, c.Connect)
		}
	}
}
