// Package durable holds the write helpers every part of Postern uses for
// files that must survive a crash: write to a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory.
//
// A reader never sees a half-written file: it sees the old content or the
// new one. After a helper returns nil the new content is on stable storage.
package durable

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

var tmpSeq atomic.Uint64

// tempName returns a name for a temporary file beside path. It starts with
// a dot so directory scans that skip dot files ignore it.
func tempName(path string) string {
	dir, base := filepath.Split(path)
	n := tmpSeq.Add(1)
	return filepath.Join(dir, "."+base+".tmp."+strconv.Itoa(os.Getpid())+"."+strconv.FormatUint(n, 10))
}

// WriteFile atomically replaces path with data: write a temporary file in
// the same directory, fsync it, rename it to path, fsync the directory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileFrom(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, perm)
}

// WriteFileFrom is WriteFile with the content produced by fill, which
// writes to the temporary file. If fill fails, the temporary file is
// removed and path is left untouched.
func WriteFileFrom(path string, fill func(w io.Writer) error, perm os.FileMode) (err error) {
	tmp := tempName(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("durable: create temp for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("durable: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("durable: fsync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("durable: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("durable: rename into %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so that renames, links and unlinks inside it
// are on stable storage.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("durable: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("durable: fsync dir %s: %w", dir, err)
	}
	return nil
}
