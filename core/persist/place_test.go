package persist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func first[T, U any](t T, _ U) T { return t }

// TestCreateRefusesOtherFiles tries to make Create append to or replace
// files that are not DistKV's: the way a server is taken over through a
// file a client names.
func TestCreateRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(other, []byte("ssh-ed25519 AAAA… someone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.state")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(dir, "ours.state")
	if err := os.WriteFile(ours, first(testStream([]byte("x"))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		atomic bool
		ok     bool
	}{
		{other, false, false},
		{other, true, false},
		{link, false, false},
		{link, true, false},
		{dir, false, false},
		{dir, true, false},
		{"/dev/null", false, false},
		{ours, false, true},
		{ours, true, true},
		{filepath.Join(dir, "new.state"), false, true},
		{filepath.Join(dir, "new-save.state"), true, true},
	} {
		w, err := Create(tt.name, Options{Atomic: tt.atomic})
		if tt.ok != (err == nil) {
			t.Errorf("%s (atomic %v): %v", tt.name, tt.atomic, err)
		}
		if !tt.ok && err != nil && !errors.Is(err, ErrNotOurs) && tt.name != dir {
			t.Errorf("%s: %v does not say the file is not ours", tt.name, err)
		}
		if err == nil {
			if _, err := w.Append([]byte("y")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(tt.name); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v", tt.name, st.Mode(), err)
			}
		}
	}
	if b, _ := os.ReadFile(other); string(b) != "ssh-ed25519 AAAA… someone\n" {
		t.Errorf("the other file was changed: %q", b)
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 5 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestCreateBelowRoot keeps names below a directory.
func TestCreateBelowRoot(t *testing.T) {
	top := t.TempDir()
	inside := filepath.Join(top, "logs")
	if err := os.Mkdir(inside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(top, filepath.Join(inside, "up")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(inside)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, name := range []string{"../x.state", "up/x.state", "/etc/x.state"} {
		if w, err := Create(name, Options{Dir: root}); err == nil {
			w.Close()
			t.Errorf("%s: created outside the directory", name)
		}
		if w, err := Create(name, Options{Dir: root, Atomic: true}); err == nil {
			w.Close()
			t.Errorf("%s: saved outside the directory", name)
		}
	}
	for _, atomic := range []bool{false, true} {
		w, err := Create("a.state", Options{Dir: root, Atomic: atomic})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(inside, "a.state")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(top, "x.state")); err == nil {
		t.Error("a file appeared outside")
	}
}
