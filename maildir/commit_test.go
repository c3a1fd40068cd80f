package maildir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// durability records what the add path's fsyncs made durable: the
// records of dovecot-uidlist and the entries of directories as they were
// when an fsync that succeeded began.
type durability struct {
	mu      sync.Mutex
	records map[string]bool // bases with a durable uidlist record
	files   map[string]bool // durable directory entries, dir/name
	failDir error           // returned by the next directory fsync
}

// install replaces the add path's fsyncs by recording ones until the
// test ends. Tests that call it must not be parallel.
func (d *durability) install(t *testing.T) {
	d.records, d.files = map[string]bool{}, map[string]bool{}
	origFile, origDir := fsyncFile, syncDir
	t.Cleanup(func() { fsyncFile, syncDir = origFile, origDir })
	fsyncFile = func(fh *os.File) error {
		if filepath.Base(fh.Name()) != uidListFile {
			return origFile(fh)
		}
		data, err := os.ReadFile(fh.Name())
		if err != nil {
			return err
		}
		if err := origFile(fh); err != nil {
			return err
		}
		l, err := parseUIDList(data)
		if err != nil {
			return err
		}
		d.mu.Lock()
		for _, r := range l.recs {
			d.records[r.base] = true
		}
		d.mu.Unlock()
		return nil
	}
	syncDir = func(dir string) error {
		d.mu.Lock()
		fail := d.failDir
		d.failDir = nil
		d.mu.Unlock()
		if fail != nil {
			return fail
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if err := origDir(dir); err != nil {
			return err
		}
		d.mu.Lock()
		for _, e := range ents {
			d.files[filepath.Join(dir, e.Name())] = true
		}
		d.mu.Unlock()
		return nil
	}
}

// shownDurable reports why message m of f, in new/, was not durable
// when it was shown ("" if it was).
func (d *durability) shownDurable(f *Folder, m Message) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.records[m.Key] {
		return fmt.Sprintf("UID %d shown before its uidlist record was durable", m.UID)
	}
	if !d.files[filepath.Join(f.path("new"), m.Key)] {
		return fmt.Sprintf("UID %d shown before its file was durable in new/", m.UID)
	}
	return ""
}

// TestUIDShownOnlyWhenDurable: concurrent deliveries and APPENDs are
// shown to subscribers (and returned) only once the message's file and
// its dovecot-uidlist record are both on stable storage, in UID order.
func TestUIDShownOnlyWhenDurable(t *testing.T) {
	var d durability
	d.install(t)
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	var mu sync.Mutex
	var problems []string
	var last uint32
	events := 0
	_, _, cancel := f.Subscribe(func(ev Event) {
		if ev.Kind != EventNew {
			return
		}
		why := d.shownDurable(f, ev.Message)
		mu.Lock()
		defer mu.Unlock()
		events++
		if why != "" {
			problems = append(problems, why)
		}
		if ev.Message.UID <= last {
			problems = append(problems, fmt.Sprintf("UID %d shown after %d", ev.Message.UID, last))
		}
		last = ev.Message.UID
	})
	defer cancel()

	const workers, each = 8, 12
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := fmt.Sprintf("Subject: %d/%d\r\n\r\nbody\r\n", w, i)
				if w%4 == 3 {
					m, err := f.Append(strings.NewReader(msg), nil, time.Time{}, nil)
					if err != nil {
						errc <- err
						continue
					}
					if why := d.shownDurable(f, m); why != "" {
						errc <- errors.New("APPEND returned: " + why)
					}
					continue
				}
				errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []Target{{User: user}})
				if err == nil {
					err = errs[0]
				}
				if err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) != workers*each || events != workers*each {
		t.Fatalf("%d messages (%v), %d events, want %d", len(msgs), err, events, workers*each)
	}
}

// TestDeliverFsyncFailure: when the fsync covering a delivery fails, the
// delivery fails, nothing is shown and the file is removed; the UID it
// was given is never used again.
func TestDeliverFsyncFailure(t *testing.T) {
	var d durability
	d.install(t)
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	deliver(t, s, user, "Subject: one\r\n\r\n1\r\n")
	d.mu.Lock()
	d.failDir = syscall.EIO
	d.mu.Unlock()
	errs, err := s.Deliver(context.Background(), strings.NewReader("Subject: two\r\n\r\n2\r\n"), []Target{{User: user}})
	if err == nil || !errors.Is(errs[0], syscall.EIO) {
		t.Fatalf("delivery with a failing fsync: %v %v", err, errs)
	}
	deliver(t, s, user, "Subject: three\r\n\r\n3\r\n")
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 3 {
		t.Fatalf("messages %+v, %v; want UIDs 1 and 3", msgs, err)
	}
	for _, sub := range []string{"new", "tmp"} {
		ents, _ := os.ReadDir(f.path(sub))
		if want := map[string]int{"new": 2, "tmp": 0}[sub]; len(ents) != want {
			t.Errorf("%s/ holds %d files, want %d", sub, len(ents), want)
		}
	}
	// A new store (a restart) agrees.
	s2 := openTestStore(t, s.root)
	msgs2, _, err := testFolder(t, s2, user, "INBOX").Messages()
	if err != nil || len(msgs2) != 2 || msgs2[1].UID != 3 {
		t.Fatalf("after restart: %+v, %v", msgs2, err)
	}
}

// TestDeliverRenamesOrLinks: a delivery to one folder renames the spooled
// file (one link, tmp/ empty); to two folders it hard-links one file.
func TestDeliverRenamesOrLinks(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	users := []string{"anna@example.org", "bob@example.org"}
	deliver(t, s, users[0], "Subject: one\r\n\r\n1\r\n")
	errs, err := s.Deliver(context.Background(), strings.NewReader("Subject: two\r\n\r\n2\r\n"),
		[]Target{{User: users[0]}, {User: users[1]}})
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatal(err, errs)
	}
	wantLinks := map[string][]uint64{users[0]: {1, 2}, users[1]: {2}}
	for _, u := range users {
		f := testFolder(t, s, u, "INBOX")
		msgs, _, _ := f.Messages()
		var links []uint64
		for _, m := range msgs {
			st, err := os.Stat(f.path("new/" + m.Key))
			if err != nil {
				t.Fatal(err)
			}
			links = append(links, uint64(st.Sys().(*syscall.Stat_t).Nlink))
		}
		if fmt.Sprint(links) != fmt.Sprint(wantLinks[u]) {
			t.Errorf("%s: link counts %v, want %v", u, links, wantLinks[u])
		}
		if ents, _ := os.ReadDir(f.path("tmp")); len(ents) != 0 {
			t.Errorf("%s: tmp/ holds %d files", u, len(ents))
		}
	}
}
