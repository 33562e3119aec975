package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// AuthCmd is `distkv client auth`: login methods and users.
type AuthCmd struct {
	Method string `short:"m" placeholder:"METHOD" help:"The login method to work on: password or _test (default: the current one)."`

	List AuthListCmd `cmd:"" help:"List the login methods that have users; the current one first."`
	Init AuthInitCmd `cmd:"" help:"Switch logins on, using METHOD."`
	User AuthUserCmd `cmd:"" help:"Manage the users of a method."`
}

func (AuthCmd) Help() string {
	return `A new network has no logins: every client may do everything. Add a user,
then switch logins on; from then on every client logs in (distkv client -a
"METHOD name=… …", or connect.auth in the config file). Switching to a
method that has no user is refused, so that nobody is locked out.

Examples:
  distkv client auth -m password user add name=joe password?=Code
  distkv client auth -m password user list
  distkv client auth -m password init -s
  distkv client -a "password name=joe password?=Code" data get`
}

// method returns -m, else the current method, else the only one with users.
func (c *AuthCmd) method(ctx context.Context, cl *client.Client) (string, error) {
	if c.Method != "" {
		if !auth.Known(c.Method) {
			return "", fmt.Errorf("-m %s: the login methods are %s and %s", c.Method, auth.Password, auth.Test)
		}
		return c.Method, nil
	}
	current, others, err := authMethods(ctx, cl)
	if err != nil {
		return "", err
	}
	switch {
	case current != "":
		return current, nil
	case len(others) == 1:
		return others[0], nil
	}
	return "", errors.New("logins are off and no single method has users: say which with -m METHOD (password or _test)")
}

// open connects and finds the method to work on.
func (c *AuthCmd) open(ctx context.Context, k *connector) (*client.Client, string, error) {
	cl, err := k.get(ctx)
	if err != nil {
		return nil, "", err
	}
	method, err := c.method(ctx, cl)
	return cl, method, err
}

// authMethods reads `None auth`: the current method, and the other
// methods that have users.
func authMethods(ctx context.Context, cl *client.Client) (current string, others []string, err error) {
	rep, err := cl.Request(ctx, wire.AuthInfo, nil)
	if err != nil {
		return "", nil, err
	}
	if rep.HasValue {
		if v, err := pack.Decode(rep.Value); err == nil {
			if m, ok := v.(pack.Map); ok {
				cur, _ := m.Get("current")
				current, _ = cur.(string)
			}
		}
	}
	for _, m := range auth.Methods {
		if m == current {
			continue
		}
		users, err := listUsers(ctx, cl, m)
		if err != nil {
			return "", nil, err
		}
		if len(users) > 0 {
			others = append(others, m)
		}
	}
	return current, others, nil
}

// AuthListCmd is `auth list`.
type AuthListCmd struct{}

func (c *AuthListCmd) Run(ctx context.Context, k *connector, parent *AuthCmd, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	current, others, err := authMethods(ctx, cl)
	if err != nil {
		return err
	}
	if current != "" {
		fmt.Fprintln(g.stdout, current, "(current)")
	}
	for _, m := range others {
		fmt.Fprintln(g.stdout, m)
	}
	return nil
}

// AuthInitCmd is `auth init`.
type AuthInitCmd struct {
	Switch bool `short:"s" help:"Switch even if another method is current."`
	Off    bool `help:"Turn logins off instead: every client may do everything again."`
}

func (AuthInitCmd) Help() string {
	return `The method must have a user, and the servers must not be open to unknown
peers (server.serf.key, see "distkv keygen"). The connection that switches
has not logged in: log in with -a for the next command.

Examples:
  distkv client auth -m password init
  distkv client -a "password name=joe password?=Code" auth init --off`
}

func (c *AuthInitCmd) Run(ctx context.Context, k *connector, parent *AuthCmd, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	if c.Off {
		if _, err := cl.Request(ctx, wire.SetAuthTyp, client.Args{{Key: "typ", Value: nil}}); err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, "Authorization turned off.")
		return nil
	}
	if parent.Method == "" {
		return errors.New("say which method with -m METHOD (password or _test)")
	}
	method, err := parent.method(ctx, cl)
	if err != nil {
		return err
	}
	current, _, err := authMethods(ctx, cl)
	if err != nil {
		return err
	}
	if current != "" && !c.Switch {
		return fmt.Errorf("logins are on already, using %s: add -s to switch to %s", current, method)
	}
	if _, err := cl.Request(ctx, wire.SetAuthTyp, client.Args{{Key: "typ", Value: method}}); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "Authorization switched to", method)
	return nil
}

