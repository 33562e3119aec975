package auth

import (
	"fmt"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// User names a user record: its login method and its name.
type User struct{ Method, Name string }

// Bound is what a user is bound to, as Bindings read it.
type Bound struct {
	Name string // the ACL's or list's name; "" for none
	Err  error  // the binding is there but cannot be read
}

// Bindings collects what users are bound to (an ACL, a codec list) from
// the entries a walk of `None auth` finds: a user record `METHOD user
// NAME` binds through its `_aux` (the first of Aux present), and the
// original's parameter entry `METHOD user NAME PARAM` ({key: NAME}), if
// there is one, wins over it. Other entries are ignored.
type Bindings struct {
	Param string   // the parameter entry's last element: "acl", "conv"
	Aux   []string // the _aux keys, in order of preference

	users map[User]*binding
}

type binding struct {
	Bound
	param, present bool
}

// Add takes an entry of the walk: rel is its path below `None auth`, raw
// its value.
func (b *Bindings) Add(rel path.Path, raw string) {
	var el [4]path.Elem
	n := 0
	for e := range rel.Elems() {
		if n == len(el) {
			return
		}
		el[n] = e
		n++
	}
	method, ok1 := el[0].StrValue()
	kind, _ := el[1].StrValue()
	name, ok2 := el[2].StrValue()
	if n < 3 || !ok1 || !ok2 || kind != "user" {
		return // not a user record (a method's own data)
	}
	param := n == 4
	if param {
		if s, _ := el[3].StrValue(); s != b.Param {
			return
		}
	}
	if b.users == nil {
		b.users = map[User]*binding{}
	}
	u := User{method, name}
	bd := b.users[u]
	if bd == nil {
		bd = &binding{}
		b.users[u] = bd
	}
	if !param {
		bd.present = true
		if bd.param {
			return
		}
	}
	bd.Name, bd.Err = b.read(raw, param)
	bd.param = bd.param || param
}

// read reads a parameter's {key: NAME} or a record's _aux.
func (b *Bindings) read(raw string, param bool) (string, error) {
	v, err := pack.Decode([]byte(raw))
	if err != nil {
		return "", err
	}
	m, ok := v.(pack.Map)
	if !ok {
		return "", fmt.Errorf("a user record or parameter is a map, not %T", v)
	}
	keys := b.Aux
	if param {
		keys = []string{"key"}
	} else {
		aux, _ := m.Get("_aux")
		if aux == nil {
			return "", nil
		}
		if m, ok = aux.(pack.Map); !ok {
			return "", fmt.Errorf("_aux must be a map, not %T", aux)
		}
	}
	for _, k := range keys {
		if x, ok := m.Get(k); ok && x != nil {
			s, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("%s must be a name, not %T", k, x)
			}
			return s, nil
		}
	}
	return "", nil
}

// Users returns the binding of every user whose record exists.
func (b *Bindings) Users() map[User]Bound {
	out := make(map[User]Bound, len(b.users))
	for u, bd := range b.users {
		if bd.present {
			out[u] = bd.Bound
		}
	}
	return out
}
