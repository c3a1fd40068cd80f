package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/maildir/dovecot"
)

// TestMoveRenamesKeepingFlags: Move renames the file (same base, same
// inode) with its flags and keywords, dest assigns the UID, and each side
// sees exactly one event, also after rescans and in a second Store.
func TestMoveRenamesKeepingFlags(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openTestStore(t, root)
	in := testFolder(t, s, "anna@example.org", "INBOX")
	arch := testFolder(t, s, "anna@example.org", "Archive")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	deliver(t, s, "anna@example.org", "Subject: b\n\ny\n")
	if _, err := in.SetFlags([]uint32{2}, FlagsAdd, []string{`\Flagged`, "$Work"}, nil); err != nil {
		t.Fatal(err)
	}
	// Give Archive a different keyword table, so letters must be mapped.
	if _, err := arch.Append(strings.NewReader("Subject: c\n\nz\n"), []string{"other"}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	before, _, _ := in.Messages()
	st0, _ := os.Stat(filepath.Join(in.dir, "cur", dovecot.FullName(before[1].Key, "2,Fa")))
	rin, rarch := record(t, in), record(t, arch)

	src, dst, err := in.Move([]uint32{2, 9}, arch, &testSource{name: "me"})
	if err != nil || !slices.Equal(src, []uint32{2}) || !slices.Equal(dst, []uint32{2}) {
		t.Fatalf("move: %v %v %v", src, dst, err)
	}
	got, _, _ := arch.Messages()
	m := got[len(got)-1]
	if m.Key != before[1].Key || strings.Join(m.Flags, " ") != `\Flagged $Work` || !m.Recent {
		t.Fatalf("moved message %+v, source %+v", m, before[1])
	}
	st1, err := os.Stat(filepath.Join(arch.dir, "cur", dovecot.FullName(m.Key, "2,Fb")))
	if err != nil || st0 == nil || !os.SameFile(st0, st1) {
		t.Fatalf("moved file is not the renamed source: %v", err)
	}
	if files := messageFiles(t, in.dir); len(files) != 1 {
		t.Fatalf("INBOX files after move: %v", files)
	}
	for _, f := range []*Folder{in, arch} {
		if err := f.Rescan(); err != nil {
			t.Fatal(err)
		}
	}
	if n := rin.count(EventExpunge, 2); n != 1 {
		t.Errorf("%d EXPUNGE events for INBOX UID 2, want 1", n)
	}
	if n := rarch.count(EventNew, 2); n != 1 || len(rarch.list()) != 1 {
		t.Errorf("Archive events %+v", rarch.list())
	}
	// A second Store (another process) agrees.
	s2 := openTestStore(t, root)
	got2, _, _ := testFolder(t, s2, "anna@example.org", "Archive").Messages()
	if len(got2) != 2 || got2[1].UID != 2 || strings.Join(got2[1].Flags, " ") != `\Flagged $Work` {
		t.Fatalf("second store sees %+v", got2)
	}
}

// TestMoveBackNeverReusesUID: a message moved away and back gets a UID
// above the one it had, though its old record is still in the uidlist.
func TestMoveBackNeverReusesUID(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openTestStore(t, root)
	in := testFolder(t, s, "anna@example.org", "INBOX")
	tr := testFolder(t, s, "anna@example.org", "Trash")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	if _, _, err := in.Move([]uint32{1}, tr, nil); err != nil {
		t.Fatal(err)
	}
	_, back, err := tr.Move([]uint32{1}, in, nil)
	if err != nil || len(back) != 1 || back[0] != 2 {
		t.Fatalf("moved back as %v, %v; want UID 2", back, err)
	}
	s2 := openTestStore(t, root)
	msgs, next, _ := testFolder(t, s2, "anna@example.org", "INBOX").Messages()
	if len(msgs) != 1 || msgs[0].UID != 2 || next != 3 {
		t.Fatalf("reopened INBOX: %+v next %d", msgs, next)
	}
}

// TestUIDsFromAnotherProcessComeFirst: when another process assigned UIDs
// that this one has not scanned yet, a delivery publishes those messages
// before its own, so subscribers see increasing UIDs.
func TestUIDsFromAnotherProcessComeFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1, s2 := openTestStore(t, root), openTestStore(t, root)
	f1 := testFolder(t, s1, "anna@example.org", "INBOX")
	f2 := testFolder(t, s2, "anna@example.org", "INBOX")
	r := record(t, f1)
	deliver(t, s2, "anna@example.org", "Subject: from 2\n\nx\n")
	f2.awaitDeferred() // numbered by s2
	deliver(t, s1, "anna@example.org", "Subject: from 1\n\ny\n")
	f1.awaitDeferred()
	var uids []uint32
	for _, ev := range r.list() {
		uids = append(uids, ev.Message.UID)
	}
	if !slices.Equal(uids, []uint32{1, 2}) {
		t.Fatalf("event UIDs %v, want [1 2]", uids)
	}
	if err := f1.Rescan(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.list()); n != 2 {
		t.Fatalf("%d events after rescan: %+v", n, r.list())
	}
}

