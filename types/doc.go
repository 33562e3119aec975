// Package types checks values before they are stored: the tutorial's
// "Verification". A type is a named validator with examples; a match maps
// path patterns to a type; every client write to a matched path runs the
// type's whole supertype chain, and the first script that raises an error
// refuses the write with its message.
//
// # Records
//
// Types and matches are entries of the system tree, laid out as the
// original lays them out, so they replicate, log and load like any data:
//
//	None type NAME…    {code: "Lua chunk", good: [...], bad: [...]}
//	None match PATH…   {type: NAME-path}
//
// A type's supertype is its parent in the type tree: int.percent's is
// int. A type record is accepted only if its code compiles, it has at
// least two good and one bad example, every example passes every
// supertype, every good example passes its own code and every bad one
// fails it (the original's rule). A match is accepted only if its type
// exists. A match pattern may hold "+" (one element) and "#" (one or
// more); of the patterns that match a path the most specific decides, in
// the order core/acl documents for ACLs.
//
// # What is checked
//
// Only values a client sets through the server's gate, on the server it
// talks to: values that are already stored are not checked again when a
// type or match changes (as the tutorial says), and changes that arrive
// from other servers or from files (-l) are not checked either, since
// the server that took them from a client did.
//
// # Live changes
//
// A Checker follows the system tree through an asynchronous subscription
// and recompiles its tables in its own goroutine, never under the tree's
// lock, when a type or a match changes: locally, replicated or loaded. A
// change on one server holds on every server as soon as it arrives there.
//
// The scripts themselves run in a Runner (cmd/distkv wires in the Lua
// runtime, package luart); this package knows no Lua.
package types
