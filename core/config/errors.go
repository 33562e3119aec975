package config

import (
	"errors"
	"strconv"
	"strings"
)

// Errors wrapped by *Error. Test for them with errors.Is.
var (
	// ErrSyntax: a file is not YAML, is not a mapping at the top, repeats a
	// key, or an override has no '='.
	ErrSyntax = errors.New("syntax error")
	// ErrUnknownKey: a file or an override names a key that does not exist.
	ErrUnknownKey = errors.New("unknown key")
	// ErrType: a value cannot be read as its key's type.
	ErrType = errors.New("wrong type")
	// ErrInvalid: a value has the right type but is out of range or not one
	// of the allowed words (Validate).
	ErrInvalid = errors.New("invalid value")
)

// Error is a problem with one key or one file. Load joins several with
// errors.Join when there are several; errors.As finds the first.
type Error struct {
	Source string // config file name or "-C" override; "" when unknown
	Line   int    // 1-based line in Source; 0 when not in a file
	Key    string // dotted key; "" when the problem is the whole file or override
	Err    error  // wraps one of the sentinels above
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// suggest returns the known name that name most likely misspells, or ""
// when none is close.
func suggest(name string, known []string) string {
	// A key put in the wrong section: server.port for
	// server.bind_default.port (or server.serf.port: all of them are named).
	first, _, _ := strings.Cut(name, ".")
	last := name[strings.LastIndexByte(name, '.')+1:]
	var moved []string
	for _, k := range known {
		deeper := strings.Count(k, ".") > strings.Count(name, ".") // a section was left out
		if strings.Contains(name, ".") && deeper && strings.HasPrefix(k, first+".") && strings.HasSuffix(k, "."+last) {
			moved = append(moved, k)
		}
	}
	if len(moved) > 0 {
		return strings.Join(moved, " or ")
	}
	// A typo: up to two edits.
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours count one each.
func editDistance(a, b string) int {
	// Three rows of the dynamic programming table suffice.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
