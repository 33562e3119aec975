// Package luart runs user Lua (gopher-lua, Lua 5.1) in sandboxes.
//
// Types, codecs and runner jobs are Lua chunks. Compile turns a chunk into
// a *Script once per text (the prototype is cached, at most MaxCached
// scripts); a Runtime runs scripts on pooled states under one set of
// Limits:
//
//	s, err := luart.Compile("int.percent", body) // *SyntaxError with Line
//	rt := luart.New(luart.ValidatorLimits)
//	v, err := rt.Call(ctx, s, []luart.Var{{Name: "value", Value: int64(12)}}, nil)
//
// # Concurrency
//
// A *Script is immutable and shared freely. A *Runtime is safe for
// concurrent use: each call takes a state from a pool, and a state never
// serves two goroutines at once. A state whose call broke a limit or
// panicked is closed, never pooled again.
//
// # The sandbox
//
// A script sees only:
//
//   - base: assert, error, ipairs, next, pairs, pcall, print, rawequal,
//     rawget, rawset (not on libraries or the environment), select,
//     getmetatable, setmetatable, tonumber, tostring, type, unpack, xpcall,
//     _VERSION, _G (its own environment) and bytes(s) (see below);
//   - string (without dump), table, math (without randomseed);
//   - os.time, os.clock and os.date.
//
// There is no io, os.execute/remove/getenv…, require/package, debug,
// coroutine, channel, load, loadstring, dofile, loadfile, string.dump,
// getfenv, setfenv, collectgarbage or newproxy: no file, process or
// bytecode access. Library tables are read-only proxies (pairs over one
// sees nothing; writing to one is an error), and getmetatable("") is the
// read-only string library, so no script changes what another sees. Each
// call gets a fresh environment holding its variables; assigning to any
// other global is an error naming it ("assignment to undeclared global
// 'x'"); locals are unrestricted.
//
// # Limits
//
// Every call runs under Limits (zero fields take ValidatorLimits):
//
//	             ValidatorLimits  JobLimits
//	Timeout      100 ms           10 min
//	MaxMemory    16 MiB           256 MiB
//	MaxDepth     200 calls        1000 calls
//	MaxString    1 MiB            16 MiB
//	MaxMatch     64 KiB           1 MiB
//
// A broken limit is a *LimitError naming it (LimitTimeout, LimitMemory,
// LimitDepth, LimitString, LimitMatch); pcall cannot catch it: the call
// fails as a whole.
//
//   - Timeout is checked every 256 VM instructions (and the caller's
//     context with it), counted from the call's 16th instruction: a call
//     shorter than that (most validators) never reads the clock. gopher-lua does not check inside a built-in, so the
//     built-ins that could run long or allocate much check their sizes
//     first: string.rep, string.format (widths and precisions of two digits
//     at most, as in Lua 5.1), table.concat, gsub, upper, lower, reverse,
//     bytes concatenation and unpack (8000 values at most) refuse results
//     or inputs beyond MaxString; print output is bounded by MaxString per
//     call.
//   - Pattern matching (find, match, gmatch, gsub) backtracks, so a
//     pattern with k repetitions can need n^(k+1) steps on n bytes. The
//     subject may be MaxMatch bytes at most, and less for a pattern that
//     can backtrack: n^e · 2^q ≤ 2^27, where e counts the repetitions
//     (*, +, -, %b) that are not at the end of the pattern, plus one unless
//     the pattern starts with ^, and q counts the optional items (?). So
//     "^%d+$" takes up to MaxMatch bytes, "%s+$" up to 11585. A plain find
//     (fourth argument true) takes MaxString bytes.
//   - MaxDepth bounds the Lua call stack (gopher-lua's CallStackSize) and
//     its data stack; recursion through metamethods, pcall, sort or gsub
//     counts too.
//   - MaxMemory is approximate. Allocation that no built-in can cap (a
//     loop growing a table, a string doubled with ..) is caught by a
//     watchdog: every millisecond it reads the process heap
//     (runtime/metrics), and stops a call during which the heap grew by
//     more than MaxMemory, counted from the lowest reading since the call
//     began (so a garbage collection lowers the baseline). The heap is the
//     process's: allocation by other goroutines during a long call counts
//     against it, and a fast-growing call may overshoot by what it
//     allocates in one tick plus one instruction (a doubling string: about
//     twice the limit). One assignment to a table allocates at most 32 MiB:
//     integer keys from 2^20 on go to the hash part, so # counts the first
//     2^20 - 1 elements of a list only.
//
// # Host functions
//
// A variable whose value is a Module becomes a table of host functions
// (Func): a runner job's dkv.get or dkv.sleep. Arguments and results cross
// the bridge below; a Func among the results becomes a Lua function (an
// iterator for a generic for). A host function may block: it gets a
// context that ends with the call (the deadline, a broken limit, the
// caller's context), and when the call's end interrupted it, the call
// stops as for any broken limit. Its error is a Lua error, which pcall can
// catch. A call that used a host function is not pure.
//
// # Errors
//
// error("not an integer") gives a *ScriptError with Message "not an
// integer", Position "name:line" and Trace, the Lua traceback; runtime
// errors (indexing nil, …) the same. An error value that is not a string reads "(error object is a
// table value)" or "(error object is nil)"; a number is its text. Messages
// are cut at MaxMessage bytes. A fault inside gopher-lua is recovered and
// reported as a *ScriptError with Panic set. A syntax error is a
// *SyntaxError with its line.
//
// # Values
//
// Variables go in and the first returned value comes out through the
// value model of core/pack:
//
//	Go (pack)             Lua                        back to Go
//	nil                   nil                        nil
//	bool                  boolean                    bool
//	int64, uint64,        number, if |x| ≤ 2^53      int64 (see numbers)
//	*big.Int              bigint userdata beyond     int64, uint64 or *big.Int
//	float64               number                     float64 or int64 (see numbers)
//	string                string                     string
//	[]byte                bytes userdata             []byte
//	[]any                 table 1..n                 see tables
//	pack.Map              table (marked as a map)    pack.Map
//	path.Path             path userdata              path.Path
//	pack.Ext              ext userdata (opaque)      pack.Ext
//
// Numbers: Lua 5.1 has one number type, float64. A number that comes back
// integral and within ±2^53 is an int64, any other a float64: return 42
// gives int64 42, tonumber("12.5") float64 12.5, 1/0 +Inf, 0/0 NaN. So a
// float with an integral value (2.0) comes back as int64 2: Lua cannot
// tell the two apart. Integers beyond ±2^53 are bigint userdata: tostring
// gives their digits, ==, <, <= compare two bigints exactly (Lua 5.1
// compares a bigint with a number only for ==, and then they differ; < is
// an error), +, - and * with integers stay exact (a result within 2^53 becomes a
// number again), /, %, ^ and anything with a fraction give a float.
// type(x) is "userdata" for them.
//
// Strings and bytes stay distinct. Bytes are a userdata: tostring(b) is
// the raw string, #b its length, b[i] the byte at i, b:sub(i, j) bytes,
// b:byte(i, j) numbers, b .. x bytes, and ==, < compare contents. The
// global bytes(s) makes bytes from a string.
//
// Tables: a table whose keys are exactly 1..n comes back as a list
// ([]any; the empty table is an empty list), any other as a pack.Map with
// its keys sorted (false, true, numbers, strings, bytes, paths, others). A
// table made from a pack.Map carries a protected metatable that marks it
// as a map, so an empty or list-like map comes back as a map. Lua cannot
// hold nil in a table: a map entry with a nil value is dropped, a list
// holding nil is refused, and so is a nil or NaN map key; map keys that
// are equal numbers (1 and 1.0) merge. A table nested deeper than pack.MaxDepth
// (or a cycle) and functions cannot come back: errors wrapping ErrValue.
//
// Paths: tostring(p) is the text form, #p the number of elements, p[i]
// element i (1-based) as a Lua value; ==, < and <= compare paths.
package luart
