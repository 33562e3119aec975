package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
)

// writeFile writes data to a new file in dir and returns its name.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	name = filepath.Join(dir, name)
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// savedState returns a save file of a server named n1 that holds the
// string values kv (path text, value); with logOnly, a change log that
// holds only its header.
func savedState(t *testing.T, logOnly bool, kv ...string) []byte {
	t.Helper()
	s, err := server.New(server.Config{Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name := filepath.Join(t.TempDir(), "state")
	if logOnly {
		if err := s.StartLog(name, false); err != nil {
			t.Fatal(err)
		}
		if err := s.StopLog(); err != nil {
			t.Fatal(err)
		}
	} else {
		for i := 0; i < len(kv); i += 2 {
			raw, _ := value.Encode(kv[i+1])
			if _, err := s.Tree().Set(path.P(kv[i]), string(raw), tree.Cond{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Save(name); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLoadNothing: `server -l FILE` with a file that holds no valid
// record (random bytes, text, an empty file, a torn map of the original's
// format) is an error that names the file and says what is wrong, and the
// server does not start, unless --force is given. Several -l files are
// checked one by one.
func TestLoadNothing(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	random := make([]byte, 5000)
	rand.Read(random)
	random[0] = 0 // not the start of a map: our format, all damage
	good := writeFile(t, dir, "good.state", savedState(t, false, "kept", "yes"))
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"random bytes", []string{writeFile(t, dir, "random", random)},
			"no valid DistKV record (0 of 5000 bytes readable); give --force to start empty anyway"},
		{"text", []string{writeFile(t, dir, "notes.txt", []byte("important\nnotes\n"))},
			"no valid DistKV record (0 of 16 bytes readable); give --force to start empty anyway"},
		{"empty", []string{writeFile(t, dir, "empty", nil)},
			"no valid DistKV record: the file is empty; give --force to start empty anyway"},
		{"a torn original map", []string{writeFile(t, dir, "torn", []byte{0x82, 0xa1, 'a'})},
			"no valid DistKV record (0 of 3 bytes readable); give --force to start empty anyway"},
		{"one of two", []string{good, filepath.Join(dir, "random")},
			"no valid DistKV record (0 of 5000 bytes readable); give --force to start without it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"-C", "server.sync_timeout=2s", "server"}
			for _, f := range tc.files {
				args = append(args, "-l", f)
			}
			out, code := runServerToEnd(t, bin, append(args, "n1")...)
			bad := tc.files[len(tc.files)-1]
			if want := fmt.Sprintf("distkv: -l %s: %s", bad, tc.want); code == 0 || !strings.Contains(out, want) {
				t.Fatalf("exit %d, want an error %q:\n%s", code, want, out)
			}
			if strings.Contains(out, "Running.") {
				t.Errorf("it ran:\n%s", out)
			}
		})
	}

	t.Run("force", func(t *testing.T) {
		port := freePort(t)
		sp := startServerProc(t, bin, port, "server", "--force", "-l", good, "-l", filepath.Join(dir, "random"), "n1")
		waitLog(t, sp, `level=WARN msg="starting without the data of a -l file (--force)" file=`+filepath.Join(dir, "random")+` why="no valid DistKV record (0 of 5000 bytes readable)"`)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if v, err := getValue(ctx, port, path.P("kept")); err != nil || v != "yes" {
			t.Errorf("kept = %v, %v: the good file's data", v, err)
		}
	})
}

// TestLoadPartlyDamaged: a file with valid records among damaged data
// loads as before: the damage is skipped with a warning, the rest is
// served; a log that holds only its header is a valid, empty file.
func TestLoadPartlyDamaged(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	garbage := []byte(strings.Repeat("garbage ", 100))
	mixed := append(append(savedState(t, false, "a", "one"), garbage...), savedState(t, false, "b", "two")...)
	name := writeFile(t, dir, "mixed.state", mixed)
	header := writeFile(t, dir, "header.log", savedState(t, true))
	port := freePort(t)
	sp := startServerProc(t, bin, port, "server", "-l", name, "-l", header, "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k, want := range map[string]string{"a": "one", "b": "two"} {
		if v, err := getValue(ctx, port, path.P(k)); err != nil || v != want {
			t.Errorf("%s = %v, %v; want %s", k, v, err, want)
		}
	}
	waitLog(t, sp, `msg="skipped damaged data" detail="`+name+`: skipped 800 damaged bytes at offset`,
		"msg=loaded file="+name+" records=2 applied=2 damaged=1",
		"msg=loaded file="+header+" records=0 applied=0 damaged=0")
	if log := sp.log(); strings.Contains(log, "--force") {
		t.Errorf("a warning about --force:\n%s", log)
	}
}

// waitLog waits until the server's stderr holds every one of want: what
// it logged before "Running." may still be on its way.
func waitLog(t *testing.T, sp *serverProc, want ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		log, missing := sp.log(), ""
		for _, w := range want {
			if !strings.Contains(log, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q:\n%s", missing, log)
		}
	}
}
