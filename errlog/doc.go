// Package errlog records failures in the error subtree and marks them
// resolved: the tutorial's "Errors". Runners record the jobs that fail
// there, other subsystems (a stored type or codec that fails at run time)
// theirs; `distkv client error` lists, resolves and deletes them.
//
// # Records
//
// The records are entries of the data tree, laid out as the original
// lays them out, so they replicate, log and load like any data, and the
// original's tools read them:
//
//	.distkv error NODE TOCK        the record: {path, subsystem, severity, resolved,
//	                               created, count, first_seen, last_seen}
//	.distkv error NODE TOCK NODE2  NODE2's trace record: {seen, tock, trace,
//	                               comment, message, data}
//
// NODE is the node that first recorded the failure (the name given to
// Open) and TOCK the tock of the server it talked to at that moment
// (get_tock). A server's tock grows with every change it makes or
// receives, and creating a record is a change, so a node's next record
// gets another number, across restarts too (the tock is restored with the
// data). A record is created with the precondition that its entry is
// new: a number taken twice anyway is retried with a fresh tock.
//
// There is one record per (path, subsystem), whichever node records the
// failure and however often: count says how often, first_seen and
// last_seen when (Unix seconds, floats, as the original stores them),
// severity the worst (0 fatal, 1 error … 6 trace, 7) since the record
// last opened. resolved is false while the failure is open and the
// server's tock when it was resolved; a failure recorded after that
// reopens the same record (resolved false again, count going on). Each
// node that saw the failure has a trace record below it with its latest
// occurrence: when (seen), the tock of the record's change, the message,
// trace (the first 10 and last 30 lines of a longer one), comment and
// data (data outside the value model is stored as its text). Each text
// is cut to 16 KiB.
//
// # Recording
//
// A Log keeps an index of every record, fed by a watch of the depth of
// records below Root (one message per record change). Record finds the
// record there and updates it with its chain as precondition, then writes
// the node's trace record: two requests, no walk; a new record takes a
// third (get_tock). When another node changed the record meanwhile, the
// update fails, Record re-reads the record and tries again. Resolve
// sends nothing when the index holds no open record, so a runner may
// call it after every success.
//
// Two nodes that see a new failure before either sees the other's record
// each create one. Every Log picks the same of the two to keep (the one
// first seen, then the one whose path sorts first); the node that created
// the other deletes it (with its chain as precondition), adds its count
// to the one kept and moves its trace records over, once at once and once
// more a second later, for a trace record written while the merge went
// on. Until then `error list` shows both.
//
// The user a Log logs in as needs read, write, create and delete access
// to Root (the ACL modes rwcd, and e to list).
//
// # Caveats
//
//   - A Log closed in the middle of a merge (or whose connection fails
//     there, or whose node dies) may lose the merged record's count (the
//     record kept shows fewer) or leave trace records below a record that
//     is gone (`error delete --resolved` deletes those). A merge that
//     fails before the duplicate is deleted is tried again a second later.
//   - Times are each node's wall clock.
//
// # Concurrency
//
// A Log is safe for concurrent use. Calls for the same (path, subsystem)
// take turns within a Log; across Logs that talk to one server, the chain
// preconditions keep concurrent updates from losing counts. Logs on two
// servers that update one record at the same moment (before either update
// reached the other server) can lose a count: each server checks the
// precondition against what it holds, and when the two updates meet one
// of them wins.
package errlog
