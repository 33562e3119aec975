package auth

import (
	"errors"
	"fmt"
	"strings"
)

// The login methods.
const (
	Root     = "root"     // no login: the start state
	Test     = "_test"    // a user name only, for experiments
	Password = "password" // a user name and a password
)

// Methods lists the methods a server knows, in the order `auth list`
// prints them.
var Methods = []string{Test, Password}

// Known reports whether m is a method users can be made for.
func Known(m string) bool {
	return m == Test || m == Password
}

// ErrUserName is a user name that is not a letter followed by letters,
// digits and underscores (the original's rule, which keeps names safe as
// path elements and in logs).
var ErrUserName = errors.New("a user name is a letter followed by letters, digits or underscores")

// MaxUserName bounds a user name's length.
const MaxUserName = 64

// CheckUserName returns ErrUserName (wrapped, naming the name) for a
// name that breaks the rule.
func CheckUserName(name string) error {
	ok := name != "" && len(name) <= MaxUserName
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_')) {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("user name %q: %w (at most %d)", name, ErrUserName, MaxUserName)
	}
	return nil
}

// Login is a parsed login spec: `METHOD key=value …`, as `distkv client
// -a` and connect.auth take it.
type Login struct {
	Method string
	Params map[string]string
}

// Name is the login's user name.
func (l Login) Name() string { return l.Params["name"] }

// MinPassword is the shortest password accepted (the original's rule).
const MinPassword = 5

// ParseLogin reads `METHOD key=value …`. A parameter written key?=Label
// is asked for: prompt is called with Label and returns the value (the
// CLI reads it from the terminal without echo); with a nil prompt such a
// parameter is an error.
func ParseLogin(spec string, prompt func(label string) (string, error)) (Login, error) {
	words := strings.Fields(spec)
	if len(words) == 0 {
		return Login{}, errors.New("empty login: give METHOD key=value …, e.g. \"password name=joe password?=Password\"")
	}
	l := Login{Method: words[0], Params: map[string]string{}}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return Login{}, fmt.Errorf("login parameter %q: write key=value", w)
		}
		if ask, found := strings.CutSuffix(k, "?"); found {
			if prompt == nil {
				return Login{}, fmt.Errorf("login parameter %q asks for input, but there is no terminal to ask on", w)
			}
			in, err := prompt(v)
			if err != nil {
				return Login{}, fmt.Errorf("login parameter %s: %w", ask, err)
			}
			k, v = ask, in
		}
		l.Params[k] = v
	}
	return l, l.check()
}

func (l Login) check() error {
	switch l.Method {
	case Root:
		return nil
	case Test, Password:
	default:
		return fmt.Errorf("login method %q: known methods are %s, %s and %s", l.Method, Root, Test, Password)
	}
	if err := CheckUserName(l.Name()); err != nil {
		return err
	}
	for k := range l.Params {
		switch {
		case k == "name":
		case k == "password" && l.Method == Password:
		default:
			return fmt.Errorf("login method %s takes no parameter %q", l.Method, k)
		}
	}
	if l.Method == Password {
		if pw, ok := l.Params["password"]; !ok {
			return errors.New("login method password needs password=… (or password?=Prompt to be asked)")
		} else if len(pw) < MinPassword {
			return fmt.Errorf("a password has at least %d characters", MinPassword)
		}
	}
	return nil
}
