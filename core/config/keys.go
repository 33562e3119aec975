package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Key describes one configuration key.
type Key struct {
	Name string // dotted, such as "server.bind_default.port"
	Type string // string, int, bool, list, or a type of this package: duration, size
}

// Keys lists every key of Config, in the order of its fields.
func Keys() []Key {
	var keys []Key
	for _, l := range schemaOf(reflect.TypeFor[Config]()).leaves {
		keys = append(keys, Key{Name: l.name, Type: typeName(l.typ)})
	}
	return keys
}

// Get returns the value of a key in its text form, the form Set and -C
// accept.
func (c Config) Get(key string) (string, error) {
	v, err := lookup(reflect.ValueOf(&c).Elem(), key)
	if err != nil {
		return "", &Error{Key: key, Err: err}
	}
	return textOf(v), nil
}

// Set changes one key, given in its dotted form, to a value in its text
// form. It does not validate. Unlike -C, it takes a string verbatim, quotes
// and all.
func (c *Config) Set(key, value string) error {
	v, err := lookup(reflect.ValueOf(c).Elem(), key)
	if err == nil {
		err = setText(v, value)
	}
	if err != nil {
		return &Error{Key: key, Err: err}
	}
	return nil
}

// A key's Go type is a string, bool, signed integer or []string kind, or
// implements encoding.TextUnmarshaler and encoding.TextMarshaler; any other
// struct is a section of keys. Adding a key is adding a field with a yaml
// tag, a doc comment and a default.
var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler)
}

// leaf is one key of a struct type.
type leaf struct {
	name  string // dotted
	index []int  // for reflect.Value.FieldByIndex
	typ   reflect.Type
}

// schema is the tree of keys of a struct type, flattened.
type schema struct {
	leaves   []leaf
	sections []string // dotted names of the nested structs
}

// names returns the dotted names of all keys and sections, for suggestions.
func (s schema) names() []string {
	names := append([]string(nil), s.sections...)
	for _, l := range s.leaves {
		names = append(names, l.name)
	}
	return names
}

// schemaOf walks a struct type. It panics on a field it cannot handle: that
// is a programmer error that every test finds.
func schemaOf(t reflect.Type) schema {
	var s schema
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := tagName(f)
			if name == "" {
				panic(fmt.Sprintf("config: field %s.%s has no yaml tag", t.Name(), f.Name))
			}
			name = prefix + name
			idx := append(index[:len(index):len(index)], i)
			if isSection(f.Type) {
				s.sections = append(s.sections, name)
				walk(f.Type, name+".", idx)
				continue
			}
			if typeName(f.Type) == "" {
				panic(fmt.Sprintf("config: key %s has unsupported type %s", name, f.Type))
			}
			s.leaves = append(s.leaves, leaf{name: name, index: idx, typ: f.Type})
		}
	}
	walk(t, "", nil)
	return s
}

// tagName is the yaml name of a field, "" for none or "-".
func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// field finds the field of struct type t whose yaml name is name.
func field(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// typeName is the type of a key as the documentation names it, "" when
// the type cannot be a key.
func typeName(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return strings.ToLower(t.Name())
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "list"
		}
	}
	return ""
}

// lookup finds the key named by a dotted name in the struct v.
func lookup(v reflect.Value, key string) (reflect.Value, error) {
	s := schemaOf(v.Type())
	for _, l := range s.leaves {
		if l.name == key {
			return v.FieldByIndex(l.index), nil
		}
	}
	for _, sec := range s.sections {
		if sec == key {
			var keys []string
			for _, l := range s.leaves {
				if strings.HasPrefix(l.name, key+".") {
					keys = append(keys, l.name)
				}
			}
			return reflect.Value{}, fmt.Errorf("%w: %s is a section; its keys are %s", ErrUnknownKey, key, strings.Join(keys, ", "))
		}
	}
	if sug := suggest(key, s.names()); sug != "" {
		return reflect.Value{}, fmt.Errorf("%w; did you mean %s?", ErrUnknownKey, sug)
	}
	return reflect.Value{}, ErrUnknownKey
}

// setText sets a key from its text form.
func setText(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("%w: %w", ErrType, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			return fmt.Errorf("%w: %q is not a bool (true or false)", ErrType, s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 0, v.Type().Bits())
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("%w: %q is too large for an int", ErrType, s)
			}
			return fmt.Errorf("%w: %q is not an int", ErrType, s)
		}
		v.SetInt(n)
	case reflect.Slice:
		var list []string
		for e := range strings.SplitSeq(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, e)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	default:
		panic("config: unsupported type " + v.Type().String())
	}
	return nil
}

// textOf is the text form of a key's value, which setText reads back.
func textOf(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err != nil {
			panic("config: " + err.Error())
		}
		return string(b)
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Slice:
		return strings.Join(v.Convert(reflect.TypeFor[[]string]()).Interface().([]string), ",")
	}
	panic("config: unsupported type " + v.Type().String())
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}
