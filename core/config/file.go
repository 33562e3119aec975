package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// applyFile sets the keys a config file names in the struct v and records
// where each came from. It reports every unknown key and bad value of the
// file, not only the first.
func applyFile(v reflect.Value, name string, data []byte, origins map[string]Origin) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil // empty, or only comments
	} else if err != nil {
		return yamlError(name, data, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return yamlError(name, data, err)
		}
		return &Error{Source: name, Line: next.Line, Err: fmt.Errorf("%w: a second YAML document; a config file holds one", ErrSyntax)}
	}
	top := resolve(&doc)
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = resolve(top.Content[0])
	}
	if isNull(top) {
		return nil
	}
	if top.Kind != yaml.MappingNode {
		return &Error{Source: name, Line: top.Line, Err: fmt.Errorf("%w: want a mapping of keys at the top, not %s", ErrSyntax, describe(top))}
	}
	w := walker{file: name, names: schemaOf(v.Type()).names(), origins: origins}
	w.mapping(v, top, "")
	return errors.Join(w.errs...)
}

// walker walks the YAML tree of one file beside the struct it sets.
type walker struct {
	file    string
	names   []string // all dotted keys and sections, for suggestions
	origins map[string]Origin
	errs    []error
}

func (w *walker) fail(line int, key string, err error) {
	w.errs = append(w.errs, &Error{Source: w.file, Line: line, Key: key, Err: err})
}

// mapping sets the fields of the struct v from the mapping n. prefix is
// the dotted name of v followed by a dot, or "" at the top.
func (w *walker) mapping(v reflect.Value, n *yaml.Node, prefix string) {
	first := make(map[string]int) // key -> line where it first appears
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			w.fail(k.Line, strings.TrimSuffix(prefix, "."), fmt.Errorf("%w: %s as a key", ErrUnknownKey, describe(k)))
			continue
		}
		name := prefix + k.Value
		if line, dup := first[k.Value]; dup {
			w.fail(k.Line, name, fmt.Errorf("%w: repeated key, first at line %d", ErrSyntax, line))
			continue
		}
		first[k.Value] = k.Line
		f, ok := field(v.Type(), k.Value)
		if !ok {
			w.unknownTree(k, n.Content[i+1], name, 0)
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if isSection(f.Type) {
			switch {
			case isNull(val): // "server:" with every key commented out
			case val.Kind == yaml.MappingNode:
				w.mapping(fv, val, name+".")
			case isFalse(val) && fv.Type().Implements(switchable):
				// The original's "ssl: false": off, as when left out.
				fv.Set(reflect.Zero(fv.Type()))
			default:
				w.fail(val.Line, name, fmt.Errorf("%w: a section wants a mapping of its keys, not %s", ErrType, describe(val)))
			}
			continue
		}
		if err := setNode(fv, val); err != nil {
			w.fail(val.Line, name, err)
			continue
		}
		w.origins[name] = Origin{Source: w.file, Line: val.Line}
	}
}

// unknownTree reports an unknown key. Under an unknown section it reports
// each key inside with its full dotted name, which makes the suggestion
// precise: "server.bind_defualt.port: unknown key; did you mean
// server.bind_default.port?".
func (w *walker) unknownTree(k, val *yaml.Node, name string, depth int) {
	const maxDepth = 8 // deeper than any key
	if val.Kind == yaml.MappingNode && len(val.Content) > 0 && depth < maxDepth && !slices.Contains(w.names, name) {
		for i := 0; i+1 < len(val.Content); i += 2 {
			kk := resolve(val.Content[i])
			if kk.Kind != yaml.ScalarNode {
				w.fail(kk.Line, name, fmt.Errorf("%w: %s as a key", ErrUnknownKey, describe(kk)))
				continue
			}
			w.unknownTree(kk, val.Content[i+1], name+"."+kk.Value, depth+1) // an alias is not followed: it may be a cycle
		}
		return
	}
	w.fail(k.Line, name, w.unknown(name))
}

// unknown explains an unknown key.
func (w *walker) unknown(name string) error {
	for _, known := range w.names {
		if known == name { // a dotted key written flat at the top
			parts := strings.Split(name, ".")
			nested := "…"
			for i := len(parts) - 1; i >= 0; i-- {
				nested = parts[i] + ": " + nested
				if i > 0 {
					nested = "{" + nested + "}"
				}
			}
			return fmt.Errorf("%w; in a file keys nest: %s", ErrUnknownKey, nested)
		}
	}
	if sug := suggest(name, w.names); sug != "" {
		return fmt.Errorf("%w; did you mean %s?", ErrUnknownKey, sug)
	}
	return ErrUnknownKey
}

// setNode sets a key from its YAML node.
func setNode(v reflect.Value, n *yaml.Node) error {
	isText := reflect.PointerTo(v.Type()).Implements(textUnmarshaler)
	isList := !isText && v.Kind() == reflect.Slice
	switch {
	case isList && n.Kind == yaml.SequenceNode:
		list := make([]string, 0, len(n.Content))
		for _, e := range n.Content {
			if e = resolve(e); e.Kind != yaml.ScalarNode || isNull(e) {
				return fmt.Errorf("%w: want a list of strings, not one holding %s", ErrType, describe(e))
			}
			list = append(list, e.Value)
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
		return nil
	case n.Kind != yaml.ScalarNode:
		return fmt.Errorf("%w: want %s, not %s", ErrType, article(typeName(v.Type())), describe(n))
	case isNull(n) && !isText && (v.Kind() == reflect.String || isList):
		v.Set(reflect.Zero(v.Type()))
		return nil
	case isNull(n):
		return fmt.Errorf("%w: want %s, not nothing", ErrType, article(typeName(v.Type())))
	case isList:
		v.Set(reflect.ValueOf([]string{n.Value}).Convert(v.Type()))
		return nil
	}
	return setText(v, n.Value)
}

// switchable is a section that may be switched off as a whole with
// "false", as the original's ssl settings are.
var switchable = reflect.TypeFor[interface{ On() bool }]()

func isFalse(n *yaml.Node) bool {
	b, ok := parseBool(n.Value)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && ok && !b
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for error messages.
func describe(n *yaml.Node) string {
	switch n = resolve(n); {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func article(typ string) string {
	if typ == "int" {
		return "an int"
	}
	return "a " + typ
}

var (
	yamlLine   = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)
	yamlAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// yamlParserProblems are the messages of yaml.v3's parser, which counts
// lines from 0, and leaves the line out when it is 0. Its scanner counts
// from 1, and its reader gives no line at all.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// yamlError turns an error of the YAML parser into an *Error with the file
// and the 1-based line.
func yamlError(name string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Source: name}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch m := yamlAnchor.FindStringSubmatch(msg); {
	case yamlParserProblems[msg]:
		e.Line++
	case m != nil:
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
	case e.Line == 0:
		e.Line = badCharLine(data)
	}
	e.Err = fmt.Errorf("%w: not YAML: %s", ErrSyntax, msg)
	return e
}

// badCharLine returns the line of the first character YAML does not allow
// in a file, 0 if there is none.
func badCharLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0x7f && r < 0xa0 && r != 0x85,
			r == 0xfffe || r == 0xffff:
			return line
		case r == '\n':
			line++
		}
		i += size
	}
	return 0
}
