package maildir

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKeywordsFromAnotherProcess: two stores on one folder add different
// keywords; neither overwrites the other's letter, and each sees the
// other's keyword by name after a rescan.
func TestKeywordsFromAnotherProcess(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1, s2 := openTestStore(t, root), openTestStore(t, root)
	f1 := testFolder(t, s1, "anna@example.org", "INBOX")
	f2 := testFolder(t, s2, "anna@example.org", "INBOX")
	m, err := f1.Append(strings.NewReader("Subject: a\n\nx\n"), nil, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.Rescan(); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.SetFlags([]uint32{m.UID}, FlagsAdd, []string{"two"}, nil); err != nil {
		t.Fatal(err)
	}
	r := record(t, f1)
	if _, err := f1.SetFlags([]uint32{m.UID}, FlagsAdd, []string{"one"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Folder{f1, f2} {
		if err := f.Rescan(); err != nil {
			t.Fatal(err)
		}
		msgs, _, _ := f.Messages()
		if len(msgs) != 1 || !slices.Equal(msgs[0].Flags, []string{"two", "one"}) {
			t.Errorf("%p sees %+v, want keywords two one", f, msgs)
		}
	}
	if len(r.list()) == 0 {
		t.Error("no flag event for the other store's keyword")
	}
}
