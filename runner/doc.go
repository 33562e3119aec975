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
// have, and may be lost, while entries are there for every runner that can
// reach any server, and a condition on an entry's chain makes a change
// that two runners race for succeed once.
//
//   - Claims. A runner that finds a job due writes its state naming itself,
//     with the state's chain as it read it as precondition. Of runners that
//     try at once, one succeeds; the others see a conflict and leave the
//     job. So while the servers are connected, a due job starts exactly
//     once, whatever the runners know of each other.
//   - Heartbeats. Each runner writes `.distkv runner GROUP NODE` every
//     second (Ping) and follows the group's entries; a runner whose entry
//     has not changed for 5 seconds (Gone), as seen by the clock of the one
//     looking, is dead. One that stops deletes its entry. A job whose state
//     names a dead runner is due at once: another runner takes it over. A
//     runner that restarts runs again the jobs its state still names (they
//     were cut off).
//   - Names. A runner's name is its identity in the group: two runners of
//     one name would each take the other's claims for its own. A heartbeat
//     carries a random id and the runner's start time; a runner that sees
//     its name's entry written by another id, started earlier, stops with
//     an error.
//   - Spreading. Every runner ranks the live ones for each job by a hash of
//     the job's path and the runner's name (rendezvous hashing) and waits
//     0.5 s per place before it tries to claim: the first usually wins, jobs
//     spread evenly, and when the first is gone the next takes over half a
//     second later.
//
// Take-over time: a job whose runner dies starts elsewhere within Gone
// plus 0.5 s per rank, about 6 seconds in a group of three, plus the time
// for the entries to travel.
//
// During a network split each side sees the other's heartbeats stop and
// takes over the jobs the other side runs: an any-node job then runs on
// both sides (once per side) until the split heals, and its state ends as
// the side whose change wins the heal leaves it. One-node and every-node
// jobs are not affected. A runner that cannot write its heartbeat (its
// server is gone) keeps running its jobs, and others may take them over
// after Gone: a job may then run twice.
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
