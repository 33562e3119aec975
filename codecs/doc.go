// Package codecs converts values between what a user sends or reads and
// what the tree stores: the tutorial's "Data mangling". A codec is a pair
// of scripts with examples; a convert list maps path patterns to codecs;
// a user bound to a list reads and writes every matched value through
// its codec, and everybody else sees the stored values.
//
// # Records
//
// Codecs, convert lists and the bindings are entries of the system tree,
// laid out as the original lays them out, so they replicate, log and load
// like any data:
//
//	None codec NAME…               {encode: "Lua", decode: "Lua", in: [[IN, OUT]…], out: [[IN, OUT]…]}
//	None conv LIST PATTERN…        {codec: NAME-path}
//	None auth METHOD user NAME     the user record: {_aux: {codec: LIST}, …}
//	None auth METHOD user NAME conv   {key: LIST}: the param form; it wins over _aux.codec
//
// decode runs on the way in: the user's value is the variable "value",
// what the script returns is stored. encode runs on the way out: the
// stored value in, what the user reads out. The examples say so: an "in"
// pair [IN, OUT] holds when decode(IN) equals OUT (the tutorial's
// -i '"12.5"' 12.5: the user's "12.5" is stored as 12.5), an "out" pair
// when encode(IN) equals OUT (-o 13.25 '"13.25"': the stored 13.25 reads
// as "13.25"). Values compare as core/value compares them (1 and 1.0
// differ).
//
// A codec record is accepted only if it has at least one script, every
// script compiles, a decode script has at least one "in" example, an
// encode script at least one "out" example, and every example holds (the
// original's rules). A codec without one of the scripts passes values of
// that direction unchanged. A conversion is accepted only if its codec
// exists. A pattern may hold "+" (one element) and "#" (one or more); of
// a list's patterns that match a path the most specific decides, in the
// order core/acl documents for ACLs. A user record may name a list
// (_aux.codec, or the original's _aux.conv) that does not exist (yet):
// its values pass unchanged until it does.
//
// # What is converted
//
// For a logged-in user bound to a list: the value and the precondition
// (prev) of set_value, and every value that goes out: get_value,
// get_tree, watch, enum with data, the old value of set_value and
// delete_tree. Paths of the system tree (None …) are never converted.
// Root (no login) and users without a list pay one comparison (root) or
// one pointer load and one map lookup.
//
// A script that fails on a request's own value fails the request with an
// error that names the codec, its direction and the path. An item of a
// walk or a watch whose encode fails is left out, and the server logs
// it; the stream goes on.
//
// # Live changes
//
// A Codecs follows the system tree through an asynchronous subscription
// and rebuilds its tables in its own goroutine, never under the tree's
// lock, when a codec, a convert list or a user record changes: locally,
// replicated or loaded. Every request reads the newest tables, so a
// change applies to the next request of every connection, also of those
// that logged in before it.
//
// The scripts run in a Runner (cmd/distkv wires in the Lua runtime,
// package luart, whose limits bound every call); this package knows no
// Lua.
//
// # Concurrency
//
// A Codecs is safe for concurrent use; Decode and Encode never block on
// a rebuild.
package codecs
