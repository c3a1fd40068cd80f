package maildir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestDotlockFromLockSource: under a store's root a dotlock is a hard link
// of the store's lock source (no file created per lock, none left in the
// folder), fresh even when the source is old; Close removes the source,
// and Open removes the source a dead process left.
func TestDotlockFromLockSource(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	left := filepath.Join(root, lockSourcePrefix+strconv.Itoa(dead.Process.Pid)+".1")
	if err := os.WriteFile(left, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, root)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a dead process's lock source is still there: %v", err)
	}
	f := testFolder(t, s, "anna@example.org", "INBOX")
	src := s.lockSrc.path
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(src, old, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(f.dir)
	l, err := takeDotlock(f.uidListPath(), s.lockHost)
	if err != nil {
		t.Fatal(err)
	}
	lst, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	sst, _ := os.Stat(src)
	if !os.SameFile(lst, sst) {
		t.Errorf("the lock is not a link of the lock source")
	}
	if time.Since(lst.ModTime()) > time.Minute {
		t.Errorf("lock modified %v ago: would look stale", time.Since(lst.ModTime()))
	}
	data, _ := os.ReadFile(l.path)
	if string(data) != strconv.Itoa(os.Getpid())+":"+s.lockHost {
		t.Errorf("lock holds %q", data)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadDir(f.dir); len(after) != len(before) {
		t.Errorf("folder had %d entries, now %d", len(before), len(after))
	}
	s.Close()
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("lock source left after Close: %v", err)
	}
}
