package maildir

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestDeliverReadFlagExpunge(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{Hostname: "test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errs, err := s.Deliver(context.Background(), strings.NewReader("Subject: hi\n\nbody\n"), []Target{{User: "anna@example.org"}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	a, _ := s.Account("anna@example.org")
	f, err := a.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, next, _ := f.Messages()
	if len(msgs) != 1 || msgs[0].UID != 1 || next != 2 || msgs[0].Size != 21 {
		t.Fatalf("messages %+v next %d", msgs, next)
	}
	rc, _, err := f.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "Subject: hi\r\n\r\nbody\r\n" {
		t.Fatalf("content %q", b)
	}
	if h, _ := f.Header(1); string(h) != "Subject: hi\r\n\r\n" {
		t.Fatalf("header %q", h)
	}
	ms, err := f.SetFlags([]uint32{1}, FlagsAdd, []string{`\Seen`, "work"}, nil)
	if err != nil || len(ms) != 1 || strings.Join(ms[0].Flags, " ") != `\Seen work` {
		t.Fatalf("flags %+v %v", ms, err)
	}
	if x, err := f.Expunge([]uint32{1, 7}, nil); err != nil || len(x) != 1 {
		t.Fatalf("expunge %v %v", x, err)
	}
	if b, n := a.Usage(); b != 0 || n != 0 {
		t.Fatalf("usage %d %d", b, n)
	}
	if _, err := a.Folder("a/../b"); err == nil {
		t.Fatal("bad name accepted")
	}
}
