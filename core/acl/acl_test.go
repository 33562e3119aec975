package acl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/acl"
	"github.com/distkv-go/distkv/core/path"
)

// compile builds an ACL from "pattern=modes" texts.
func compile(t testing.TB, rules ...string) *acl.ACL {
	t.Helper()
	var rs []acl.Rule
	for _, s := range rules {
		pat, modes, _ := strings.Cut(s, "=")
		m, err := acl.ParseModes(modes)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, acl.Rule{Pattern: path.P(pat), Modes: m})
	}
	a, err := acl.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMatch(t *testing.T) {
	specific := []string{"a.#=a", "a.+.c=r", "+.b.c=w", "a.b.+=c", "a.#.#=d"}
	tests := []struct {
		name  string
		rules []string
		path  string
		want  string // the deciding pattern; "-" for none
	}{
		{"literal", []string{"a.b=r"}, "a.b", "a.b"},
		{"no match", []string{"a.b=r"}, "a.c", "-"},
		{"no rules", nil, "a", "-"},
		{"prefix is no match", []string{"a=r"}, "a.b", "-"},
		{"longer pattern is no match", []string{"a.b=r"}, "a", "-"},
		{"plus one element", []string{"a.+=r"}, "a.x", "a.+"},
		{"plus not zero", []string{"a.+=r"}, "a", "-"},
		{"plus not two", []string{"a.+=r"}, "a.x.y", "-"},
		{"hash one", []string{"a.#=r"}, "a.x", "a.#"},
		{"hash many", []string{"a.#=r"}, "a.x.y.z", "a.#"},
		{"hash not zero", []string{"a.#=r"}, "a", "-"},
		{"hash then literal", []string{"a.#.c=r"}, "a.x.y.c", "a.#.c"},
		{"hash then literal, not last", []string{"a.#.c=r"}, "a.c", "-"},
		{"hash any split", []string{"a.#.c.d=r"}, "a.c.c.c.d", "a.#.c.d"},
		{"hash hash", []string{"#.#=r"}, "x", "-"},
		{"hash hash two", []string{"#.#=r"}, "x.y", "#.#"},
		{"literal before plus", []string{"a.+=w", "a.b=r"}, "a.b", "a.b"},
		{"plus before hash", []string{"a.#=w", "a.+=r"}, "a.b", "a.+"},
		{"literal before hash", []string{"a.#=w", "a.b=r"}, "a.b", "a.b"},
		{"left decides", []string{"+.b=w", "a.+=r"}, "a.b", "a.+"},
		{"specificity 1", specific, "a.b.c", "a.b.+"},
		{"specificity 2", specific, "a.x.c", "a.+.c"},
		{"specificity 3", specific, "a.x.y", "a.#.#"},
		{"specificity 4", specific, "a.x", "a.#"},
		{"specificity 5", specific, "z.b.c", "+.b.c"},
		{"empty modes decide", []string{"a.b=", "a.+=r"}, "a.b", "a.b"},
		{"entry without value", []string{"a.b.c=r", "a.+=w"}, "a.b", "a.+"},
		{"entry without value, none", []string{"a.b.c=r"}, "a.b", "-"},
		{"dead end falls back", []string{"a.b.c.d=r", "a.#=w"}, "a.b.c.e", "a.#"},
		{"hash before deeper literal", []string{"a.#.x=r", "a.#=w"}, "a.b.x", "a.#.x"},
		{"root", []string{":=r", "+=w"}, ":", ":"},
		{"root only the root", []string{":=r"}, "a", "-"},
		{"root not matched by plus", []string{"+=r", "#=w"}, ":", "-"},
		{"none not by plus", []string{"+.acl=r"}, ":n.acl", "-"},
		{"none not by hash", []string{"#=r"}, ":n.acl.x", "-"},
		{"hash stops at none", []string{"a.#=r"}, "a.b:n", "-"},
		{"hash stops at none inside", []string{"a.#.c=r"}, "a:n.c", "-"},
		{"none literal", []string{":n.acl.#=r", "#=w"}, ":n.acl.x", ":n.acl.#"},
		{"none literal, then plus", []string{"+=w", ":n=r"}, ":n", ":n"},
		{"plus string in path", []string{"+=r"}, "+", "+"},
		{"hash string in path", []string{"+=r", "#=w"}, "#", "+"},
		{"number element", []string{"a.+=r"}, "a:31", "a.+"},
		{"number literal", []string{"a:31=r", "a.+=w"}, "a:31", "a:31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := compile(t, tt.rules...)
			r, ok := a.Match(path.P(tt.path))
			got := "-"
			if ok {
				got = r.Pattern.String()
			}
			if want := tt.want; want != "-" {
				want = path.P(want).String()
				if got != want {
					t.Fatalf("Match(%s) with %v = %s, want %s", tt.path, tt.rules, got, want)
				}
				return
			}
			if got != "-" {
				t.Fatalf("Match(%s) with %v = %s, want no rule", tt.path, tt.rules, got)
			}
		})
	}
}

func TestMatchModes(t *testing.T) {
	a := compile(t, "one=rxnc", "one.two=rc")
	for p, want := range map[string]string{"one": "rcxn", "one.two": "rc", "two": "", "one.three": ""} {
		if got := a.Allowed(path.P(p)).String(); got != mustModes(t, want).String() {
			t.Errorf("Allowed(%s) = %q, want %q", p, got, want)
		}
	}
	var none *acl.ACL
	if _, ok := none.Match(path.P("a")); ok {
		t.Error("a nil ACL matched")
	}
}

