package value

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// deep is how deep the values of TestDeepNesting nest: far beyond
// pack.MaxDepth, deep enough that a recursion without a bound would take
// seconds and a gigabyte of stack.
const deep = 1_000_000

// TestDeepNesting: a value nested a million deep is an error, not a
// stack overflow or a long stall, in every decoder, encoder, printer and
// comparison, whether it comes as msgpack, YAML, a literal or a Go value.
func TestDeepNesting(t *testing.T) {
	arrays := nested(deep, []byte{0x01})                         // [[[…1…]]]
	maps := append(bytes.Repeat([]byte{0x81, 0x01}, deep), 0x01) // {1: {1: …1…}}
	keys := append(bytes.Repeat([]byte{0x81}, deep), 0x01, 0x01) // {{{…1: 1…}: …}: …}, unfinished
	var goValue any = int64(1)
	for range deep {
		goValue = []any{goValue}
	}
	depthErr := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, pack.ErrDepth) {
			t.Errorf("%s: %v, want ErrDepth", what, err)
		}
	}
	for name, raw := range map[string][]byte{"arrays": arrays, "maps": maps, "map keys": keys} {
		t.Run(name, func(t *testing.T) {
			_, err := pack.Decode(raw)
			depthErr(t, "pack.Decode", err)
			_, err = Decode(raw)
			depthErr(t, "Decode", err)
			depthErr(t, "Validate", Validate(raw))
			other := bytes.Clone(raw)
			other[len(other)-1] = 0x02
			if Equal(raw, other) || equalUnordered(raw, raw) {
				t.Error("Equal of values too deep")
			}
			if err := pack.NewReader(raw).Skip(); name != "map keys" && err != nil {
				t.Errorf("Skip (no recursion, no bound): %v", err)
			}
		})
	}
	t.Run("Go value", func(t *testing.T) {
		_, err := pack.Append(nil, goValue)
		depthErr(t, "pack.Append", err)
		_, err = Encode(goValue)
		depthErr(t, "Encode", err)
		_, err = YAML(goValue)
		depthErr(t, "YAML", err)
		if s := Top(goValue); !strings.HasPrefix(s, "!error") {
			t.Errorf("Top: %.100s", s)
		}
		if s := literal.Format(goValue); !strings.Contains(s, "<too deep>") || len(s) > 4*pack.MaxDepth+100 {
			t.Errorf("literal.Format: %d bytes", len(s))
		}
	})
	t.Run("YAML", func(t *testing.T) {
		for _, doc := range []string{strings.Repeat("[", deep), strings.Repeat("- ", 5000) + "1"} {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
				continue // yaml.v3 has a bound of its own (10,000)
			}
			_, err := FromYAML(&n)
			depthErr(t, "FromYAML", err)
		}
	})
	t.Run("literal", func(t *testing.T) {
		if _, err := literal.Parse(strings.Repeat("[", deep)); err == nil {
			t.Error("literal.Parse accepted it")
		}
		if _, err := path.Parse("a:" + strings.Repeat("(", deep)); err == nil {
			t.Error("path.Parse accepted it")
		}
	})
}
