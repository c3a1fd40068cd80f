package maildir

import (
	"errors"
	"testing"
)

// TestBadNamesAreErrBadName: the store reports a folder name or keyword
// that dovecot refuses as ErrBadName (the cases are in dovecot's tests).
func TestBadNamesAreErrBadName(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "a//b", "a.b"} {
		if _, err := checkName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("checkName(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if n, err := checkName("inbox/Sub"); err != nil || n != "INBOX/Sub" {
		t.Errorf("checkName(inbox/Sub) = %q, %v", n, err)
	}
	f := testFolder(t, openTestStore(t, t.TempDir()), "anna@example.org", "INBOX")
	f.mu.Lock()
	_, err := f.lettersFor([]string{"bad(keyword"})
	f.mu.Unlock()
	if !errors.Is(err, ErrBadName) {
		t.Errorf("lettersFor(bad(keyword) = %v, want ErrBadName", err)
	}
}