// AuthUserCmd is `auth user`.
type AuthUserCmd struct {
	List   AuthUserListCmd   `cmd:"" help:"List the users of the method."`
	Add    AuthUserAddCmd    `cmd:"" help:"Add a user: name=NAME [password=…|password?=Prompt]."`
	Get    AuthUserGetCmd    `cmd:"" help:"Show a user (never its password)."`
	Modify AuthUserModifyCmd `cmd:"" help:"Change a user's password or aux data."`
	Delete AuthUserDeleteCmd `cmd:"" help:"Delete a user."`
	Set    AuthUserSetCmd    `cmd:"" help:"Set a user's parameters (the ACL it is bound by)."`
}

// listUsers returns the names of a method's users.
func listUsers(ctx context.Context, cl *client.Client, method string) ([]string, error) {
	var names []string
	st, err := cl.Stream(ctx, wire.AuthList, client.Args{{Key: "typ", Value: method}, {Key: "kind", Value: "user"}})
	if err != nil {
		return nil, err
	}
	for {
		rep, ok, err := st.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if v, ok := rep.Other["ident"]; ok {
			if s, err := pack.Decode(v); err == nil {
				if name, ok := s.(string); ok {
					names = append(names, name)
				}
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// AuthUserListCmd is `auth user list`.
type AuthUserListCmd struct{}

func (c *AuthUserListCmd) Run(ctx context.Context, k *connector, parent *AuthCmd, g *globals) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	names, err := listUsers(ctx, cl, method)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(g.stdout, n)
	}
	return nil
}

// userArgs reads key=value words (name, password) as a login of method
// does, asking for key?=Prompt values; aux words (acl=NAME) go to aux.
func userArgs(method string, words []string, prompt func(string) (string, error), needPassword bool) (auth.Login, error) {
	spec := method + " " + strings.Join(words, " ")
	l, err := auth.ParseLogin(spec, prompt)
	if err != nil {
		if method == auth.Password && !needPassword && strings.Contains(err.Error(), "needs password") {
			// A change may keep the password.
			return auth.ParseLogin(spec+" password=unchanged", prompt)
		}
		return l, err
	}
	return l, nil
}

// AuthUserAddCmd is `auth user add`.
type AuthUserAddCmd struct {
	Args []string `arg:"" help:"name=NAME, and for password password=… or password?=Prompt (asked without echo)."`
}

func (AuthUserAddCmd) Help() string {
	return `Examples:
  distkv client auth -m password user add name=joe password?=Code
  distkv client auth -m _test user add name=joe`
}

func (c *AuthUserAddCmd) Run(ctx context.Context, k *connector, parent *AuthCmd) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	l, err := userArgs(method, c.Args, k.prompt, true)
	if err != nil {
		return err
	}
	args := client.Args{{Key: "chain", Value: nil}}
	return setUser(ctx, cl, method, l.Name(), l.Params["password"], args)
}

// setUser sends auth_set; the password, if any, sealed.
func setUser(ctx context.Context, cl *client.Client, method, name, password string, extra client.Args) error {
	args := client.Args{{Key: "typ", Value: method}, {Key: "kind", Value: "user"}, {Key: "ident", Value: name}}
	if password != "" {
		sealed, err := cl.SealPassword(ctx, password)
		if err != nil {
			return err
		}
		args = append(args, pack.KV{Key: "password", Value: sealed})
	}
	_, err := cl.Request(ctx, wire.AuthSet, append(args, extra...))
	if errors.Is(err, change.ErrExists) {
		return fmt.Errorf("user %s of method %s exists already: change it with \"auth user modify name=%s …\"", name, method, name)
	}
	return err
}

// AuthUserGetCmd is `auth user get`.
type AuthUserGetCmd struct {
	Name string `arg:"" help:"The user."`
}

func (c *AuthUserGetCmd) Run(ctx context.Context, k *connector, parent *AuthCmd, g *globals) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	aux, err := userAux(ctx, cl, method, c.Name)
	if err != nil {
		return err
	}
	var auxOut any
	if len(aux) > 0 {
		auxOut = aux
	}
	out := pack.Map{{Key: "name", Value: c.Name}, {Key: "method", Value: method}, {Key: "aux", Value: auxOut}}
	if acl, err := userParam(ctx, cl, method, c.Name, "acl"); err == nil && acl != "" {
		out = append(out, pack.KV{Key: "acl", Value: acl})
	}
	return printYAML(g.stdout, out)
}

// userAux returns a user's aux data (nil if none).
func userAux(ctx context.Context, cl *client.Client, method, name string) (pack.Map, error) {
	rep, err := cl.Request(ctx, wire.AuthGet, client.Args{{Key: "typ", Value: method}, {Key: "kind", Value: "user"}, {Key: "ident", Value: name}})
	if err != nil {
		return nil, err
	}
	v, err := pack.Decode(rep.Other["aux"])
	if err != nil {
		return nil, nil
	}
	m, _ := v.(pack.Map)
	return m, nil
}

