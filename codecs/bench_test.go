package codecs_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// benchCodecs is a tree with the tutorial's codec, a list of one pattern
// and joe bound to it, without a server.
func benchCodecs(b *testing.B) *codecs.Codecs {
	t := tree.New(tree.Config{Node: "b"})
	set := func(p path.Path, v any) {
		raw, err := value.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.Set(p, string(raw), tree.Cond{}); err != nil {
			b.Fatal(err)
		}
	}
	set(path.Must(nil, "codec", "float", "str"), floatStr)
	set(path.Must(nil, "conv", "floatval").Join(path.P("monitor.#.value")), pack.Map{{Key: "codec", Value: path.P("float.str")}})
	set(path.Must(nil, "auth", auth.Test, "user", "joe"), pack.Map{{Key: "_aux", Value: pack.Map{{Key: "codec", Value: "floatval"}}}})
	set(path.Must(nil, "auth", auth.Test, "user", "ann"), pack.Map{{Key: "_aux", Value: nil}})
	cd := codecs.New(t, runner, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(cd.Close)
	joe := &server.Session{Method: auth.Test, User: "joe"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := cd.Encode(joe, path.P("monitor.a.value"), []byte{0xcb, 0x40, 0x58, 0xe0, 0, 0, 0, 0, 0}) // 99.5
		if err == nil && string(out) != "\xcb\x40\x58\xe0\x00\x00\x00\x00\x00" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the codecs never bound joe")
		}
		time.Sleep(time.Millisecond)
	}
	return cd
}

// BenchmarkEncode: root (no login) must cost next to nothing, a user
// without a list a lookup; a user whose list matches pays the script and
// the value bridge (here a Go function).
func BenchmarkEncode(b *testing.B) {
	cd := benchCodecs(b)
	raw, _ := value.Encode(99.5)
	p := path.P("monitor.a.value")
	for _, bc := range []struct {
		name string
		sess *server.Session
		p    path.Path
	}{
		{"root", &server.Session{}, p},
		{"no-list", &server.Session{Method: auth.Test, User: "ann"}, p},
		{"list-no-match", &server.Session{Method: auth.Test, User: "joe"}, path.P("monitor.a.thing")},
		{"list-1-pattern", &server.Session{Method: auth.Test, User: "joe"}, p},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cd.Encode(bc.sess, bc.p, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
