// Package value is the value layer above pack: values with paths inside,
// validation of raw values from the network, semantic equality, and YAML in
// and out for the command line.
//
// # The model
//
// Decode returns the value model of package pack, with one addition: msgpack
// extension type 3 decodes as a path.Path. Extension type 2 (a big integer)
// decodes to the smallest Go integer type that holds it, so a *big.Int is
// always 2^64 or more, and Encode writes every value canonically:
//
//	nil  bool  int64  uint64  *big.Int  float64  string  []byte
//	[]any  pack.Map  pack.Ext  path.Path
//
// # Raw values
//
// A server keeps values as the raw bytes a client sent. Validate checks such
// bytes once, on arrival, without decoding or allocating; Equal compares two
// raw values as values (1 and 1.0 differ, maps are unordered, the same number
// in two encodings is equal):
//
//	raw ──Validate──▶ ok / *pack.Error{Off, Err}
//	raw ──Decode────▶ model ──Encode──▶ canonical raw
//	model ──YAML────▶ text ──yaml.v3──▶ *yaml.Node ──FromYAML──▶ model
//
// # YAML
//
// YAML writes what `distkv client data get` prints, in the style of the
// original DistKV (PyYAML): block style with 2-space indentation, map keys of
// any type in the map's own order, strings quoted with single quotes when
// they would otherwise read back as something else ('null', '123'), bytes as
// a `!!binary |` block of base64. Two local tags carry the types YAML lacks:
//
//	!P a.b:31          a path, in its text form
//	!ext 5 AAECAw==    an extension value: its type and base64 data
//
// FromYAML reads these back, so that for every value v of the model
// FromYAML(parse(YAML(v))) equals v, with strings and bytes, and integers
// and floats, kept apart.
//
// # Limits
//
// Values nest at most pack.MaxDepth (512) arrays and maps deep: Validate,
// Decode, Encode, YAML and FromYAML refuse deeper ones with pack.ErrDepth,
// Equal finds them unequal to anything but their own bytes, and Top
// prints them without recursing further. A path inside a value has the
// limits of package path. Equal costs the size of the values, however
// their maps nest and whatever their order.
//
// # Concurrency
//
// All functions are safe for concurrent use; none keeps state.
package value
