// Package auth is the login side of DistKV: the login methods, how a
// password travels and how it is stored, and how failed logins are slowed
// down. It is pure logic over bytes; the server (core/server) runs the
// protocol's login actions with it, the client (core/client) logs in with
// it, and neither keeps a clear password longer than one call.
//
// # Methods
//
// A DistKV network starts without logins: every client has the rights of
// root. Once a method is switched on (the value {current: METHOD} at the
// system entry `None auth`), a client must log in with that method before
// any other request:
//
//   - "_test" names a user and proves nothing. It is for experiments.
//   - "password" names a user and proves a password.
//
// A user record lives at `None auth METHOD user NAME`. It is a map; "_aux"
// holds what the server attaches to the session (an ACL name, a codec
// list), the other keys are the method's own.
//
// # How a password travels
//
// As the original DistKV's clients send it, so that they log in unchanged:
// the client and the server agree on a key by a Diffie-Hellman exchange in
// the 2048-bit MODP group of RFC 3526 (group 14), and the client sends
// sha256(password) sealed with that key in a NaCl secretbox. The clear
// password never leaves the client; an eavesdropper sees two public keys
// and a box. The exchange does not authenticate the server: against an
// active man in the middle use TLS (server.bind_default.ssl).
//
// # How a password is stored
//
// The record's "password" is argon2id(sha256(password), salt) with the
// salt and the parameters beside it under "argon2id"; comparison is in
// constant time. A record without "argon2id" holds the original's plain
// sha256 (loaded from an original's file); it is accepted once and
// re-hashed by the server at that login. See Params for the cost.
//
// # Failed logins
//
// A Throttle delays the answer to a login after failures, per connection
// and per user name, doubling up to a bound, so that guessing is slow
// even from many connections; see Throttle.
package auth
