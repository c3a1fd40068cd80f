package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuotaFile: usage changes count at once in memory and reach
// maildirsize in a few batched lines (not one per message); closing the
// store writes what is pending, and a restart reads the usage back from
// the file.
func TestQuotaFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	opts := Options{Hostname: "test", WatchInterval: -1, Quota: func(string) (int64, int64) { return 0, 100 }}
	s, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	const user = "anna@example.org"
	const msg = "Subject: q\r\n\r\nbody\r\n"
	const n = 30
	for range n {
		deliver(t, s, user, msg)
	}
	a, _ := s.Account(user)
	if b, m := a.Usage(); m != n || b != n*int64(len(msg)) {
		t.Fatalf("usage %d bytes, %d messages; want %d, %d", b, m, n*len(msg), n)
	}
	f := testFolder(t, s, user, "INBOX")
	msgs, _, _ := f.Messages()
	if _, err := f.Expunge([]uint32{msgs[0].UID, msgs[1].UID}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	data, err := os.ReadFile(filepath.Join(a.dir, maildirsizeFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "0S,100C" {
		t.Errorf("limit line %q", lines[0])
	}
	if len(lines)-1 >= n {
		t.Errorf("%d usage lines for %d deliveries and an expunge: not batched\n%s", len(lines)-1, n, data)
	}
	b, m, ok := parseMaildirsize(data)
	if !ok || m != n-2 || b != (n-2)*int64(len(msg)) {
		t.Fatalf("maildirsize sums to %d bytes, %d messages (%v); want %d, %d\n%s", b, m, ok, (n-2)*len(msg), n-2, data)
	}

	s2, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	a2, _ := s2.Account(user)
	if b, m := a2.Usage(); m != n-2 || b != (n-2)*int64(len(msg)) {
		t.Fatalf("after restart: usage %d bytes, %d messages", b, m)
	}
}
