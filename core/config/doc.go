// Package config composes the configuration of the distkv command: typed
// defaults, YAML config files, `-C key=value` overrides, validation.
//
// Config lists every key, as nested structs whose yaml tags spell the
// dotted names: Config.Server.BindDefault.Port is server.bind_default.port.
// docs/config.md documents each key; a test keeps the two in step.
//
// # Usage
//
//	cfg, src, err := config.Load(config.Options{
//		Files:     cli.ConfigFiles, // -c, may be empty
//		Overrides: cli.Set,         // -C, each "dotted.key=value"
//	})
//	if err != nil {
//		return err // names the file and line, or the override, and the key
//	}
//	slog.Debug(src.String())
//
// Load starts from Default, reads the config files given with -c (all of
// them, in order) or else the first file of the search list (SearchPath)
// that exists, applies the overrides in order, and validates the result.
//
// # Config files
//
// A config file is one YAML mapping, nested by the elements of the dotted
// keys; a key a file leaves out keeps its earlier value:
//
//	connect:
//	  auth: "_test name=joe"
//	  host: 127.0.0.1
//	server:
//	  log: {sync: always}
//
// An empty file is fine. Every unknown key is an error (with a suggestion
// when the key looks like a typo), as is a value of the wrong type: a
// mistake in a config file should not silently leave a default in place.
//
// # Values
//
// A key is a string, an int, a Duration ("100ms", "1.5s", or seconds as
// "0.1"), a Size ("65536", "64KiB", "1.5MiB"; every suffix a power of
// 1024), a bool or a list of strings. An override's value is everything
// after the first '=', read as the key's type; a string override may carry
// one level of YAML quotes, which are removed. A list override is
// comma-separated.
//
// # Adding a key
//
// Add a field with a yaml tag and a doc comment to the struct of its
// section, its default to Default, a check to Validate if it has a range,
// and a row to docs/config.md. A field of a new struct type is a new
// section. A type of its own (like Duration) needs UnmarshalText,
// MarshalText and String.
//
// # Concurrency
//
// Config is a plain value; copies are independent. Load, Default and Keys
// are safe for concurrent use. SearchPath is the only package variable;
// Load only reads it.
package config
