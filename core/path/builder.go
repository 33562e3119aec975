package path

import "strings"

// Builder makes the paths of entries met going down a tree. Child copies
// the parent into a string of its own, so the paths of a chain of n
// nested entries would cost n²/2 elements; a Builder extends the path it
// made last in place instead, so a child made right after its parent
// shares the parent's bytes and costs its own element only. A path made
// after going back up copies its parent, which is O(length) per path.
//
// The paths stay valid for good (a Builder never changes bytes it handed
// out), but each keeps the chunk of memory it is in alive (4 KiB, or
// twice the path if longer): Clone one that is kept long. The zero
// Builder is ready to use. A Builder is not safe for concurrent use.
type Builder struct {
	sb   strings.Builder
	tip  string // the path made last: the end of sb
	made int    // bytes written, in every chunk
}

// builderChunk is the memory a Builder takes at a time. A full chunk is
// not grown (that would copy it): the next path starts a new one.
const builderChunk = 4 << 10

// Child returns p with e appended, as p.Child(e) does.
func (b *Builder) Child(p Path, e Elem) Path {
	// p is the tip when it was made last: then it is what sb ends with.
	// The comparison is quick then (the same bytes, so the same pointer).
	extend := p.enc == b.tip
	need := len(e.enc)
	if !extend {
		need += len(p.enc)
	}
	if b.sb.Cap()-b.sb.Len() < need {
		b.sb = strings.Builder{}
		b.sb.Grow(max(builderChunk, 2*(len(p.enc)+len(e.enc))))
		extend = false
	}
	if !extend {
		b.sb.WriteString(p.enc)
	}
	b.sb.WriteString(e.enc)
	b.made += need
	s := b.sb.String()
	b.tip = s[len(s)-len(p.enc)-len(e.enc):]
	return Path{b.tip}
}

// Made returns how many bytes b has written so far: the work its paths
// cost.
func (b *Builder) Made() int { return b.made }

// Clone returns p in memory of its own, so that keeping it does not keep
// the memory of the other paths of a Builder alive.
func (p Path) Clone() Path { return Path{strings.Clone(p.enc)} }
