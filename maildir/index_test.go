package maildir

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"reflect"
	"testing"
	"time"

	"postern/maildir/dovecot"
)

// noDirtyWindow trusts a scan at once (the tests do not wait a second).
func noDirtyWindow(t *testing.T) {
	old := dirtyWindow
	dirtyWindow = 0
	t.Cleanup(func() { dirtyWindow = old })
}

// indexFixture fills user's INBOX with messages in new/ and cur/, flags,
// keywords and expunged ones (dead uidlist records), and closes the
// store, which writes the index.
func indexFixture(t *testing.T, root, user string) {
	t.Helper()
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 12)
	f := testFolder(t, s, user, "INBOX")
	if _, err := f.SetFlags([]uint32{2, 3, 5}, FlagsAdd, []string{`\Seen`, "$Work"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetFlags([]uint32{7}, FlagsAdd, []string{`\Flagged`}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Expunge([]uint32{4, 9}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// folderState is what a folder shows: messages and UID header.
func folderState(t *testing.T, f *Folder) ([]Message, dovecot.UIDHeader) {
	t.Helper()
	msgs, _, err := f.Messages()
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return msgs, f.ul.hdr
}

func TestIndexOpensLikeAScan(t *testing.T) {
	noDirtyWindow(t)
	root := t.TempDir()
	const user = "ix@example.org"
	indexFixture(t, root, user)
	s := openTestStore(t, root)
	f := testFolder(t, s, user, "INBOX")
	if f.indexed == (ixStamps{}) {
		t.Fatal("index not used")
	}
	gotMsgs, gotHdr := folderState(t, f)
	known := f.ul.known

	// The same folder scanned without the index.
	if err := os.Remove(f.path(indexFile)); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, user, "INBOX")
	if f2.indexed != (ixStamps{}) {
		t.Fatal("index used after removal")
	}
	wantMsgs, wantHdr := folderState(t, f2)
	if !reflect.DeepEqual(gotMsgs, wantMsgs) || gotHdr != wantHdr {
		t.Fatalf("from the index:\n%+v %+v\nscanned:\n%+v %+v", gotMsgs, gotHdr, wantMsgs, wantHdr)
	}
	if !reflect.DeepEqual(known, f2.ul.known) {
		t.Fatalf("known records: index %v, scan %v", known, f2.ul.known)
	}
	if len(known) != 12 {
		t.Fatalf("%d known records, want 12 (2 dead)", len(known))
	}
	// A folder opened from the index works on: a delivery gets the next UID.
	deliver(t, s, user, hcMessage(13))
	if msgs, next, _ := f.Messages(); msgs[len(msgs)-1].UID != 13 || next != 14 {
		t.Fatalf("after the index: last UID %d, UIDNEXT %d", msgs[len(msgs)-1].UID, next)
	}
}

func TestIndexNotUsedWhenStale(t *testing.T) {
	noDirtyWindow(t)
	root := t.TempDir()
	const user = "ix@example.org"
	indexFixture(t, root, user)
	// Another process changes the folder after the index was written,
	// without writing a new index (it is killed).
	other := openTestStore(t, root)
	f := testFolder(t, other, user, "INBOX")
	if f.indexed == (ixStamps{}) {
		t.Fatal("index not used")
	}
	for _, change := range []struct {
		name string
		do   func()
	}{
		{"delivery", func() { deliver(t, other, user, hcMessage(20)) }},
		{"flags", func() { f.SetFlags([]uint32{1}, FlagsAdd, []string{`\Answered`}, nil) }},
		{"expunge", func() { f.Expunge([]uint32{2}, nil) }},
	} {
		time.Sleep(20 * time.Millisecond) // past the timestamp tick of the last change
		change.do()
		want, _ := folderState(t, f)
		s := openTestStore(t, root)
		g := testFolder(t, s, user, "INBOX")
		if g.indexed != (ixStamps{}) {
			t.Fatalf("%s: stale index used", change.name)
		}
		got, _ := folderState(t, g)
		for i := range got {
			got[i].Recent, want[i].Recent = false, false
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: opened %+v, want %+v", change.name, got, want)
		}
	}
}

func TestIndexDirtyWindow(t *testing.T) {
	root := t.TempDir()
	const user = "ix@example.org"
	s := openTestStore(t, root)
	deliver(t, s, user, hcMessage(1))
	s.Close() // new/ changed just now: no index can be trusted
	f := testFolder(t, s, user, "INBOX")
	if _, err := os.Stat(f.path(indexFile)); !os.IsNotExist(err) {
		t.Fatalf("index written for a directory changed within the dirty window: %v", err)
	}
}

func TestIndexBrokenIgnored(t *testing.T) {
	noDirtyWindow(t)
	root := t.TempDir()
	const user = "ix@example.org"
	indexFixture(t, root, user)
	s := openTestStore(t, root)
	path := testFolder(t, s, user, "INBOX").path(indexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), data...); b[len(b)/2] ^= 1; return b }(),
		"truncated":    data[:len(data)-10],
		"empty":        {},
	} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		s := openTestStore(t, root)
		f := testFolder(t, s, user, "INBOX")
		if f.indexed != (ixStamps{}) {
			t.Fatalf("%s: broken index used", name)
		}
		if msgs, _, _ := f.Messages(); len(msgs) != 10 {
			t.Fatalf("%s: %d messages", name, len(msgs))
		}
	}
}

// FuzzIndex: any index content (with a valid checksum) decodes without
// panic, and what decodes has increasing UIDs below UIDNEXT.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(ixMagic))
	w := &ixWriter{b: []byte(ixMagic)}
	for i := 0; i < 6; i++ {
		w.i64(int64(i))
	}
	for _, v := range []uint32{3, 7, 9, 1} {
		w.u32(v)
	}
	w.str("guid")
	w.str("")
	w.u32(1)
	w.u32(8)
	w.u8(1)
	w.i64(100)
	w.i64(1700000000)
	w.str("1.M1P1Q1.h,S=100,W=100")
	w.str("2,S")
	w.u32(0)
	w.u32(0)
	f.Add(w.b)
	f.Fuzz(func(t *testing.T, body []byte) {
		data := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, crcTable))
		_, ul, msgs, err := decodeIndex(data)
		if err != nil {
			return
		}
		var last uint32
		for _, e := range msgs {
			if e.uid <= last || e.uid >= ul.hdr.Next || ul.known[e.base] == 0 {
				t.Fatalf("entry %+v after %d, next %d", e, last, ul.hdr.Next)
			}
			last = e.uid
		}
	})
}
