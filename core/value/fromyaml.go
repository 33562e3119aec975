package value

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// YAMLError is a YAML node that does not convert to a value, at the
// node's line and column (1-based; 0 for nodes built by a program).
type YAMLError struct {
	Line, Column int
	Err          error
}

func (e *YAMLError) Error() string {
	return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Column, e.Err)
}

func (e *YAMLError) Unwrap() error { return e.Err }

// Errors that FromYAML wraps in a *YAMLError.
var (
	ErrYAMLTag     = errors.New("unsupported YAML tag")
	ErrYAMLValue   = errors.New("malformed YAML scalar")
	ErrYAMLAliases = errors.New("YAML aliases expand to too many nodes")
)

// maxAliasNodes bounds the nodes visited through aliases, against "billion
// laughs" documents.
const maxAliasNodes = 1 << 20

// FromYAML converts a node decoded by yaml.v3 (a document node, or any node
// inside one) into the model:
//
//	!!null            nil
//	!!bool            bool (true/false in any case, also yes/no/on/off)
//	!!int             int64, uint64 beyond it, *big.Int beyond that
//	!!float           float64 (.inf, -.inf, .nan); a plain integer too large
//	                  for 64 bits, which yaml.v3 tags !!float, is an integer
//	!!str             string (also !!timestamp and !!merge: their text)
//	!!binary          []byte from base64
//	!!seq / !!map     []any / pack.Map in document order, keys of any type
//	!P a.b:31         path.Path from its text form (or !P [a, b, 31])
//	!ext 5 AAEC       pack.Ext, or the value for ext type 2 or 3
//
// Aliases are followed. Errors are *YAMLError with the node's position.
func FromYAML(n *yaml.Node) (any, error) {
	c := converter{}
	return c.node(n, 0)
}

type converter struct {
	viaAlias int // > 0 while inside an alias
	aliased  int // nodes visited through aliases
}

func nodeErr(n *yaml.Node, err error) error {
	return &YAMLError{Line: n.Line, Column: n.Column, Err: err}
}

func (c *converter) node(n *yaml.Node, depth int) (any, error) {
	if n == nil || n.Kind == 0 && n.IsZero() { // yaml.v3 leaves an empty document zero
		return nil, nil
	}
	if depth > pack.MaxDepth {
		return nil, nodeErr(n, pack.ErrDepth)
	}
	if c.viaAlias > 0 {
		if c.aliased++; c.aliased > maxAliasNodes {
			return nil, nodeErr(n, ErrYAMLAliases)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.node(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nodeErr(n, fmt.Errorf("%w: alias *%s without its anchor", ErrYAMLValue, n.Value))
		}
		c.viaAlias++
		v, err := c.node(n.Alias, depth+1)
		c.viaAlias--
		return v, err
	case yaml.SequenceNode:
		switch tag := n.ShortTag(); tag {
		case "!!seq":
		case TagPath:
			return c.pathFromSeq(n, depth)
		default:
			return nil, nodeErr(n, fmt.Errorf("%w %s on a sequence", ErrYAMLTag, tag))
		}
		a := make([]any, len(n.Content))
		for i, e := range n.Content {
			var err error
			if a[i], err = c.node(e, depth+1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case yaml.MappingNode:
		if tag := n.ShortTag(); tag != "!!map" {
			return nil, nodeErr(n, fmt.Errorf("%w %s on a mapping", ErrYAMLTag, tag))
		}
		if len(n.Content)%2 != 0 {
			return nil, nodeErr(n, fmt.Errorf("%w: mapping with a key and no value", ErrYAMLValue))
		}
		m := make(pack.Map, len(n.Content)/2)
		for i := range m {
			var err error
			if m[i].Key, err = c.node(n.Content[2*i], depth+1); err != nil {
				return nil, err
			}
			if m[i].Value, err = c.node(n.Content[2*i+1], depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case yaml.ScalarNode:
		v, err := scalarFromYAML(n)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		return v, nil
	}
	return nil, nodeErr(n, fmt.Errorf("%w: node kind %d", ErrYAMLValue, n.Kind))
}

func (c *converter) pathFromSeq(n *yaml.Node, depth int) (any, error) {
	elems := make([]any, len(n.Content))
	for i, e := range n.Content {
		var err error
		if elems[i], err = c.node(e, depth+1); err != nil {
			return nil, err
		}
	}
	p, err := path.New(elems...)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	return p, nil
}

func scalarFromYAML(n *yaml.Node) (any, error) {
	s := n.Value
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil, nil
	case "!!str", "!!timestamp", "!!merge":
		return s, nil
	case "!!bool":
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("%w: %q is not a bool", ErrYAMLValue, s)
	case "!!int":
		return parseInt(s)
	case "!!float":
		return parseFloat(s, n.Style&yaml.TaggedStyle != 0)
	case "!!binary":
		b, err := decodeBase64(s)
		if err != nil {
			return nil, fmt.Errorf("%w: !!binary: %w", ErrYAMLValue, err)
		}
		return b, nil
	case TagPath:
		return path.Parse(s)
	case TagExt:
		return parseExt(s)
	default:
		return nil, fmt.Errorf("%w %s", ErrYAMLTag, tag)
	}
}

// parseInt reads an integer as yaml.v3 does (decimal, 0x, 0o, 0b, and 0777
// octal; underscores ignored), without its 64-bit limit.
func parseInt(s string) (any, error) {
	z, ok := new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 0)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an integer", ErrYAMLValue, s)
	}
	if z.Sign() < 0 && !z.IsInt64() {
		return nil, fmt.Errorf("%w: %s is below -2**63, which msgpack cannot carry", ErrYAMLValue, s)
	}
	return smallInt(z), nil
}

func parseFloat(s string, explicit bool) (any, error) {
	switch s {
	case ".nan", ".NaN", ".NAN":
		return math.NaN(), nil
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1), nil
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1), nil
	}
	plain := strings.ReplaceAll(s, "_", "")
	if !explicit && isDecimal(plain) {
		// yaml.v3 tags an integer beyond 64 bits as a float.
		if z, ok := new(big.Int).SetString(plain, 10); ok && !z.IsInt64() && !z.IsUint64() {
			if z.Sign() < 0 {
				return nil, fmt.Errorf("%w: %s is below -2**63, which msgpack cannot carry", ErrYAMLValue, s)
			}
			return z, nil
		}
	}
	f, err := strconv.ParseFloat(plain, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a float", ErrYAMLValue, s)
	}
	return f, nil
}

// isDecimal reports whether s is a decimal integer with an optional sign.
func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decodeBase64 reads base64 with padding or without, ignoring whitespace
// (a !!binary block is broken into lines).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if len(s)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.StdEncoding.DecodeString(s)
}

// parseExt reads "N base64" and returns the value of that extension.
func parseExt(s string) (any, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return nil, fmt.Errorf("%w: %s wants a type and base64 data, not %q", ErrYAMLValue, TagExt, s)
	}
	typ, err := strconv.ParseInt(f[0], 10, 8)
	if err != nil {
		return nil, fmt.Errorf("%w: %s type %q is not a number from -128 to 127", ErrYAMLValue, TagExt, f[0])
	}
	var data []byte
	if len(f) == 2 {
		if data, err = decodeBase64(f[1]); err != nil {
			return nil, fmt.Errorf("%w: %s data: %w", ErrYAMLValue, TagExt, err)
		}
	}
	raw := pack.AppendExtHeader(nil, int8(typ), len(data))
	return Decode(append(raw, data...))
}
