// Package acl decides which ACL rule applies to a path: the matching of
// the original's ACLs (`None acl NAME PATH…`), as pure logic. It depends
// only on core/path; the server asks it per request.
//
// # Rules and patterns
//
// A Rule is a pattern and the Modes it grants (the letters rwcdxena, see
// ParseModes). In a pattern the string elements "+" and "#" are
// wildcards: "+" matches exactly one element, "#" one or more. Every
// other element matches only itself. A wildcard never matches the None
// element, and "#" never reaches across one: the system tree lives under
// None, so a user bound by an ACL reaches system data only through a
// rule that names None literally. "#" may be followed by more elements
// ("a.#.c" matches a.x.c and a.x.y.c) and may take any number of the
// path's elements, not only the most or the fewest.
//
// A path that is only the intermediate part of patterns (a.b for the
// rule a.b.c) has no rule of its own: in the tree it is an entry without
// a value, and it decides nothing; the search goes on to other patterns.
// A rule with no modes ("") does decide: it grants nothing.
//
// # Which rule decides
//
// Of the rules whose pattern matches the path, the most specific decides,
// judged element by element from the left: at the first element where
// two matches differ, a literal element beats "+", "+" beats the start of
// a "#", and the start of a "#" beats a "#" that goes on from the element
// before. This is the order in which the original's depth-first search
// finds its candidates; the first with a value decides. No matching rule:
// Match reports no rule, and the caller grants nothing.
//
// For the path a.b.c and the rules a.#, a.+.c, +.b.c, a.b.+ and a.#.#,
// the order is:
//
//	a.b.+   literal, literal, +
//	a.+.c   literal, +, literal
//	a.#.#   literal, # starts, # starts
//	a.#     literal, # starts, # goes on
//	+.b.c   +, literal, literal
//
// so a.b.+ decides. A pattern that matches a path in several ways (a.#.#
// for a.b.c.d) counts with its most specific way.
//
// The empty pattern is the root: its rule decides for the empty path
// only.
//
// One deviation from the original: there a "+" or "#" in the path also
// matches the wildcard of the same name as a literal, which can put a "#"
// rule before a "+" rule for the path element "#". Here "+" and "#" in a
// pattern are always wildcards, and a path element "+" or "#" is matched
// like any other string.
//
// # Cost
//
// Compile builds a trie keyed by elements. Match walks it depth-first in
// the order above and stops at the first rule: its cost grows with the
// path's length and the number of wildcard branches it meets, not with
// the number of rules. Where a "#" is followed by more elements, Match
// remembers which ("#", position) pairs failed, so that no split of the
// path is tried twice; the work stays polynomial in the path's length.
// Match does not allocate in the steady state.
//
// Reaches answers the walks' question: can any rule grant a mode at or
// below a path? Each trie node knows the modes of the rules below it,
// so a search stops where none grants what is asked. It is as cheap as
// Match. MatchIndex is Match for callers that keep data per rule (the
// server's precomputed texts for its errors).
//
// An ACL is immutable once
// built and safe for concurrent use.
package acl
