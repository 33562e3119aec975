// Package runner runs Lua jobs stored in DistKV on the machines of a
// group of runner daemons: on any one of them, on one named node, or on
// every one (DESIGN.md decision 7: runners are clients of a server, bound
// by their login's ACL).
//
// # Entries
//
// A job is an entry (see Job) below `.distkv run`, laid out as the
// original lays them out:
//
//	.distkv run any GROUP JOB…        any one runner of GROUP runs it
//	.distkv run at NODE GROUP JOB…    the runner of NODE runs it
//	.distkv run all GROUP JOB…        every runner of GROUP runs it
//
// Entries hold only configuration: the code's path (below `.distkv code
// proc`), its variables (data), when to run (target, Unix seconds), repeat,
// delay and backoff. What happened goes to the job's state (see State) at
// the same place below `.distkv state` (for every-node jobs with the node
// after the group): which runner runs it, when it started and stopped, the
// result or the error, the failures in a row and when it runs next. A job
// runs once its target has passed and it has not run since; after a
// success again after repeat, after a failure after delay × backoff^n (n
// failures in a row, at most 20). Failures go to the error subtree (package
// errlog, through Config.Errors) and are resolved by the next success.
//
// # Coordination
//
// Runners coordinate through entries, not through the servers' message
// pass-through: messages travel by gossip, which a lone server does not
// have, and may be lost, while entries reach every runner that reaches
// any server.
//
//   - Heartbeats. Each runner writes `.distkv runner GROUP KIND NODE`
//     (KIND any, single or all) every second (Ping) and follows the group's entries; a runner whose entry
//     has not changed for 5 seconds (Gone), as seen by the clock of the one
//     looking, is dead. One that stops deletes its entry.
//   - Ranking. Every runner ranks the live ones for each job by a hash of
//     the job's path and the runner's name (rendezvous hashing), and only
//     the first claims the job. So jobs spread evenly over the group, and
//     runners that see the same live members agree without talking on who
//     runs what. A condition on an entry's chain would not do alone: each
//     server checks it against what it holds, so two runners on two
//     servers could both claim a job before either claim reached the other
//     server (TestAnyJobOnceOnSlowLink).
//   - Claims. The first runner of a due job writes its state naming
//     itself, with the state's chain as it read it as precondition (which
//     settles races among runners on one server), then runs it.
//   - Take-over. A dead runner drops out of the ranking, so the next one
//     claims its jobs: a job whose state names a dead runner is due at
//     once. A runner that restarts runs again the jobs its state still
//     names (they were cut off).
//   - Names. A runner's name is its identity in the group: two runners of
//     one name would each take the other's claims for its own. A heartbeat
//     carries a random id and the runner's start time; a runner that sees
//     its name's entry written by another id, started earlier, stops with
//     an error.
//
// So a due job starts exactly once while the runners of the group agree on
// who is alive, however slowly the servers exchange changes. They may
// disagree for a moment after a runner starts (until its first heartbeat
// has reached the others, about a second) and after one stops without
// deleting its entry (for up to Gone): then two runners may both rank
// first and both start a job.
//
// Take-over time: a job whose runner dies starts elsewhere within Gone
// (5 seconds) plus the time for the entries to travel.
//
// During a network split each side sees the other's heartbeats stop and
// takes over the jobs the other side runs: an any-node job then runs on
// both sides (once per side) until the split heals, and its state ends as
// the side whose change wins the heal leaves it. One-node and every-node
// jobs are not affected. A runner that cannot write its heartbeat (its
// server is gone) keeps running its jobs, and others take them over after
// Gone: a job may then run twice.
//
// # Jobs
//
// A job's code is a Lua chunk (package luart, JobLimits) with the job's
// data as variables and the module dkv (see daemon.dkv): get, set and
// delete of entries, log, sleep, the runner's node name, the job's path
// and the group's state (complete, partial, detached). What it prints goes
// to the daemon's output. A job is cancelled when its entry is changed or
// deleted, or the daemon stops; its state then says why.
package runner
