package maildir

import (
	"slices"
	"testing"
)

// TakeRecent starts after what it claimed last time, and still finds
// every message added since: appended, inserted lower, after expunges.
func TestTakeRecentHint(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	const user = "rc@example.org"
	f := testFolder(t, s, user, "INBOX")
	take := func(want ...uint32) {
		t.Helper()
		got, err := f.TakeRecent()
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("TakeRecent = %v %v, want %v", got, err, want)
		}
	}
	deliverMessages(t, s, user, 3)
	take(1, 2, 3)
	take()
	deliver(t, s, user, hcMessage(4))
	deliver(t, s, user, hcMessage(5))
	take(4, 5)
	if _, err := f.Expunge([]uint32{1, 2}, nil); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, user, hcMessage(6))
	take(6)
	// An entry inserted below the hint (a late UID from another
	// process) is found.
	f.mu.Lock()
	f.insertLocked(entry{uid: 3, base: "late", recent: true, inNew: false})
	f.mu.Unlock()
	take(3)
	take()
}
