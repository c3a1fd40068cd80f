package maildir

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestEnvelopeHeaderFields(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"From: a@b\r\nX-Spam: yes\r\nSubject: hi\r\n there\r\n\r\nbody\r\n", "From: a@b\r\nSubject: hi\r\n there\r\n\r\n"},
		{"received: x\r\n y\r\nMESSAGE-ID: <1@x>\r\nto : c@d\r\n\r\n", "MESSAGE-ID: <1@x>\r\nto : c@d\r\n\r\n"},
		{"Subject: no blank line, no body", "Subject: no blank line, no body\r\n\r\n"},
		{"\r\nSubject: in the body\r\n", "\r\n"},
		{"Date: Mon, 2 Mar 2026 10:00:00 +0000\nCc: lf@only\n\nbody", "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nCc: lf@only\r\n\r\n"},
		{"garbage line without colon\r\nIn-Reply-To: <a@b>\r\n\r\n", "In-Reply-To: <a@b>\r\n\r\n"},
	} {
		if got := string(envelopeHeader([]byte(tc.in))); got != tc.want {
			t.Errorf("envelopeHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// hcMessage is test message i with envelope fields and others.
func hcMessage(i int) string {
	return fmt.Sprintf("Received: from x\r\n\tby y\r\nFrom: Sender %d <s%d@example.net>\r\nTo: u@example.org\r\n"+
		"Subject: message %d\r\nMessage-ID: <%d@test>\r\nX-Other: %d\r\n\r\nbody %d\r\n", i, i, i, i, i, i)
}

// deliverMessages delivers hcMessage(1) to hcMessage(n) to user.
func deliverMessages(t *testing.T, s *Store, user string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		deliver(t, s, user, hcMessage(i))
	}
}

// fillHeaderCache reads the envelope header of UIDs 1 to n, filling the
// header cache.
func fillHeaderCache(t *testing.T, f *Folder, n uint32) {
	t.Helper()
	for uid := uint32(1); uid <= n; uid++ {
		if _, err := f.EnvelopeHeader(uid); err != nil {
			t.Fatal(err)
		}
	}
}

func hcWant(i int) string {
	return fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: u@example.org\r\nSubject: message %d\r\nMessage-ID: <%d@test>\r\n\r\n", i, i, i, i)
}

// overwriteMessages replaces every message file's content in place (the
// same names), so that a header served afterwards can only come from the
// cache.
func overwriteMessages(t *testing.T, dir string) {
	t.Helper()
	for _, rel := range messageFiles(t, dir) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte("Subject: overwritten\r\n\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHeaderCacheServesAndPersists(t *testing.T) {
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 5)
	f := testFolder(t, s, user, "INBOX")
	for uid := uint32(1); uid <= 5; uid++ {
		h, err := f.EnvelopeHeader(uid)
		if err != nil || string(h) != hcWant(int(uid)) {
			t.Fatalf("uid %d: %q %v", uid, h, err)
		}
	}
	if _, err := f.EnvelopeHeader(99); err == nil {
		t.Fatal("no error for a missing UID")
	}
	overwriteMessages(t, f.dir)
	// A new process (store) reads the cache file.
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, user, "INBOX")
	for uid := uint32(1); uid <= 5; uid++ {
		h, err := f2.EnvelopeHeader(uid)
		if err != nil || string(h) != hcWant(int(uid)) {
			t.Fatalf("uid %d from the cache file: %q %v", uid, h, err)
		}
	}
}

func TestHeaderCacheTornAndForeign(t *testing.T) {
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 4)
	f := testFolder(t, s, user, "INBOX")
	fillHeaderCache(t, f, 4)
	path := f.path(headerCacheFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Torn: the last record loses its last bytes. The others stay
	// cached; the torn one is read from its file again.
	if err := os.WriteFile(path, data[:len(data)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	overwriteMessages(t, f.dir)
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, user, "INBOX")
	for uid := uint32(1); uid <= 3; uid++ {
		if h, err := f2.EnvelopeHeader(uid); err != nil || string(h) != hcWant(int(uid)) {
			t.Fatalf("uid %d: %q %v", uid, h, err)
		}
	}
	if h, err := f2.EnvelopeHeader(4); err != nil || string(h) != "Subject: overwritten\r\n\r\n" {
		t.Fatalf("torn record: %q %v", h, err)
	}
	// A cache for another UIDVALIDITY is ignored and started afresh.
	data, _ = os.ReadFile(path)
	binary.LittleEndian.PutUint32(data[8:], 12345)
	os.WriteFile(path, data, 0o600)
	s3 := openTestStore(t, root)
	f3 := testFolder(t, s3, user, "INBOX")
	if h, err := f3.EnvelopeHeader(1); err != nil || string(h) != "Subject: overwritten\r\n\r\n" {
		t.Fatalf("foreign cache used: %q %v", h, err)
	}
	data, _ = os.ReadFile(path)
	if binary.LittleEndian.Uint32(data[8:]) != f3.UIDValidity() {
		t.Fatal("cache not restarted for this UIDVALIDITY")
	}
	// Garbage instead of a cache.
	os.WriteFile(path, []byte("not a cache"), 0o600)
	s4 := openTestStore(t, root)
	f4 := testFolder(t, s4, user, "INBOX")
	if h, err := f4.EnvelopeHeader(2); err != nil || string(h) != "Subject: overwritten\r\n\r\n" {
		t.Fatalf("garbage cache: %q %v", h, err)
	}
}

// A record whose UID now names another file (the uidlist was rebuilt
// differently) is not served.
func TestHeaderCacheChecksBase(t *testing.T) {
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliver(t, s, user, hcMessage(1))
	f := testFolder(t, s, user, "INBOX")
	if _, err := f.EnvelopeHeader(1); err != nil {
		t.Fatal(err)
	}
	c := &f.hc
	c.mu.Lock()
	if _, ok := c.lookup(1, "another-base"); ok {
		t.Fatal("record served for another base")
	}
	c.mu.Unlock()
}

func TestHeaderCacheCompaction(t *testing.T) {
	old := hcMinDead
	hcMinDead = 5
	t.Cleanup(func() { hcMinDead = old })
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 30)
	f := testFolder(t, s, user, "INBOX")
	fillHeaderCache(t, f, 30)
	var gone []uint32
	for uid := uint32(1); uid <= 24; uid++ {
		gone = append(gone, uid)
	}
	if _, err := f.Expunge(gone, nil); err != nil {
		t.Fatal(err)
	}
	path := f.path(headerCacheFile)
	before, _ := os.Stat(path)
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, user, "INBOX")
	for uid := uint32(25); uid <= 30; uid++ {
		if h, err := f2.EnvelopeHeader(uid); err != nil || string(h) != hcWant(int(uid)) {
			t.Fatalf("uid %d after compaction: %q %v", uid, h, err)
		}
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size()/2 {
		t.Fatalf("cache not compacted: %d -> %d bytes", before.Size(), after.Size())
	}
	if f2.hc.total != 6 || len(f2.hc.recs) != 6 {
		t.Fatalf("after compaction: %d records, %d live", f2.hc.total, len(f2.hc.recs))
	}
	overwriteMessages(t, f2.dir)
	s3 := openTestStore(t, root)
	f3 := testFolder(t, s3, user, "INBOX")
	if h, err := f3.EnvelopeHeader(27); err != nil || string(h) != hcWant(27) {
		t.Fatalf("compacted file: %q %v", h, err)
	}
}

// Concurrent readers, deliveries and expunges (run under -race).
func TestHeaderCacheConcurrent(t *testing.T) {
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 20)
	f := testFolder(t, s, user, "INBOX")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				msgs, _, _ := f.Messages()
				for _, m := range msgs {
					h, err := f.EnvelopeHeader(m.UID)
					if err != nil {
						continue // expunged meanwhile
					}
					if !bytes.HasPrefix(h, []byte("From: Sender ")) {
						errs <- fmt.Errorf("uid %d: %q", m.UID, h)
						return
					}
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 21; i <= 40; i++ {
			deliver(t, s, user, hcMessage(i))
		}
	}()
	go func() {
		defer wg.Done()
		for uid := uint32(1); uid <= 10; uid++ {
			f.Expunge([]uint32{uid}, nil)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	msgs, _, _ := f.Messages()
	for _, m := range msgs {
		h, err := f.EnvelopeHeader(m.UID)
		if err != nil || !strings.Contains(string(h), fmt.Sprintf("Message-ID: <%d@test>", m.UID)) {
			t.Fatalf("uid %d: %q %v", m.UID, h, err)
		}
	}
}

// The cache file cut short by hand under a running process's mapping:
// the records are read from the messages again, without a crash.
func TestHeaderCacheTruncatedUnderMapping(t *testing.T) {
	root := t.TempDir()
	const user = "hc@example.org"
	s := openTestStore(t, root)
	deliverMessages(t, s, user, 3)
	f := testFolder(t, s, user, "INBOX")
	for uid := uint32(1); uid <= 3; uid++ {
		f.EnvelopeHeader(uid)
	}
	// A new store maps the file with its three records.
	s2 := openTestStore(t, root)
	f2 := testFolder(t, s2, user, "INBOX")
	if h, err := f2.EnvelopeHeader(1); err != nil || string(h) != hcWant(1) {
		t.Fatalf("%q %v", h, err)
	}
	if len(f2.hc.mm) == 0 {
		t.Fatal("cache file not mapped")
	}
	if err := os.Truncate(f.path(headerCacheFile), 0); err != nil {
		t.Fatal(err)
	}
	for uid := uint32(2); uid <= 3; uid++ {
		if h, err := f2.EnvelopeHeader(uid); err != nil || string(h) != hcWant(int(uid)) {
			t.Fatalf("uid %d after truncation: %q %v", uid, h, err)
		}
	}
}
