package maildir

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"postern/maildir/dovecot"
)

// TestStoreLockSource: an open store keeps one dotlock source at its
// root (see dovecot.LockSource), so a dotlock in one of its folders is a
// link of it and leaves nothing in the folder; Close removes it.
func TestStoreLockSource(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openTestStore(t, root)
	f := testFolder(t, s, "anna@example.org", "INBOX")
	before, _ := os.ReadDir(f.dir)
	l, err := f.takeDotlock(dovecot.UIDListFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f.uidListPath() + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Sys().(*syscall.Stat_t).Nlink; n < 2 {
		t.Errorf("the lock has %d links: not a link of the lock source", n)
	}
	data, _ := os.ReadFile(f.uidListPath() + ".lock")
	if string(data) != strconv.Itoa(os.Getpid())+":"+s.lockHost {
		t.Errorf("lock holds %q", data)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadDir(f.dir); len(after) != len(before) {
		t.Errorf("folder had %d entries, now %d", len(before), len(after))
	}
	s.Close()
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left at the root after Close: %s", filepath.Join(root, e.Name()))
		}
	}
}
