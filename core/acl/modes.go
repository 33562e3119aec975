package acl

import (
	"fmt"
	"strings"
)

// Modes is a set of access modes, the original's ACL letters.
type Modes uint16

// The access modes.
const (
	ModeRead    Modes = 1 << iota // r: read the value
	ModeWrite                     // w: change an existing value
	ModeCreate                    // c: set a value where there is none
	ModeDelete                    // d: delete a value
	ModeAccess                    // x: reach specific children (root into it)
	ModeEnum                      // e: list the children
	ModeNew                       // n: create new children
	ModeReadACL                   // a: read the ACL flags

	AllModes = ModeRead | ModeWrite | ModeCreate | ModeDelete | ModeAccess | ModeEnum | ModeNew | ModeReadACL
)

const modeLetters = "rwcdxena"

// ParseModes reads a string of mode letters.
func ParseModes(s string) (Modes, error) {
	var m Modes
	for _, r := range s {
		i := strings.IndexRune(modeLetters, r)
		if i < 0 {
			return 0, fmt.Errorf("%q is not an access mode (one of %s)", r, modeLetters)
		}
		m |= 1 << i
	}
	return m, nil
}

func (m Modes) String() string {
	var b strings.Builder
	for i := range len(modeLetters) {
		if m&(1<<i) != 0 {
			b.WriteByte(modeLetters[i])
		}
	}
	return b.String()
}

// modeNames are the meanings of the letters of modeLetters, in order.
var modeNames = [...]string{"read", "write", "create", "delete", "access", "enumerate", "new children", "read ACL"}

// Describe returns the letters of m with their meanings, for messages:
// "w (write)", "rw (read, write)".
func (m Modes) Describe() string {
	var b strings.Builder
	b.WriteString(m.String())
	b.WriteString(" (")
	first := true
	for i := range len(modeLetters) {
		if m&(1<<i) != 0 {
			if !first {
				b.WriteString(", ")
			}
			first = false
			b.WriteString(modeNames[i])
		}
	}
	b.WriteString(")")
	return b.String()
}
