package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/distkv-go/distkv/codecs"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/errlog"
	"github.com/distkv-go/distkv/internal/testserver"
	"github.com/distkv-go/distkv/luart"
	"github.com/distkv-go/distkv/types"
)

// TestFailures: a codec that fails for many values gets one error record;
// a type that breaks a limit gets one, a type that refuses a value none;
// storing the codec anew resolves its record.
func TestFailures(t *testing.T) {
	s := testserver.Start(t, server.Config{Node: "one"})
	dial := func(ctx context.Context) (*client.Client, error) {
		return client.Open(ctx, client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port})
	}
	f := newFailures(slog.New(slog.DiscardHandler), "one", dial)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.run(ctx)

	codec := path.P("float.str")
	for range 100 {
		f.codecFailed(&codecs.Error{Codec: codec, Dir: "encode", Path: path.P("a.b"), Err: errors.New("no tables")})
	}
	f.typeFailed(&types.CheckError{Type: path.P("int"), Err: &luart.LimitError{Limit: luart.LimitTimeout, Detail: "call ran longer than 100ms"}})
	f.typeFailed(&types.CheckError{Type: path.P("int.percent"), Err: errors.New("not a percentage")})
	c, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	records := func() map[string]errlog.Record {
		l, err := errlog.Read(ctx, c, errlog.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]errlog.Record{}
		for _, r := range l.Records {
			m[r.Subsystem+" "+r.Path.String()] = r
		}
		return m
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(records()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := records()
	cr, ok := got["codec "+codecs.CodecRoot.Join(codec).String()]
	if !ok || cr.Count != 1 || cr.Resolved {
		t.Fatalf("codec record: %+v (all: %v)", cr, got)
	}
	if _, ok := got["type "+types.TypeRoot.Join(path.P("int")).String()]; !ok || len(got) != 2 {
		t.Fatalf("records: %v", got)
	}
	f.fixed("codec", codecs.CodecRoot.Join(codec))
	for !records()["codec "+codecs.CodecRoot.Join(codec).String()].Resolved {
		if time.Now().After(deadline) {
			t.Fatal("the codec's record was not resolved")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
