package dovecot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// deadPID returns the process id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	return dead.Process.Pid
}

// TestDotlockFromLockSource: under a lock source's root a dotlock is a
// hard link of the source (no file created per lock, none left in the
// folder), fresh even when the source is old; Close removes the source,
// and OpenLockSource removes the source a dead process left.
func TestDotlockFromLockSource(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	left := filepath.Join(root, lockSourcePrefix+strconv.Itoa(deadPID(t))+".1")
	if err := os.WriteFile(left, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	const host = "lock-host"
	src := OpenLockSource(root, host)
	if src == nil {
		t.Fatal("no lock source")
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a dead process's lock source is still there: %v", err)
	}
	dir := filepath.Join(root, "example.org", "anna")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(src.path, old, old); err != nil {
		t.Fatal(err)
	}
	l, err := TakeDotlock(filepath.Join(dir, UIDListFile), host)
	if err != nil {
		t.Fatal(err)
	}
	lst, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	sst, _ := os.Stat(src.path)
	if !os.SameFile(lst, sst) {
		t.Errorf("the lock is not a link of the lock source")
	}
	if time.Since(lst.ModTime()) > time.Minute {
		t.Errorf("lock modified %v ago: would look stale", time.Since(lst.ModTime()))
	}
	data, _ := os.ReadFile(l.path)
	if string(data) != strconv.Itoa(os.Getpid())+":"+host {
		t.Errorf("lock holds %q", data)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the folder: %v", ents)
	}
	src.Close()
	if _, err := os.Stat(src.path); !os.IsNotExist(err) {
		t.Errorf("lock source left after Close: %v", err)
	}
}

func TestLockTempPID(t *testing.T) {
	for name, want := range map[string]int{
		".dovecot-uidlist.lock.tmp.1234.7":   1234,
		".dovecot-keywords.lock.tmp.99.1":    99,
		"dovecot-uidlist.lock.tmp.1234.7":    0, // not a dot file
		".dovecot-uidlist.lock.tmp.x.7":      0,
		".dovecot-uidlist.lock.tmp.1234":     0,
		".dovecot-uidlist.lock.tmp.1234.x":   0,
		".dovecot-uidlist.lock.tmp.-5.1":     0,
		".Sent":                              0,
		".dovecot-uidlist.lock.tmp.0.1":      0,
		".dovecot-uidlist.lock.tmp.12.34.56": 0,
	} {
		pid, ok := lockTempPID(name)
		if (want == 0 && ok) || (want != 0 && (!ok || pid != want)) {
			t.Errorf("lockTempPID(%q) = %d %v, want %d", name, pid, ok, want)
		}
	}
}
