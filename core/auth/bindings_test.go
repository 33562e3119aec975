package auth

import (
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

func TestBindings(t *testing.T) {
	enc := func(v any) string {
		b, err := pack.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	b := Bindings{Param: "acl", Aux: []string{"acl"}}
	// The parameter may come before or after its record.
	b.Add(path.P("_test.user.joe.acl"), enc(pack.Map{{Key: "key", Value: "param"}}))
	b.Add(path.P("_test.user.joe"), enc(pack.Map{{Key: "_aux", Value: pack.Map{{Key: "acl", Value: "aux"}}}}))
	b.Add(path.P("_test.user.ann"), enc(pack.Map{{Key: "_aux", Value: pack.Map{{Key: "acl", Value: "aux"}}}}))
	b.Add(path.P("_test.user.bob"), enc(pack.Map{{Key: "_aux", Value: nil}}))
	b.Add(path.P("_test.user.eve"), enc(pack.Map{{Key: "_aux", Value: "x"}}))
	b.Add(path.P("_test.user.gone.acl"), enc(pack.Map{{Key: "key", Value: "x"}})) // no record
	b.Add(path.P("_test.user.bob.conv"), enc(pack.Map{{Key: "key", Value: "other"}}))
	b.Add(path.P("password.other.x"), enc("data"))
	got := b.Users()
	want := map[string]string{"joe": "param", "ann": "aux", "bob": ""}
	for name, w := range want {
		if g := got[User{"_test", name}]; g.Name != w || g.Err != nil {
			t.Errorf("%s: %+v, want %q", name, g, w)
		}
	}
	if g := got[User{"_test", "eve"}]; g.Err == nil {
		t.Error("a malformed _aux reads without error")
	}
	if _, ok := got[User{"_test", "gone"}]; ok || len(got) != 4 {
		t.Errorf("users: %v", got)
	}
}
