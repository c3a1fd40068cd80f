package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The watcher's rescan lists only the directory that changed; messages
// in the other one stay as they are, and every change by another
// program is still seen.
func TestRescanPerDirectory(t *testing.T) {
	noDirtyWindow(t)
	root := t.TempDir()
	const user = "scan@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 3)
	f := testFolder(t, s, user, "INBOX")
	if _, err := f.SetFlags([]uint32{1, 2}, FlagsAdd, []string{`\Seen`}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
	rec := record(t, f)
	tick := func() { time.Sleep(20 * time.Millisecond) } // past the timestamp tick

	tick()
	if err := f.rescanIfChanged(); err != nil || len(rec.list()) != 0 {
		t.Fatalf("nothing changed: %v %+v", err, rec.list())
	}

	// Another program delivers into new/ (cur/ is not listed).
	tick()
	name := filepath.Join(f.dir, "new", "1700000000.M1P1Q1.other")
	if err := os.WriteFile(name, []byte(hcMessage(4)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.rescanIfChanged(); err != nil {
		t.Fatal(err)
	}
	if msgs, _, _ := f.Messages(); len(msgs) != 4 || rec.count(EventNew, 4) != 1 || len(rec.list()) != 1 {
		t.Fatalf("after a delivery into new/: %d messages, events %+v", len(msgs), rec.list())
	}

	// Flags changed by hand in cur/.
	tick()
	var curName string
	for _, rel := range messageFiles(t, f.dir) {
		if strings.HasPrefix(rel, "cur/") && strings.HasSuffix(rel, ":2,S") {
			curName = rel
			break
		}
	}
	if err := os.Rename(filepath.Join(f.dir, curName), filepath.Join(f.dir, curName+"F")); err != nil {
		t.Fatal(err)
	}
	if err := f.rescanIfChanged(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.list()); n != 2 || rec.list()[1].Kind != EventFlags {
		t.Fatalf("after a flag change in cur/: %+v", rec.list())
	}

	// The file delivered by the other program is removed.
	tick()
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := f.rescanIfChanged(); err != nil {
		t.Fatal(err)
	}
	if msgs, _, _ := f.Messages(); len(msgs) != 3 || rec.count(EventExpunge, 4) != 1 {
		t.Fatalf("after a removal from new/: %d messages, events %+v", len(msgs), rec.list())
	}
}

// A directory changed within the dirty window before the last scan is
// listed again even though its time did not change.
func TestRescanDirtyDirectory(t *testing.T) {
	root := t.TempDir()
	const user = "scan@example.org"
	s := openTestStore(t, root)
	deliver(t, s, user, hcMessage(1))
	deliver(t, s, user, hcMessage(2))
	f := testFolder(t, s, user, "INBOX")
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	dirty := f.dirtyLocked(f.watch.newMod)
	// Pretend message 2 arrived after the listing, within the same
	// tick: memory does not have it and the stamps are unchanged.
	f.msgs = f.msgs[:1]
	f.mu.Unlock()
	if !dirty {
		t.Fatal("new/ changed just now but is not dirty")
	}
	if err := f.rescanIfChanged(); err != nil {
		t.Fatal(err)
	}
	if msgs, _, _ := f.Messages(); len(msgs) != 2 {
		t.Fatalf("dirty new/ not listed again: %d messages", len(msgs))
	}
}
