package codecs

import (
	"testing"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
)

// FuzzRecords feeds arbitrary bytes to the readers of codec, conversion
// and user records: they return an error or a result, never panic, and a
// codec record they accept has only pairs as examples.
func FuzzRecords(f *testing.F) {
	for _, v := range []any{
		pack.Map{{Key: "encode", Value: "return tostring(value)"}, {Key: "decode", Value: "return tonumber(value)"},
			{Key: "in", Value: []any{[]any{"12.5", 12.5}}}, {Key: "out", Value: []any{[]any{13.25, "13.25"}}}},
		pack.Map{{Key: "codec", Value: path.P("float.str")}},
		pack.Map{{Key: "codec", Value: "float.str"}},
		pack.Map{{Key: "codec", Value: []any{"float", "str"}}},
		pack.Map{{Key: "_aux", Value: pack.Map{{Key: "codec", Value: "floatval"}}}},
		pack.Map{{Key: "key", Value: "floatval"}},
		pack.Map{{Key: "in", Value: []any{[]any{1}}}},
		"x", nil,
	} {
		raw, err := value.Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{0x81, 0xa5, 'c', 'o', 'd', 'e', 'c', 0xc7, 0x01, 0x03, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if rec, err := parseCodec(string(raw)); err == nil {
			for _, ex := range append(rec.in, rec.out...) {
				if _, err := value.Encode(ex[0]); err != nil {
					t.Errorf("an accepted example does not encode: %v", err)
				}
			}
		}
		if p, err := convTarget(string(raw)); err == nil && p.IsRoot() {
			t.Error("a conversion to the root was accepted")
		}
		b := auth.Bindings{Param: "conv", Aux: []string{"codec", "conv"}}
		b.Add(path.P("_test.user.joe"), string(raw))
		b.Add(path.P("_test.user.joe.conv"), string(raw))
		b.Users()
	})
}
