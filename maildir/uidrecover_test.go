package maildir

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"postern/maildir/dovecot"
)

// TestUIDListRecovery: after dovecot-uidlist is truncated, garbled or
// deleted by someone else, a new Store keeps every UID and the
// UIDVALIDITY, and new messages get UIDs above all of them.
func TestUIDListRecovery(t *testing.T) {
	t.Parallel()
	damage := map[string]func(t *testing.T, path string, data []byte){
		"truncated mid-record": func(t *testing.T, path string, data []byte) {
			third := bytes.Index(data, []byte("\n3 "))
			if err := os.Truncate(path, int64(third+5)); err != nil {
				t.Fatal(err)
			}
		},
		"truncated to the header": func(t *testing.T, path string, data []byte) {
			if err := os.Truncate(path, int64(bytes.IndexByte(data, '\n')+1)); err != nil {
				t.Fatal(err)
			}
		},
		"garbage in place": func(t *testing.T, path string, data []byte) {
			fh, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.Write([]byte("\x00\x01garbage\xff\n\n:::\n"))
			fh.Close()
		},
		"garbage header, records kept": func(t *testing.T, path string, data []byte) {
			nl := bytes.IndexByte(data, '\n')
			bad := append([]byte("3 Vxyz N?\n"), data[nl+1:]...)
			bad = append(bad, "x17 :not a record\n"...)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"deleted": func(t *testing.T, path string, data []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		},
		"empty": func(t *testing.T, path string, data []byte) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			s1 := openTestStore(t, root)
			f1 := testFolder(t, s1, "anna@example.org", "INBOX")
			for i := range 5 {
				deliver(t, s1, "anna@example.org", fmt.Sprintf("Subject: %d\n\nx\n", i))
			}
			// Expunge one so the highest UID must be remembered too.
			if _, err := f1.Expunge([]uint32{5}, nil); err != nil {
				t.Fatal(err)
			}
			want, _, _ := f1.Messages()
			validity := f1.UIDValidity()
			s1.Close()
			path := filepath.Join(root, "example.org", "anna", dovecot.UIDListFile)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, path, data)

			s2 := openTestStore(t, root)
			f2 := testFolder(t, s2, "anna@example.org", "INBOX")
			got, next, _ := f2.Messages()
			if f2.UIDValidity() != validity {
				t.Errorf("UIDVALIDITY %d, want %d", f2.UIDValidity(), validity)
			}
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].UID != want[i].UID || got[i].Key != want[i].Key {
					t.Errorf("message %d: UID %d %s, want %d %s", i, got[i].UID, got[i].Key, want[i].UID, want[i].Key)
				}
			}
			if next != 6 {
				t.Errorf("UIDNEXT %d, want 6", next)
			}
			deliver(t, s2, "anna@example.org", "Subject: after\n\ny\n")
			// The rewritten file is whole again: a third store agrees.
			s3 := openTestStore(t, root)
			got3, next3, _ := testFolder(t, s3, "anna@example.org", "INBOX").Messages()
			if len(got3) != 5 || got3[4].UID != 6 || next3 != 7 {
				t.Fatalf("after rebuild and a delivery: %+v next %d", got3, next3)
			}
			if data, _ := os.ReadFile(path); !bytes.HasPrefix(data, []byte(fmt.Sprintf("3 V%d N", validity))) {
				t.Fatalf("rewritten uidlist %q", data)
			}
		})
	}
}

// TestUIDListLostWhileOpen: a uidlist deleted under a running store is
// written again from memory, keeping UIDs and UIDVALIDITY.
func TestUIDListLostWhileOpen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openTestStore(t, root)
	f := testFolder(t, s, "anna@example.org", "INBOX")
	deliver(t, s, "anna@example.org", "Subject: a\n\nx\n")
	deliver(t, s, "anna@example.org", "Subject: b\n\nx\n")
	validity := f.UIDValidity()
	os.Remove(f.uidListPath())
	os.Remove(f.goodCopyPath())
	deliver(t, s, "anna@example.org", "Subject: c\n\nx\n")
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, "anna@example.org", "INBOX")
	msgs, next, _ := f2.Messages()
	if f2.UIDValidity() != validity || len(msgs) != 3 || msgs[2].UID != 3 || next != 4 {
		t.Fatalf("validity %d (want %d), messages %+v, next %d", f2.UIDValidity(), validity, msgs, next)
	}
}

// TestUIDListRecreatedFolderNotMerged: a uidlist with another
// UIDVALIDITY (the folder was really recreated) takes no records from
// the old copy.
func TestUIDListRecreatedFolderNotMerged(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1 := openTestStore(t, root)
	f1 := testFolder(t, s1, "anna@example.org", "INBOX")
	deliver(t, s1, "anna@example.org", "Subject: a\n\nx\n")
	s1.Close()
	msgs, _, _ := f1.Messages()
	// Recreated: the old message is gone, a new one has UID 1 in a new
	// UIDVALIDITY.
	os.Remove(filepath.Join(f1.dir, "new", msgs[0].Key))
	base := "1700000000.M1P1.other,S=3,W=3"
	os.WriteFile(filepath.Join(f1.dir, "new", base), []byte("x\r\n"), 0o600)
	os.WriteFile(f1.uidListPath(), []byte("3 V42 N2 Gx\n1 :"+base+"\n"), 0o600)
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, "anna@example.org", "INBOX")
	got, next, _ := f2.Messages()
	if f2.UIDValidity() != 42 || len(got) != 1 || got[0].UID != 1 || got[0].Key != base || next != 2 {
		t.Fatalf("validity %d, %+v, next %d", f2.UIDValidity(), got, next)
	}
}
