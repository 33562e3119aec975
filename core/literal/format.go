package literal

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distkv-go/distkv/core/pack"
)

// Format writes v as a literal that Parse reads back to the same value.
// It is compact: no spaces after commas, so that it can live inside a path.
// Arrays are written as tuples: (1,2), (1,) and (). What is nested more
// than pack.MaxDepth deep is written as <too deep> (Parse reads no more
// than MaxDepth anyway).
func Format(v any) string {
	var sb strings.Builder
	write(&sb, v, 0)
	return sb.String()
}

// FormatTupleItems writes the elements of a tuple joined by commas, without
// parentheses (the form a tuple takes in a path: `:1,2`).
func FormatTupleItems(items []any) string {
	var sb strings.Builder
	writeItems(&sb, items, 0)
	return sb.String()
}

func writeItems(sb *strings.Builder, items []any, depth int) {
	for i, e := range items {
		if i > 0 {
			sb.WriteByte(',')
		}
		write(sb, e, depth)
	}
}

func write(sb *strings.Builder, v any, depth int) {
	if depth > pack.MaxDepth {
		sb.WriteString("<too deep>")
		return
	}
	switch v := v.(type) {
	case nil:
		sb.WriteString("None")
	case bool:
		if v {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case int64:
		sb.WriteString(strconv.FormatInt(v, 10))
	case uint64:
		sb.WriteString(strconv.FormatUint(v, 10))
	case *big.Int:
		sb.WriteString(v.String())
	case float64:
		sb.WriteString(FormatFloat(v))
	case string:
		sb.WriteString(QuoteString(v))
	case []byte:
		sb.WriteString(QuoteBytes(v))
	case []any:
		sb.WriteByte('(')
		writeItems(sb, v, depth+1)
		if len(v) == 1 {
			sb.WriteByte(',')
		}
		sb.WriteByte(')')
	case pack.Map:
		sb.WriteByte('{')
		for i, kv := range v {
			if i > 0 {
				sb.WriteByte(',')
			}
			write(sb, kv.Key, depth+1)
			sb.WriteByte(':')
			write(sb, kv.Value, depth+1)
		}
		sb.WriteByte('}')
	default:
		fmt.Fprintf(sb, "<%T>", v)
	}
}

// FormatFloat writes f as Python's repr does: the shortest digits that read
// back exactly, in positional notation for exponents from -4 to 15 (always
// with a fraction, "1.0"), else in scientific notation ("1e+16", "1e-07").
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	epos := strings.IndexByte(s, 'e')
	mant, exp := s[:epos], s[epos+1:]
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	if e < -4 || e >= 16 {
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		es := "+"
		if e < 0 {
			es, e = "-", -e
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, es, e)
	}
	if e < 0 {
		return sign + "0." + strings.Repeat("0", -e-1) + digits
	}
	if len(digits) <= e+1 {
		return sign + digits + strings.Repeat("0", e+1-len(digits)) + ".0"
	}
	return sign + digits[:e+1] + "." + digits[e+1:]
}

// QuoteString writes s as Python's repr does: single quotes unless s holds
// a single quote and no double quote.
func QuoteString(s string) string {
	q := pickQuote(s)
	var sb strings.Builder
	sb.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			switch {
			case r < 0x100:
				fmt.Fprintf(&sb, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&sb, `\u%04x`, r)
			default:
				fmt.Fprintf(&sb, `\U%08x`, r)
			}
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}

// QuoteBytes writes b as Python's repr does: b'…' with printable ASCII as is.
func QuoteBytes(b []byte) string {
	q := pickQuote(string(b))
	var sb strings.Builder
	sb.WriteString("b")
	sb.WriteByte(q)
	for _, c := range b {
		switch {
		case c == '\\' || c == q:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}

func pickQuote(s string) byte {
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		return '"'
	}
	return '\''
}
