// Package literal reads and writes Python-style literals: the text form of
// values on DistKV's command line (`data set -e`) and inside path elements
// (`a:31`, `:(1,2)`).
//
// Only literals are read, never a program: numbers (with 0x, 0o, 0b and
// underscores), quoted strings and bytes (b'…', r'…'), True, False, None
// (also true, false, nil), inf and nan, tuples (…), lists […] and maps {k: v}. Values use
// the model of package pack: tuples and lists both become []any, maps pack.Map.
package literal

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/pack"
)

// MaxDepth bounds nesting of brackets, so hostile input cannot exhaust the stack.
const MaxDepth = 100

// Error is a syntax error at a position, counted in characters from 0.
type Error struct {
	Text string // the whole input
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cannot evaluate %q: %s at position %d", e.Text, e.Msg, e.Pos)
}

// Parse reads one literal; several separated by commas make a tuple.
func Parse(text string) (any, error) {
	p := &parser{text: text}
	p.space()
	if p.pos >= len(text) {
		return nil, p.errf("empty input")
	}
	v, err := p.sequence(0, 0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(text) {
		return nil, p.errf("unexpected %s", p.describe())
	}
	return v, nil
}

type parser struct {
	text string
	pos  int // byte offset
}

func (p *parser) errf(format string, args ...any) error {
	return &Error{Text: p.text, Pos: utf8.RuneCountInString(p.text[:p.pos]), Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) describe() string {
	if p.pos >= len(p.text) {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(p.text[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) space() {
	for p.pos < len(p.text) {
		switch p.text[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.text) {
		return p.text[p.pos]
	}
	return 0
}

// sequence reads items separated by commas until close (0 at top level).
// One item without a comma is returned as itself, otherwise a tuple.
func (p *parser) sequence(close byte, depth int) (any, error) {
	var items []any
	comma := false
	for {
		p.space()
		if c := p.peek(); c == close && (close != 0 || p.pos >= len(p.text)) {
			break
		}
		v, err := p.item(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.space()
		if p.peek() != ',' {
			break
		}
		p.pos++
		comma = true
	}
	if len(items) == 1 && !comma {
		return items[0], nil
	}
	if items == nil {
		items = []any{}
	}
	return items, nil
}

func (p *parser) item(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, p.errf("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.text) {
		return nil, p.errf("a value is missing")
	}
	c := p.text[p.pos]
	switch {
	case c == '(':
		p.pos++
		v, err := p.sequence(')', depth+1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.errf("expected ')', found %s", p.describe())
		}
		p.pos++
		return v, nil
	case c == '[':
		p.pos++
		v, err := p.sequence(']', depth+1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ']' {
			return nil, p.errf("expected ']', found %s", p.describe())
		}
		p.pos++
		if a, ok := v.([]any); ok {
			return a, nil
		}
		return []any{v}, nil // [x] is a list of one
	case c == '{':
		return p.mapping(depth)
	case c == '\'' || c == '"':
		return p.str(false, false)
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case isLetter(c):
		return p.word()
	}
	return nil, p.errf("unexpected %s", p.describe())
}

func isLetter(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *parser) mapping(depth int) (any, error) {
	p.pos++ // {
	m := pack.Map{}
	for {
		p.space()
		if p.peek() == '}' {
			p.pos++
			return m, nil
		}
		k, err := p.item(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.peek() != ':' {
			return nil, p.errf("expected ':' after a map key, found %s", p.describe())
		}
		p.pos++
		v, err := p.item(depth + 1)
		if err != nil {
			return nil, err
		}
		m = append(m, pack.KV{Key: k, Value: v})
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.errf("expected ',' or '}' in a map, found %s", p.describe())
		}
	}
}

// words are the names that are literals.
var words = map[string]any{
	"True": true, "False": false, "None": nil,
	"true": true, "false": false, "nil": nil,
	"inf": math.Inf(1), "nan": math.NaN(),
}

func (p *parser) word() (any, error) {
	start := p.pos
	for p.pos < len(p.text) && (isLetter(p.text[p.pos]) || p.text[p.pos] >= '0' && p.text[p.pos] <= '9') {
		p.pos++
	}
	w := p.text[start:p.pos]
	// String prefixes: b, r, u and their combinations.
	if c := p.peek(); (c == '\'' || c == '"') && len(w) <= 2 {
		lw := strings.ToLower(w)
		switch lw {
		case "b", "r", "u", "br", "rb":
			return p.str(strings.Contains(lw, "b"), strings.Contains(lw, "r"))
		}
	}
	if v, ok := words[w]; ok {
		return v, nil
	}
	p.pos = start
	return nil, p.errf("%q is a name, not a literal (quote a string: '%s')", w, w)
}

func (p *parser) number() (any, error) {
	start := p.pos
	neg := false
	for p.pos < len(p.text) && (p.text[p.pos] == '-' || p.text[p.pos] == '+') {
		if p.text[p.pos] == '-' {
			neg = !neg
		}
		p.pos++
		p.space()
	}
	numStart := p.pos
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' {
			p.pos++
			continue
		}
		// An exponent's sign: 1e+16, 1E-5.
		if (c == '+' || c == '-') && p.pos > numStart {
			prev := p.text[p.pos-1] | 0x20
			hex := len(p.text[numStart:]) > 1 && (p.text[numStart+1]|0x20) == 'x'
			if prev == 'e' && !hex {
				p.pos++
				continue
			}
		}
		break
	}
	lit := p.text[numStart:p.pos]
	if lit == "" {
		p.pos = start
		return nil, p.errf("a number is missing after the sign")
	}
	v, ok := parseNumber(lit, neg)
	if !ok {
		p.pos = numStart
		return nil, p.errf("%q is not a number", lit)
	}
	return v, nil
}

// parseNumber reads a Python int or float literal (without sign).
func parseNumber(lit string, neg bool) (any, bool) {
	if strings.HasPrefix(lit, "_") || strings.HasSuffix(lit, "_") || strings.Contains(lit, "__") {
		return nil, false
	}
	clean := strings.ReplaceAll(lit, "_", "")
	if clean == "inf" || clean == "nan" {
		f := words[clean].(float64)
		if neg {
			f = -f
		}
		return f, true
	}
	base := 10
	digits := clean
	if len(clean) > 1 && clean[0] == '0' {
		switch clean[1] | 0x20 {
		case 'x':
			base, digits = 16, clean[2:]
		case 'o':
			base, digits = 8, clean[2:]
		case 'b':
			base, digits = 2, clean[2:]
		}
	}
	if base != 10 || !strings.ContainsAny(clean, ".eE") {
		if digits == "" || strings.HasPrefix(digits, "+") || strings.HasPrefix(digits, "-") {
			return nil, false
		}
		// Python refuses leading zeros in decimal ints ("012"), except 0 itself.
		if base == 10 && len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0") != "" {
			return nil, false
		}
		n, ok := new(big.Int).SetString(digits, base)
		if !ok {
			return nil, false
		}
		if neg {
			n.Neg(n)
		}
		return Int(n), true
	}
	for _, c := range clean {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return nil, false
		}
		// Python turns 1e999 into inf and 1e-999 into 0; ParseFloat did too.
	}
	if neg {
		f = -f
	}
	return f, true
}

// Int returns n in the smallest type of the value model: int64, uint64 or
// *big.Int.
func Int(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	if n.IsUint64() {
		return n.Uint64()
	}
	return n
}

func (p *parser) str(isBytes, raw bool) (any, error) {
	q := p.text[p.pos]
	start := p.pos
	p.pos++
	var sb strings.Builder
	for {
		if p.pos >= len(p.text) {
			p.pos = start
			return nil, p.errf("the quote is not closed")
		}
		c := p.text[p.pos]
		if c == q {
			p.pos++
			break
		}
		if c == '\\' && p.pos+1 < len(p.text) {
			if raw {
				sb.WriteByte('\\')
				sb.WriteByte(p.text[p.pos+1])
				p.pos += 2
				continue
			}
			if err := p.escape(&sb, isBytes); err != nil {
				return nil, err
			}
			continue
		}
		if isBytes && c >= 0x80 {
			return nil, p.errf("bytes can only contain ASCII characters")
		}
		sb.WriteByte(c)
		p.pos++
	}
	if isBytes {
		return []byte(sb.String()), nil
	}
	s := sb.String()
	if !utf8.ValidString(s) {
		p.pos = start
		return nil, p.errf("the string is not valid UTF-8")
	}
	return s, nil
}

var simpleEscapes = map[byte]byte{
	'\\': '\\', '\'': '\'', '"': '"', 'n': '\n', 'r': '\r', 't': '\t',
	'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', '\n': 0,
}

func (p *parser) escape(sb *strings.Builder, isBytes bool) error {
	c := p.text[p.pos+1]
	if r, ok := simpleEscapes[c]; ok {
		if c != '\n' { // a backslash before a newline joins lines
			sb.WriteByte(r)
		}
		p.pos += 2
		return nil
	}
	var size int
	switch {
	case c >= '0' && c <= '7':
		n, i := 0, p.pos+1
		for ; i < len(p.text) && i < p.pos+4 && p.text[i] >= '0' && p.text[i] <= '7'; i++ {
			n = n*8 + int(p.text[i]-'0')
		}
		p.pos = i
		return p.writeCode(sb, n, isBytes)
	case c == 'x':
		size = 2
	case c == 'u' && !isBytes:
		size = 4
	case c == 'U' && !isBytes:
		size = 8
	default:
		// Python keeps unknown escapes as they are.
		sb.WriteByte('\\')
		p.pos++
		return nil
	}
	if p.pos+2+size > len(p.text) {
		return p.errf("truncated \\%c escape", c)
	}
	n, err := strconv.ParseUint(p.text[p.pos+2:p.pos+2+size], 16, 32)
	if err != nil {
		return p.errf("bad \\%c escape", c)
	}
	p.pos += 2 + size
	return p.writeCode(sb, int(n), isBytes)
}

func (p *parser) writeCode(sb *strings.Builder, n int, isBytes bool) error {
	if isBytes {
		if n > 255 {
			return p.errf("byte value %d is too large", n)
		}
		sb.WriteByte(byte(n))
		return nil
	}
	if n > utf8.MaxRune || (n >= 0xd800 && n < 0xe000) {
		return p.errf("invalid character code %#x", n)
	}
	sb.WriteRune(rune(n))
	return nil
}
