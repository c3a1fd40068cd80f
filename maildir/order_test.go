package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"postern/maildir/dovecot"
)

// TestExpungeFindsRenamedFile: an EXPUNGE of a message whose file another
// process has just renamed (a flag change) removes the file under its new
// name, instead of dropping the message from view while it stays on disk
// (to come back at the next rescan).
func TestExpungeFindsRenamedFile(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	deliver(t, s, user, "Subject: x\r\n\r\nbody\r\n")
	msgs, _, _ := f.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	// Another process marks it \Seen: new/<base> -> cur/<base>:2,S.
	if err := os.Rename(f.path("new/"+msgs[0].Key), f.path("cur/"+msgs[0].Key+":2,S")); err != nil {
		t.Fatal(err)
	}
	r := record(t, f)
	got, err := f.Expunge([]uint32{msgs[0].UID}, nil)
	if err != nil || !slices.Equal(got, []uint32{msgs[0].UID}) {
		t.Fatalf("Expunge = %v, %v", got, err)
	}
	if files := messageFiles(t, f.dir); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range r.list() {
		if ev.Kind == EventNew {
			t.Fatalf("expunged message came back: %+v", ev)
		}
	}
}

// TestRenamedBeforeShownKeepsOrder: when another process renames a
// delivered file (a flag change, its UID already in dovecot-uidlist)
// before this process has shown it, it is still shown in UID order, and
// the rescan forced then brings its new flags: it never comes back as new
// after a higher UID.
func TestRenamedBeforeShownKeepsOrder(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	r := record(t, f)
	// The committer's fsync of dovecot-uidlist comes after numbering and
	// before showing: the other process renames message A right then.
	orig := fsyncFile
	t.Cleanup(func() { fsyncFile = orig })
	renamed := ""
	fsyncFile = func(fh *os.File) error {
		if filepath.Base(fh.Name()) == dovecot.UIDListFile && renamed == "" {
			ents, _ := os.ReadDir(f.path("new"))
			for _, e := range ents {
				data, _ := os.ReadFile(f.path("new/" + e.Name()))
				if strings.Contains(string(data), "Subject: A") {
					renamed = e.Name()
					if err := os.Rename(f.path("new/"+e.Name()), f.path("cur/"+e.Name()+":2,S")); err != nil {
						return err
					}
				}
			}
		}
		return orig(fh)
	}
	deliver(t, s, user, "Subject: A\r\n\r\na\r\n")
	deliver(t, s, user, "Subject: B\r\n\r\nb\r\n")
	f.awaitDeferred()
	if renamed == "" {
		t.Fatal("message A was not renamed")
	}
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range r.list() {
		got = append(got, fmt.Sprintf("%d:%d:%v", ev.Kind, ev.Message.UID, ev.Message.Flags))
	}
	want := []string{
		fmt.Sprintf("%d:1:[]", EventNew),
		fmt.Sprintf("%d:2:[]", EventNew),
		fmt.Sprintf("%d:1:[\\Seen]", EventFlags),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestCommitterKeepsNumberedDeliveries: an APPEND numbers the deliveries
// queued with it, also those queued behind it, which its own fsync does
// not cover; the background committer must not stop while one of them
// waits for its fsync (nobody else would show it, and a reader waiting
// for it would wait for ever).
func TestCommitterKeepsNumberedDeliveries(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	f := testFolder(t, s, "anna@example.org", "INBOX")
	c := &f.cs
	c.running = true
	waiting := &pendingAdd{async: true, queued: true}
	c.pending = []*pendingAdd{waiting}
	if f.committerDone(c) {
		t.Fatal("committer stops with a numbered delivery not yet durable")
	}
	waiting.durable = true
	if !f.committerDone(c) || c.running {
		t.Fatal("committer does not stop with nothing left")
	}
}
