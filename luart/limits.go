package luart

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound one call. A zero field means the ValidatorLimits value.
type Limits struct {
	Timeout   time.Duration // wall time of one call
	MaxMemory int64         // bytes the call may allocate (approximate, see the package doc)
	MaxDepth  int           // Lua call stack depth
	MaxString int           // the longest string a built-in may build or take as input
	// MaxMatch is the longest subject the pattern functions (find, match,
	// gmatch, gsub) accept with a simple pattern; a pattern that can
	// backtrack accepts less (see the package doc).
	MaxMatch int
}

// ValidatorLimits are short: types and codecs run on every write and read.
var ValidatorLimits = Limits{
	Timeout:   100 * time.Millisecond,
	MaxMemory: 16 << 20,
	MaxDepth:  200,
	MaxString: 1 << 20,
	MaxMatch:  64 << 10,
}

// JobLimits are for long jobs (runners).
var JobLimits = Limits{
	Timeout:   10 * time.Minute,
	MaxMemory: 256 << 20,
	MaxDepth:  1000,
	MaxString: 16 << 20,
	MaxMatch:  1 << 20,
}

// withDefaults fills zero fields from ValidatorLimits.
func (l Limits) withDefaults() Limits {
	d := ValidatorLimits
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = d.MaxMemory
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = d.MaxString
	}
	if l.MaxMatch <= 0 {
		l.MaxMatch = min(d.MaxMatch, l.MaxString)
	}
	return l
}

// The limits a *LimitError names.
const (
	LimitTimeout = "timeout"
	LimitMemory  = "memory"
	LimitDepth   = "depth"
	LimitString  = "string"
	LimitMatch   = "match"
)

// Errors of this package. A *LimitError wraps ErrLimit; a canceled
// caller's context makes Call return the context's error.
var (
	ErrLimit = errors.New("limit exceeded")
	ErrValue = errors.New("value cannot cross into or out of Lua")
)

// LimitError says which limit a call broke. It cannot be caught by pcall:
// once a limit breaks, the whole call fails.
type LimitError struct {
	Limit  string // one of the Limit* constants
	Detail string // what exceeded it, e.g. "string.rep result of 2097152 bytes > 1048576"
}

func (e *LimitError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("lua %s limit exceeded", e.Limit)
	}
	return fmt.Sprintf("lua %s limit exceeded: %s", e.Limit, e.Detail)
}

// Unwrap makes errors.Is(err, ErrLimit) hold.
func (e *LimitError) Unwrap() error { return ErrLimit }

// ScriptError is an error the script raised (error(...), a runtime error
// such as indexing nil, or a recovered fault of the interpreter).
type ScriptError struct {
	Script   string // the chunk name given to Compile
	Message  string // the script's message, without its position; at most MaxMessage bytes
	Position string // "name:line" where it was raised, if the message carried one
	Panic    bool   // the interpreter panicked; Message holds the panic text
	// Trace is the Lua stack traceback where the error was raised
	// ("stack traceback:" and a line per call), cut to MaxMessage bytes.
	Trace string
}

// MaxMessage bounds ScriptError.Message; longer messages are cut and end
// with "…".
const MaxMessage = 1024

func (e *ScriptError) Error() string {
	if e.Position != "" {
		return e.Position + ": " + e.Message
	}
	return e.Message
}

// SyntaxError is a chunk that does not compile.
type SyntaxError struct {
	Script  string
	Line    int // 1-based; 0 at the end of the input
	Column  int // 1-based, 0 if unknown
	Message string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: at end of input: %s", e.Script, e.Message)
	}
	return fmt.Sprintf("%s:%d: %s", e.Script, e.Line, e.Message)
}
