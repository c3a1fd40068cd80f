package imapd

import (
	"fmt"
	"strings"
	"testing"

	"postern/accounts/testkit"
	"postern/maildir"
)

// TestSelectFirstUnseen: SELECT's [UNSEEN n] stays right while another
// session keeps the folder open and flags change, messages are expunged
// and delivered (the first-unseen search resumes from what it knew).
func TestSelectFirstUnseen(t *testing.T) {
	e := newEnv(t, Config{})
	uids := e.put(testkit.AnnaUser, "INBOX", msg("m1", "1"), msg("m2", "2"), msg("m3", "3"), msg("m4", "4"), msg("m5", "5"))
	f := e.folder(testkit.AnnaUser, "INBOX")
	setSeen := func(on bool, us ...uint32) {
		t.Helper()
		op := maildir.FlagsAdd
		if !on {
			op = maildir.FlagsRemove
		}
		if _, err := f.SetFlags(us, op, []string{maildir.FlagSeen}, nil); err != nil {
			t.Fatal(err)
		}
	}
	holder := e.raw(t) // keeps the folder's shared view alive
	holder.login(testkit.AnnaUser, testkit.AnnaPass)
	holder.cmd("h1 SELECT INBOX")

	n := 0
	want := func(first int) {
		t.Helper()
		r := e.raw(t)
		r.login(testkit.AnnaUser, testkit.AnnaPass)
		n++
		out := r.cmd(fmt.Sprintf("s%d EXAMINE INBOX", n))
		has := strings.Contains(out, "[UNSEEN ")
		if first == 0 && has || first != 0 && !strings.Contains(out, fmt.Sprintf("[UNSEEN %d]", first)) {
			t.Fatalf("step %d: want first unseen %d:\n%s", n, first, out)
		}
	}
	setSeen(true, uids[0], uids[1], uids[2])
	want(4)
	setSeen(true, uids[3], uids[4])
	want(0)
	setSeen(false, uids[1])
	want(2)
	if _, err := f.Expunge([]uint32{uids[0]}, nil); err != nil {
		t.Fatal(err)
	}
	want(1)
	setSeen(true, uids[1])
	want(0)
	e.put(testkit.AnnaUser, "INBOX", msg("m6", "6"))
	want(5)
}
