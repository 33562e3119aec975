package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SearchPath is where Load looks for a config file when no -c is given:
// the first of these that exists is read, and only that one. "~" is the
// user's home directory. Options.Search replaces it for one Load.
var SearchPath = []string{
	"~/config/distkv.cfg",
	"~/.config/distkv.cfg",
	"~/.distkv.cfg",
	"/etc/distkv/distkv.cfg",
	"/etc/distkv.cfg",
}

// readFile reads a config file; tests, which run as root, make it fail.
var readFile = os.ReadFile

// Options say where Load finds the configuration.
type Options struct {
	// Files are the config files given with -c. When there are any, exactly
	// these are read, in order, later ones overriding earlier ones, and
	// nothing is searched: "-c /dev/null" reads no configuration at all.
	Files []string
	// Overrides are the -C arguments, each "dotted.key=value", applied in
	// order after the files. The value is everything after the first '='.
	Overrides []string
	// Search is the list searched when Files is empty; nil means
	// SearchPath, an empty list searches nothing.
	Search []string
	// Home replaces a leading "~" in Search; "" means os.UserHomeDir().
	// Without a home directory, entries under "~" are skipped.
	Home string
}

// Sources records where a configuration came from, for `-v` output and
// error messages.
type Sources struct {
	// Files are the config files read, in order.
	Files []string
	// Searched are the places looked at when no -c was given, up to the
	// one read.
	Searched []string

	origins map[string]Origin // dotted key -> where its value was last set
}

// Origin is where a key got its value.
type Origin struct {
	Source string // file name, or the override as `-C "key=value"`
	Line   int    // 1-based line in the file; 0 for an override
}

// Origin returns where a key got its value; false means the key has its
// default.
func (s Sources) Origin(key string) (Origin, bool) {
	o, ok := s.origins[key]
	return o, ok
}

// String says which files were read, or where none was found.
func (s Sources) String() string {
	switch {
	case len(s.Files) > 0:
		return "config from " + strings.Join(s.Files, ", ")
	case len(s.Searched) > 0:
		return "no config file; looked for " + strings.Join(s.Searched, ", ")
	}
	return "no config file"
}

// Load composes a configuration: Default, then the config files (those of
// opt.Files, or the first found on the search list), then the overrides,
// then Validate. Each problem is an *Error naming the file and line, or the
// override, and the key; when there are several they are joined with
// errors.Join. The Sources are returned even with an error. Load is safe
// for concurrent use.
func Load(opt Options) (Config, Sources, error) {
	cfg := Default()
	src := Sources{origins: make(map[string]Origin)}
	v := reflect.ValueOf(&cfg).Elem()

	files := opt.Files
	if len(files) == 0 {
		var found string
		found, src.Searched = opt.search()
		if found != "" {
			files = []string{found}
		}
	}
	for _, name := range files {
		data, err := readFile(name)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) && len(opt.Files) == 0 {
				// The one it found, which the package's config is for
				// users of its group (it may hold the network's key).
				return Config{}, src, fmt.Errorf("read config: %w; give one of your own with -c FILE or in ~/.config/distkv.cfg, or ask to join the file's group", err)
			}
			return Config{}, src, fmt.Errorf("read config: %w", err)
		}
		src.Files = append(src.Files, name)
		if err := applyFile(v, name, data, src.origins); err != nil {
			return Config{}, src, err
		}
	}

	var errs []error
	for _, o := range opt.Overrides {
		if err := override(v, o, src.origins); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Config{}, src, errors.Join(errs...)
	}

	for _, e := range cfg.validate() {
		if o, ok := src.origins[e.Key]; ok {
			e.Source, e.Line = o.Source, o.Line
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return Config{}, src, errors.Join(errs...)
	}
	return cfg, src, nil
}

// search returns the first existing file of the search list and the
// places it looked at. A place that cannot be examined counts as missing,
// as does a directory.
func (o Options) search() (found string, searched []string) {
	list := o.Search
	if list == nil {
		list = SearchPath
	}
	home := o.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	for _, p := range list {
		if p == "~" || strings.HasPrefix(p, "~/") {
			if home == "" {
				continue
			}
			p = filepath.Join(home, p[1:])
		}
		searched = append(searched, p)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, searched
		}
	}
	return "", searched
}

// override applies one -C argument.
func override(v reflect.Value, arg string, origins map[string]Origin) error {
	source := "-C " + strconv.Quote(arg)
	key, value, ok := strings.Cut(arg, "=")
	key = strings.TrimSpace(key)
	if !ok {
		return &Error{Source: source, Key: key, Err: fmt.Errorf("%w: want -C key=value", ErrSyntax)}
	}
	f, err := lookup(v, key)
	if err == nil {
		if f.Kind() == reflect.String && !reflect.PointerTo(f.Type()).Implements(textUnmarshaler) {
			value = unquote(value)
		}
		err = setText(f, value)
	}
	if err != nil {
		return &Error{Source: source, Key: key, Err: err}
	}
	origins[key] = Origin{Source: source}
	return nil
}

// unquote removes one level of YAML quotes from a string override, so that
// -C 'connect.auth="_test name=joe"' means what the shell-quoted
// -C connect.auth="_test name=joe" means. Anything else is taken literally.
func unquote(s string) string {
	if len(s) < 2 || !(s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s
	}
	var out string
	if err := yaml.Unmarshal([]byte(s), &out); err != nil {
		return s
	}
	return out
}
