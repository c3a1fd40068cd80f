package maildir

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// openTestStore opens a store on root without the watcher, closed at the
// end of the test.
func openTestStore(t testing.TB, root string) *Store {
	t.Helper()
	s, err := Open(root, Options{Hostname: "test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testSource is a Source for tests.
type testSource struct {
	SourceMark
	name string
}

// testFolder returns folder name of user in s.
func testFolder(t testing.TB, s *Store, user, name string) *Folder {
	t.Helper()
	a, err := s.Account(user)
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Folder(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// FolderOf is testFolder for the external test package maildir_test
// (this file is compiled into package maildir only for tests).
func FolderOf(t testing.TB, s *Store, user, name string) *Folder {
	t.Helper()
	return testFolder(t, s, user, name)
}

// deliver delivers msg to user's INBOX and fails the test on error.
func deliver(t testing.TB, s *Store, user, msg string) {
	t.Helper()
	if err := deliverTo(s, user, msg); err != nil {
		t.Fatalf("deliver: %v", err)
	}
}

// deliverTo delivers msg to user's INBOX and returns its error.
func deliverTo(s *Store, user, msg string) error {
	errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []Target{{User: user}})
	if err == nil {
		err = errs[0]
	}
	return err
}

// recorder collects a folder's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) list() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// count returns how many events of kind k concern uid.
func (r *recorder) count(k EventKind, uid uint32) int {
	n := 0
	for _, ev := range r.list() {
		if ev.Kind == k && ev.Message.UID == uid {
			n++
		}
	}
	return n
}

// record subscribes a recorder to f.
func record(t testing.TB, f *Folder) *recorder {
	r := &recorder{}
	_, _, cancel := f.Subscribe(r.add)
	t.Cleanup(cancel)
	return r
}

// messageFiles lists the files in dir's new/ and cur/.
func messageFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}