// TestFailedAddLeavesNoFile: when the UID cannot be recorded the append
// fails and its hard link is removed, so no message appears later.
func TestFailedAddLeavesNoFile(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	f := testFolder(t, s, "anna@example.org", "INBOX")
	if err := os.Remove(f.uidListPath()); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.uidListPath(), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Append(strings.NewReader("Subject: a\n\nx\n"), nil, time.Time{}, nil); err == nil {
		t.Fatal("append succeeded with an unwritable uidlist")
	}
	if files := messageFiles(t, f.dir); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}

// TestRecent: arrivals are recent, flag changes keep it, TakeRecent
// claims them once and moves them to cur/.
func TestRecent(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	f := testFolder(t, s, "anna@example.org", "INBOX")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	m, err := f.Append(strings.NewReader("Subject: b\n\ny\n"), []string{`\Seen`}, time.Time{}, nil)
	if err != nil || !m.Recent {
		t.Fatalf("appended %+v %v: not recent", m, err)
	}
	ms, err := f.SetFlags([]uint32{1}, FlagsAdd, []string{`\Flagged`}, nil)
	if err != nil || !ms[0].Recent {
		t.Fatalf("after a flag change %+v %v: not recent", ms, err)
	}
	if st, _ := f.Status(); st.Recent != 2 {
		t.Fatalf("status recent %d, want 2", st.Recent)
	}
	uids, err := f.TakeRecent()
	if err != nil || !slices.Equal(uids, []uint32{1, 2}) {
		t.Fatalf("TakeRecent %v %v", uids, err)
	}
	if uids, _ := f.TakeRecent(); len(uids) != 0 {
		t.Fatalf("second TakeRecent %v", uids)
	}
	if st, _ := f.Status(); st.Recent != 0 {
		t.Fatalf("status recent %d, want 0", st.Recent)
	}
	for _, n := range messageFiles(t, f.dir) {
		if !strings.HasPrefix(n, "cur/") {
			t.Errorf("%s not in cur/", n)
		}
	}
}

// TestInternalDateIsMtime: APPEND's date becomes the file's mtime, and a
// message's date is read back from the mtime, as Dovecot does.
func TestInternalDateIsMtime(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openTestStore(t, root)
	f := testFolder(t, s, "anna@example.org", "INBOX")
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := f.Append(strings.NewReader("Subject: a\n\nx\n"), nil, date, nil)
	if err != nil || !m.Date.Equal(date) {
		t.Fatalf("appended %+v %v", m, err)
	}
	if !strings.HasPrefix(m.Key, "1") || strings.HasPrefix(m.Key, "1577934245.") {
		t.Errorf("file name %q carries the append date, not the current time", m.Key)
	}
	st, err := os.Stat(filepath.Join(f.dir, "new", m.Key))
	if err != nil || !st.ModTime().Equal(date) {
		t.Fatalf("mtime %v %v", st, err)
	}
	// A file dropped in by hand: its mtime, not its name, is the date.
	other := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	p := filepath.Join(f.dir, "new", "1700000000.M1P1.elsewhere")
	if err := os.WriteFile(p, []byte("Subject: b\r\n\r\ny\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, other, other)
	s2 := openTestStore(t, root)
	msgs, _, _ := testFolder(t, s2, "anna@example.org", "INBOX").Messages()
	if len(msgs) != 2 || !msgs[0].Date.Equal(date) || !msgs[1].Date.Equal(other) {
		t.Fatalf("reopened: %+v", msgs)
	}
}

// TestCopyAfterRenameByOthers: a source file renamed behind the store's
// back (another process changing flags) is still copied, with the new
// flags.
func TestCopyAfterRenameByOthers(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	in := testFolder(t, s, "anna@example.org", "INBOX")
	arch := testFolder(t, s, "anna@example.org", "Archive")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	msgs, _, _ := in.Messages()
	if err := os.Rename(filepath.Join(in.dir, "new", msgs[0].Key), filepath.Join(in.dir, "cur", msgs[0].Key+":2,S")); err != nil {
		t.Fatal(err)
	}
	src, dst, err := in.Copy([]uint32{1}, arch)
	if err != nil || len(src) != 1 || len(dst) != 1 {
		t.Fatalf("copy: %v %v %v", src, dst, err)
	}
	got, _, _ := arch.Messages()
	if len(got) != 1 || strings.Join(got[0].Flags, " ") != `\Seen` {
		t.Fatalf("copied %+v", got)
	}
}

// TestMoveAfterRenameByOthers: a source file renamed behind the store's
// back is still moved, with the new flags, and expunged once.
func TestMoveAfterRenameByOthers(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	in := testFolder(t, s, "anna@example.org", "INBOX")
	arch := testFolder(t, s, "anna@example.org", "Archive")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	r := record(t, in)
	msgs, _, _ := in.Messages()
	if err := os.Rename(filepath.Join(in.dir, "new", msgs[0].Key), filepath.Join(in.dir, "cur", msgs[0].Key+":2,F")); err != nil {
		t.Fatal(err)
	}
	src, dst, err := in.Move([]uint32{1}, arch, nil)
	if err != nil || len(src) != 1 || len(dst) != 1 {
		t.Fatalf("move: %v %v %v", src, dst, err)
	}
	got, _, _ := arch.Messages()
	if len(got) != 1 || strings.Join(got[0].Flags, " ") != `\Flagged` {
		t.Fatalf("moved %+v", got)
	}
	in.Rescan()
	if n := r.count(EventExpunge, 1); n != 1 {
		t.Fatalf("%d EXPUNGE events", n)
	}
}
