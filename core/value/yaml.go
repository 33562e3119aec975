package value

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// The local YAML tags of this package.
const (
	TagPath = "!P"   // a path in text form: !P a.b:31
	TagExt  = "!ext" // an extension value, type and base64 data: !ext 5 AAEC
)

// Top formats v as `distkv client data get` prints a single value: a string
// double-quoted with Go's escapes ("Duh"), an integer in decimal (123), a
// float as Python's repr (1.5, 1e+16, inf), true, false and null; anything
// else (bytes, lists, maps, paths, extensions) as the YAML document. The
// result has no trailing newline. A value that YAML refuses is shown as a
// literal (see literal.Format), after a "!error" line saying why.
func Top(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case int:
		return strconv.Itoa(v)
	case *big.Int:
		return v.String()
	case float64:
		return literal.FormatFloat(v)
	}
	b, err := YAML(v)
	if err != nil {
		// Not fmt's %v: it recurses without a bound, and a value too deep
		// for YAML would exhaust the stack.
		return fmt.Sprintf("!error %v\n%s", err, literal.Format(v))
	}
	return strings.TrimSuffix(string(b), "\n")
}

// YAML renders v, a value of the model, as one YAML document without a
// leading "---": block style, 2-space indentation, map keys of any type in
// the map's own order (a list or map key as a complex "? " key), strings
// that would read back as something else in single quotes, bytes as a
// `!!binary |` block, floats as Python's repr (.inf, -.inf and .nan for
// the others), paths as `!P text` and other extensions as `!ext N base64`.
// See FromYAML for the way back.
func YAML(v any) ([]byte, error) {
	n, err := toNode(v, 0, false)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	return buf.Bytes(), nil
}

func yscalar(tag, text string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: text}
}

// textNode returns a scalar of free text, which yaml.v3 may write as a
// literal block when it has line breaks.
func textNode(tag, text string) *yaml.Node {
	n := yscalar(tag, text)
	if strings.Contains(text, "\n") && !literalSafe(text) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// toNode converts v; key tells that v is a map key, where a block scalar
// would force a complex key.
func toNode(v any, depth int, key bool) (*yaml.Node, error) {
	if depth > pack.MaxDepth {
		return nil, pack.ErrDepth
	}
	switch v := v.(type) {
	case nil:
		return yscalar("!!null", "null"), nil
	case bool:
		return yscalar("!!bool", strconv.FormatBool(v)), nil
	case int64:
		return yscalar("!!int", strconv.FormatInt(v, 10)), nil
	case uint64:
		return yscalar("!!int", strconv.FormatUint(v, 10)), nil
	case int:
		return yscalar("!!int", strconv.Itoa(v)), nil
	case int8, int16, int32, uint, uint8, uint16, uint32:
		return yscalar("!!int", fmt.Sprint(v)), nil
	case *big.Int:
		return yscalar("!!int", v.String()), nil
	case float64:
		return yscalar("!!float", yamlFloat(v)), nil
	case float32:
		return yscalar("!!float", yamlFloat(float64(v))), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("%w: %q", pack.ErrUTF8, v)
		}
		n := textNode("!!str", v)
		if quoteNeeded(v) {
			n.Style = yaml.SingleQuotedStyle
		}
		return n, nil
	case []byte:
		if key || len(v) == 0 {
			return yscalar("!!binary", base64.StdEncoding.EncodeToString(v)), nil
		}
		n := yscalar("!!binary", base64Lines(v))
		n.Style = yaml.LiteralStyle
		return n, nil
	case path.Path:
		return textNode(TagPath, v.String()), nil
	case pack.Ext:
		text := strconv.Itoa(int(v.Type))
		if len(v.Data) > 0 {
			text += " " + base64.StdEncoding.EncodeToString(v.Data)
		}
		return yscalar(TagExt, text), nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if key {
			n.Style = yaml.FlowStyle
		}
		for _, e := range v {
			c, err := toNode(e, depth+1, key)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case pack.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if key {
			n.Style = yaml.FlowStyle
		}
		for _, kv := range v {
			k, err := toNode(kv.Key, depth+1, true)
			if err != nil {
				return nil, err
			}
			e, err := toNode(kv.Value, depth+1, key)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, k, e)
		}
		return n, nil
	case map[string]any:
		m := make(pack.Map, 0, len(v))
		for k, e := range v {
			m = append(m, pack.KV{Key: k, Value: e})
		}
		slices.SortFunc(m, func(a, b pack.KV) int { return strings.Compare(a.Key.(string), b.Key.(string)) })
		return toNode(m, depth, key)
	}
	return nil, fmt.Errorf("%w: %T", ErrType, v)
}

// yamlFloat writes f as Python's repr, or as YAML's infinity and NaN.
func yamlFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	return literal.FormatFloat(f)
}

// base64Lines encodes b in lines of 76 characters, each ending in a
// newline, as Python's base64.encodebytes (and so PyYAML) does.
func base64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(s) > 76 {
		sb.WriteString(s[:76])
		sb.WriteByte('\n')
		s = s[76:]
	}
	sb.WriteString(s)
	sb.WriteByte('\n')
	return sb.String()
}

var (
	// yamlFloatRE is what yaml.v3 reads as a float (after removing '_').
	yamlFloatRE = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	// sexagesimalRE is YAML 1.1's base 60 numbers (1:30), which PyYAML
	// still reads as numbers.
	sexagesimalRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`)
)

// literalSafe reports whether yaml.v3 (v3.0.1) writes the multi-line
// string s as a literal block that reads back as s. Others are written
// double-quoted. The emitter loses a leading line break (it takes it for
// the end of the "|" line); the parser refuses a line that starts with a
// tab; and other line breaks than "\n" would read back as "\n".
func literalSafe(s string) bool {
	if s[0] == '\n' || s[0] == '\t' || strings.Contains(s, "\n\t") {
		return false
	}
	return !strings.ContainsAny(s, "\r\u0085\u2028\u2029")
}

// quoteNeeded reports whether the plain scalar s would read back as
// something other than a string, by yaml.v3 or by a YAML 1.1 reader such as
// PyYAML ('yes', '1:30'). Such strings are written in single quotes, as
// PyYAML does; yaml.v3 would pick double quotes. Everything else that plain
// style cannot carry, yaml.v3's emitter quotes by itself.
func quoteNeeded(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"yes", "Yes", "YES", "no", "No", "NO",
		"on", "On", "ON", "off", "Off", "OFF",
		".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
		"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<", "=":
		return true
	}
	switch c := s[0]; {
	case c == '.':
		_, err := strconv.ParseFloat(s, 64)
		return err == nil
	case c == '+' || c == '-' || c >= '0' && c <= '9':
	default:
		return false
	}
	plain := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return true
	}
	if _, ok := new(big.Int).SetString(plain, 0); ok {
		return true
	}
	if yamlFloatRE.MatchString(plain) || sexagesimalRE.MatchString(s) {
		return true
	}
	// Timestamps start with four digits and a dash.
	return len(s) > 4 && s[4] == '-' && strings.IndexFunc(s[:4], func(r rune) bool { return r < '0' || r > '9' }) < 0
}
