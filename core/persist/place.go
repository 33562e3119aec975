package persist

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotOurs is an existing file that Create will not write to: it is not
// a regular file, or it does not start as a DistKV file does.
var ErrNotOurs = errors.New("not a DistKV save or log file")

// Dir is where Create may write: the whole file system (nil), or the tree
// below one directory (an *os.Root), which names can neither leave by
// ".." nor by a symbolic link.
type Dir interface {
	OpenFile(name string, flag int, perm os.FileMode) (*os.File, error)
	Lstat(name string) (os.FileInfo, error)
	Rename(oldname, newname string) error
	Remove(name string) error
}

var _ Dir = (*os.Root)(nil)

// anywhere is the whole file system.
type anywhere struct{}

func (anywhere) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (anywhere) Lstat(name string) (os.FileInfo, error) { return os.Lstat(name) }
func (anywhere) Rename(oldname, newname string) error   { return os.Rename(oldname, newname) }
func (anywhere) Remove(name string) error               { return os.Remove(name) }

// openExisting opens name for appending, creating it with mode 0600. An
// existing file must be a regular file (no link is followed) that is
// empty or starts with a record's magic: a client that names a file never
// gets the server to append to anything else.
func openExisting(d Dir, name string) (*os.File, error) {
	f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("a symbolic link: %w", ErrNotOurs)
		}
		return nil, err
	}
	if err := checkOurs(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOurs reports whether f is a regular file that is empty or starts
// with a record's magic.
func checkOurs(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("a %v, not a regular file: %w", st.Mode().Type(), ErrNotOurs)
	}
	var head [len(magic)]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if !bytes.Equal(head[:n], magic[:n]) { // a file cut short in its first magic is ours too
		return fmt.Errorf("%w: it is left alone", ErrNotOurs)
	}
	return nil
}

// replaceable reports whether name may be replaced by a save: it does not
// exist, or it is a regular DistKV file.
func replaceable(d Dir, name string) error {
	st, err := d.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("a %v, not a regular file: %w", st.Mode().Type(), ErrNotOurs)
	}
	f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkOurs(f)
}

// createTemp creates a new file beside name for an atomic save; it never
// opens a file that exists.
func createTemp(d Dir, name string) (*os.File, string, error) {
	for range 10 {
		var r [6]byte
		rand.Read(r[:])
		tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+"."+hex.EncodeToString(r[:])+".tmp")
		f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", fmt.Errorf("no free temporary name beside %s", name)
}

// syncDir fsyncs a directory, making entries created or renamed in it durable.
func syncDir(d Dir, dir string) error {
	f, err := d.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
