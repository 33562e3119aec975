package server_test

import (
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
)

// inUse checks that rep refuses a request whose seq an open request holds.
func inUse(t *testing.T, rep pack.Map, seq int64) {
	t.Helper()
	msg, _ := get(rep, "error").(string)
	if get(rep, "seq") != seq || get(rep, "etype") != "request" || !strings.Contains(msg, "is in use by an open request") {
		t.Fatalf("reply %v, want an error under seq %d saying that it is in use", rep, seq)
	}
}

// TestDuplicateSeq: a request whose seq a running stream holds is refused
// with an error under that seq and is not run; the stream goes on; once
// the stream has ended, its seq may be used again.
func TestDuplicateSeq(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	rc.send(req(t, "seq", int64(1), "action", "watch", "path", path.P("w")))
	if rep := rc.next(); get(rep, "seq") != int64(1) || get(rep, "state") != "start" {
		t.Fatalf("watch: %v", rep)
	}
	// Plain requests and another stream under the watch's seq.
	for _, r := range [][]any{
		{"seq", int64(1), "action", "set_value", "path", path.P("w.x"), "value", "dup"},
		{"seq", int64(1), "action", "get_value", "path", path.P("w.x")},
		{"seq", int64(1), "action", "get_tree", "path", path.P("w")},
		{"seq", int64(1), "action", "watch", "path", path.P("w")},
		{"seq", int64(1), "action", "delete_tree", "path", path.P("w")},
		{"seq", int64(1), "action", "stop", "task", int64(1)},
		{"seq", int64(1), "action", "no_such_action"},
	} {
		rc.send(req(t, r...))
		inUse(t, rc.next(), 1)
	}
	// The refused set did not happen; the watch still runs and reports
	// the next change under its seq.
	if rep := rc.call("seq", int64(2), "action", "get_value", "path", path.P("w.x")); get(rep, "value") != nil {
		t.Fatalf("the refused set was run: %v", rep)
	}
	rc.send(req(t, "seq", int64(3), "action", "set_value", "path", path.P("w.x"), "value", "real"))
	var sawSet, sawItem bool
	for !sawSet || !sawItem {
		rep := rc.next()
		switch get(rep, "seq") {
		case int64(3):
			sawSet = get(rep, "changed") == true
			if !sawSet {
				t.Fatalf("set: %v", rep)
			}
		case int64(1):
			if get(rep, "value") != "real" {
				t.Fatalf("watch: %v", rep)
			}
			sawItem = true
		default:
			t.Fatalf("unexpected %v", rep)
		}
	}
	// Stopped, the watch ends; then its seq is free at once.
	rc.send(req(t, "seq", int64(4), "action", "stop", "task", int64(1)))
	for ended := false; !ended; {
		rep := rc.next()
		ended = get(rep, "seq") == int64(1) && get(rep, "state") == "end"
	}
	if rep := rc.call("seq", int64(1), "action", "get_value", "path", path.P("w.x")); get(rep, "value") != "real" {
		t.Fatalf("seq 1 after its watch ended: %v", rep)
	}
}

// TestSeqFreeAfterLastReply: a streamed action that answers with one
// message (delete_tree without nchain, save) frees its seq by the time
// that message arrives, so a client that waits for each reply may use one
// seq for everything.
func TestSeqFreeAfterLastReply(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	file := t.TempDir() + "/s.state"
	for i := range 200 {
		r := []any{"seq", int64(7), "action", "set_value", "path", path.Must("d", int64(i)), "value", int64(i)}
		switch i % 4 {
		case 1:
			r = []any{"seq", int64(7), "action", "delete_tree", "path", path.Must("d", int64(i-1))}
		case 2:
			r = []any{"seq", int64(7), "action", "save", "path", file}
		case 3:
			r = []any{"seq", int64(7), "action", "get_tree", "path", path.Must("d", int64(i-3))}
		}
		rc.send(req(t, r...))
		for {
			rep := rc.next()
			if get(rep, "seq") != int64(7) || get(rep, "error") != nil {
				t.Fatalf("request %d (%v): %v", i, r[3], rep)
			}
			if get(rep, "state") == nil || get(rep, "state") == "end" {
				break
			}
		}
	}
}

// TestSeqZeroAndNegative pins what the server does with seqs that are
// never a request's: seq 0 is the client's hello, whatever else it holds,
// and gets no reply; a negative seq is an error without a seq (it cannot
// be echoed as the unsigned seq it is not). The connection goes on.
func TestSeqZeroAndNegative(t *testing.T) {
	s := startServer(t, server.Config{})
	rc := dialRaw(t, s)
	rc.send(req(t, "seq", int64(0), "action", "set_value", "path", path.P("z"), "value", int64(0)))
	rc.send(req(t, "seq", int64(-3), "action", "set_value", "path", path.P("z"), "value", int64(-3)))
	if rep := rc.next(); get(rep, "seq") != nil || get(rep, "etype") != "request" {
		t.Fatalf("negative seq: %v", rep)
	}
	if rep := rc.call("seq", int64(1), "action", "get_value", "path", path.P("z")); get(rep, "value") != nil {
		t.Fatalf("a request under seq 0 or -3 was run: %v", rep)
	}
}