func mustModes(t *testing.T, s string) acl.Modes {
	t.Helper()
	m, err := acl.ParseModes(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModes(t *testing.T) {
	for _, s := range []string{"", "r", "rwcdxena", "an"} {
		m := mustModes(t, s)
		if back := mustModes(t, m.String()); back != m {
			t.Errorf("%q: %v round trips to %v", s, m, back)
		}
	}
	if _, err := acl.ParseModes("rq"); err == nil || !strings.Contains(err.Error(), "'q'") {
		t.Errorf("ParseModes(rq) = %v, want an error naming 'q'", err)
	}
}

func TestCompileRefuses(t *testing.T) {
	_, err := acl.Compile([]acl.Rule{{Pattern: path.P("a.+"), Modes: acl.ModeRead}, {Pattern: path.P("a.+"), Modes: acl.ModeWrite}})
	if err == nil || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), "rule 1") {
		t.Errorf("duplicate pattern: %v", err)
	}
	_, err = acl.Compile([]acl.Rule{{Pattern: path.P("a"), Modes: 1 << 12}})
	if err == nil || !strings.Contains(err.Error(), "rule 0") {
		t.Errorf("unknown mode bits: %v", err)
	}
	long := path.Root
	for range path.MaxElems + 1 {
		long = long.Child(path.Str("x"))
	}
	_, err = acl.Compile([]acl.Rule{{Pattern: long, Modes: acl.ModeRead}})
	if !errors.Is(err, path.ErrTooLong) {
		t.Errorf("long pattern: %v", err)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	for _, rules := range [][]string{
		{"a.b.c=r", "a.+.c=w", "a.#=c", "+.#=e"},
		{"a.#.c.#.d=r", "a.#=w", "#.x=c"}, // a "#" with children: the memo
	} {
		a := compile(t, rules...)
		p := path.P("a.b.x.c.y.z")
		a.Match(p) // fill the pool
		if n := testing.AllocsPerRun(100, func() { a.Match(p) }); n > 0 {
			t.Errorf("%v: Match allocates %v times per call", rules, n)
		}
	}
}

func TestReaches(t *testing.T) {
	rules := []string{"a.b.c=r", "a.+.d=w", "x.#.y=r", "n.:n.s=r", "w=w"}
	a := compile(t, rules...)
	tests := []struct {
		path string
		want bool // some rule granting r matches the path or one below it
	}{
		{":", true},
		{"a", true},
		{"a.b", true},
		{"a.b.c", true},
		{"a.b.c.d", false}, // below the rule: a.b.c matches no longer path
		{"a.q", false},     // only a.+.d, which grants no r
		{"x", true},
		{"x.1.2.3", true},
		{"x.1.y", true},
		{"q", false},
		{"w", false},
		{"n.:n", true},
		{":n", false}, // no wildcard reaches into None
	}
	for _, tt := range tests {
		if got := a.Reaches(path.P(tt.path), acl.ModeRead); got != tt.want {
			t.Errorf("%v: Reaches(%s) = %v, want %v", rules, tt.path, got, tt.want)
		}
	}
	if compile(t).Reaches(path.Root, acl.AllModes) {
		t.Error("an ACL without rules reaches something")
	}
	p := path.P("x.1.2.3")
	a.Reaches(p, acl.ModeRead)
	if n := testing.AllocsPerRun(100, func() { a.Reaches(p, acl.ModeRead) }); n > 0 {
		t.Errorf("Reaches allocates %v times per call", n)
	}
}

func TestMatchIndex(t *testing.T) {
	a := compile(t, "a.#=r", "a.b=w", "+=c")
	for p, want := range map[string]int{"a.b": 1, "a.c": 0, "q": 2, "q.r": -1} {
		if i, ok := a.MatchIndex(path.P(p)); i != want || ok != (want >= 0) {
			t.Errorf("MatchIndex(%s) = %d %v, want %d", p, i, ok, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for m, want := range map[string]string{"w": "w (write)", "ra": "ra (read, read ACL)", "": " ()"} {
		if got := mustModes(t, m).Describe(); got != want {
			t.Errorf("%q: %q, want %q", m, got, want)
		}
	}
}

// TestMatchHashBlowup: "#"s followed by elements could be split in
// exponentially many ways; the memo keeps Match polynomial. Without it
// this test would not finish.
func TestMatchHashBlowup(t *testing.T) {
	pat := path.Root
	for range 12 {
		pat = pat.Child(path.Str("#"))
		pat = pat.Child(path.Str("a"))
	}
	p := path.Root
	for range path.MaxElems - 1 {
		p = p.Child(path.Str("a"))
	}
	p = p.Child(path.Str("b"))
	a, err := acl.Compile([]acl.Rule{{Pattern: pat.Child(path.Str("c")), Modes: acl.ModeRead}, {Pattern: path.P("#.b"), Modes: acl.ModeWrite}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := a.Match(p); !ok || r.Modes != acl.ModeWrite {
		t.Fatalf("Match = %v %v, want #.b", r, ok)
	}
}

// TestMatchConcurrent: one ACL, many readers, each with its own memo.
func TestMatchConcurrent(t *testing.T) {
	a := compile(t, "a.#.c.#.d=r", "a.#=w", "#.x=c")
	paths := map[string]acl.Modes{"a.b.c.e.d": acl.ModeRead, "a.b.c": acl.ModeWrite, "q.x": acl.ModeCreate}
	done := make(chan error)
	for range 8 {
		go func() {
			for range 200 {
				for p, want := range paths {
					if got := a.Allowed(path.P(p)); got != want {
						done <- errors.New(p + ": got " + got.String() + ", want " + want.String())
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