// userParam reads the original's parameter entry `None auth METHOD user
// NAME TYPE` ({key: NAME}).
func userParam(ctx context.Context, cl *client.Client, method, name, typ string) (string, error) {
	rep, err := cl.Request(ctx, wire.GetInternal, client.Args{{Key: "path", Value: path.Must("auth", method, "user", name, typ)}})
	if err != nil || !rep.HasValue {
		return "", err
	}
	v, err := pack.Decode(rep.Value)
	if err != nil {
		return "", err
	}
	m, _ := v.(pack.Map)
	key, _ := m.Get("key")
	s, _ := key.(string)
	return s, nil
}

// AuthUserModifyCmd is `auth user modify`.
type AuthUserModifyCmd struct {
	Aux  []string `placeholder:"KEY=VALUE" help:"Set aux data: acl=ACL binds the user to an ACL, codec=LIST to a codec list; KEY= removes KEY."`
	Args []string `arg:"" help:"name=NAME, and to change the password password=… or password?=Prompt."`
}

func (AuthUserModifyCmd) Help() string {
	return `Examples:
  distkv client auth user modify --aux acl=writeonly name=joe
  distkv client auth -m password user modify name=joe password?=Code`
}

func (c *AuthUserModifyCmd) Run(ctx context.Context, k *connector, parent *AuthCmd) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	l, err := userArgs(method, c.Args, k.prompt, false)
	if err != nil {
		return err
	}
	password := l.Params["password"]
	if !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "password") }) {
		password = ""
	}
	var extra client.Args
	if len(c.Aux) > 0 {
		aux, err := userAux(ctx, cl, method, l.Name())
		if err != nil {
			return err
		}
		for _, kv := range c.Aux {
			key, val, ok := strings.Cut(kv, "=")
			if !ok || key == "" {
				return fmt.Errorf("--aux %q: write KEY=VALUE", kv)
			}
			aux = slices.DeleteFunc(aux, func(e pack.KV) bool { return e.Key == key })
			if val != "" {
				aux = append(aux, pack.KV{Key: key, Value: val})
			}
		}
		var v any = aux
		if len(aux) == 0 {
			v = nil
		}
		extra = append(extra, pack.KV{Key: "aux", Value: v})
	} else if password == "" {
		return errors.New("nothing to change: give --aux KEY=VALUE or a new password")
	}
	return setUser(ctx, cl, method, l.Name(), password, extra)
}

// AuthUserDeleteCmd is `auth user delete`.
type AuthUserDeleteCmd struct {
	Name string `arg:"" help:"The user."`
}

func (c *AuthUserDeleteCmd) Run(ctx context.Context, k *connector, parent *AuthCmd) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	p := path.Must("auth", method, "user", c.Name)
	// The record first: the server refuses to delete the last user of the
	// current method, and then nothing is gone. Its parameters after.
	rep, err := cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if !rep.Changed {
		return fmt.Errorf("no user %s of method %s", c.Name, method)
	}
	rep, err = cl.Request(ctx, wire.EnumInternal, client.Args{{Key: "path", Value: p}})
	if err != nil {
		return err
	}
	if v, err := value.Decode(rep.Result); err == nil {
		if params, ok := v.([]any); ok {
			for _, name := range params {
				if _, err := cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: p.Join(path.Must(name))}}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// AuthUserSetCmd is `auth user set`.
type AuthUserSetCmd struct {
	Param AuthUserParamCmd `cmd:"" help:"Set a parameter of a user: USER acl ACL binds USER to the ACL; - as ACL removes it."`
}

// AuthUserParamCmd is `auth user set param`.
type AuthUserParamCmd struct {
	Name  string `arg:"" help:"The user."`
	Type  string `arg:"" help:"The parameter: acl, or codec (a codec list)."`
	Value string `arg:"" help:"Its value: the ACL's or the list's name; - removes it."`
}

func (AuthUserParamCmd) Help() string {
	return `Example:
  distkv client auth user set param joe acl writeonly`
}

func (c *AuthUserParamCmd) Run(ctx context.Context, k *connector, parent *AuthCmd) error {
	cl, method, err := parent.open(ctx, k)
	if err != nil {
		return err
	}
	if err := auth.CheckUserName(c.Name); err != nil {
		return err
	}
	if _, err := cl.Request(ctx, wire.AuthGet, client.Args{{Key: "typ", Value: method}, {Key: "ident", Value: c.Name}}); err != nil {
		return err
	}
	typ := c.Type
	if typ == "codec" {
		typ = "conv" // the original's name for it
	}
	p := path.Must("auth", method, "user", c.Name, typ)
	if c.Value == "-" {
		_, err = cl.Request(ctx, wire.DeleteInternal, client.Args{{Key: "path", Value: p}})
		return err
	}
	_, err = cl.Request(ctx, wire.SetInternal, client.Args{{Key: "path", Value: p}, {Key: "value", Value: pack.Map{{Key: "key", Value: c.Value}}}})
	return err
}
