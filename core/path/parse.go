package path

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a malformed path text. Pos counts characters from 0.
type SyntaxError struct {
	Text string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("path %s: %s at position %d", excerpt(e.Text, e.Pos), e.Msg, e.Pos)
}

// excerpt quotes text, or for a long one the characters around pos: an
// error about a path of a megabyte should not be a megabyte long.
func excerpt(text string, pos int) string {
	const around = 30
	r := []rune(text)
	if len(r) <= 3*around {
		return fmt.Sprintf("%q", text)
	}
	lo, hi := max(0, pos-around), min(len(r), pos+around)
	s := fmt.Sprintf("%q", string(r[lo:hi]))
	if lo > 0 {
		s = "…" + s
	}
	if hi < len(r) {
		s += "…"
	}
	return s
}

// Parse reads a path in text form (see the package documentation). A
// path beyond the limits is an error wrapping ErrTooLong.
func Parse(text string) (Path, error) {
	if text == "" {
		return Root, ErrEmpty
	}
	if text == ":" {
		return Root, nil
	}
	if !utf8.ValidString(text) {
		return Root, &SyntaxError{Text: text, Msg: "not valid UTF-8"}
	}
	p := parser{text: text}
	var b []byte
	n := 0
	for ; p.pos < len(text); n++ {
		var v any
		var err error
		switch {
		case p.pos == 0 && text[0] == '.':
			return Root, p.errAt(0, "a path cannot start with '.'")
		case p.pos == 0:
			v, err = p.element()
		case text[p.pos] == '.':
			p.pos++
			switch {
			case p.pos == len(text):
				return Root, p.errAt(p.pos, "a path cannot end with '.'")
			case text[p.pos] == '.':
				return Root, p.errAt(p.pos, "empty element (the empty string is ':e')")
			}
			v, err = p.element()
		default: // ':' right after a colon element
			v, err = p.element()
		}
		if err != nil {
			return Root, err
		}
		if b, err = appendElem(b, v, 0); err != nil {
			return Root, p.errAt(p.start, err.Error())
		}
	}
	if n > MaxElems {
		return Root, tooManyElems(n)
	}
	if len(b) > MaxBytes {
		return Root, tooManyBytes(len(b))
	}
	return Path{string(b)}, nil
}

type parser struct {
	text  string
	pos   int // byte offset
	start int // where the current element started
}

func (p *parser) errAt(byteOff int, msg string) error {
	return &SyntaxError{Text: p.text, Pos: utf8.RuneCountInString(p.text[:byteOff]), Msg: msg}
}

func isEscape(c byte) bool { return c == '.' || c == ':' || c == '_' }

// element reads a string element or a colon element at p.pos.
func (p *parser) element() (any, error) {
	p.start = p.pos
	if p.text[p.pos] == ':' {
		if p.pos+1 == len(p.text) {
			return nil, p.errAt(p.pos+1, "a path cannot end with ':'")
		}
		if !isEscape(p.text[p.pos+1]) {
			return p.typed()
		}
	}
	return p.str()
}

// str reads a string element up to an unescaped '.' or a colon element.
func (p *parser) str() (any, error) {
	var sb strings.Builder
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		if c == '.' {
			break
		}
		if c == ':' {
			if p.pos+1 == len(p.text) {
				return nil, p.errAt(p.pos+1, "a path cannot end with ':'")
			}
			e := p.text[p.pos+1]
			if !isEscape(e) {
				break // a colon element follows
			}
			sb.WriteByte(unescape(e))
			p.pos += 2
			continue
		}
		sb.WriteByte(c)
		p.pos++
	}
	return sb.String(), nil
}

func unescape(e byte) byte {
	if e == '_' {
		return ' '
	}
	return e
}

// typed reads a colon element: p.pos is at the colon.
func (p *parser) typed() (any, error) {
	p.pos++
	var sb strings.Builder
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		if c == '.' {
			break
		}
		if c == ':' {
			if p.pos+1 < len(p.text) && isEscape(p.text[p.pos+1]) {
				sb.WriteByte(unescape(p.text[p.pos+1]))
				p.pos += 2
				continue
			}
			break
		}
		sb.WriteByte(c)
		p.pos++
	}
	t := sb.String()
	if t == "" {
		return nil, p.errAt(p.pos, "empty ':' element")
	}
	v, err := parseTyped(t)
	if err != nil {
		return nil, p.errAt(p.start, err.Error())
	}
	return v, nil
}

// FromArgs builds a path from command-line words: one word is a path in
// text form, several words are one string element each (so that
// `set monitor a b c value` needs no escaping).
func FromArgs(words []string) (Path, error) {
	switch len(words) {
	case 0:
		return Root, nil
	case 1:
		return Parse(words[0])
	}
	return Strings(words...)
}
