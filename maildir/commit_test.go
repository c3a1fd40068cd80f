package maildir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/maildir/dovecot"
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
		if filepath.Base(fh.Name()) != dovecot.UIDListFile {
			return origFile(fh)
		}
		data, err := os.ReadFile(fh.Name())
		if err != nil {
			return err
		}
		if err := origFile(fh); err != nil {
			return err
		}
		l, err := dovecot.ParseUIDList(data)
		if err != nil {
			return err
		}
		d.mu.Lock()
		for _, r := range l.Records {
			d.records[r.Base] = true
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

// shownLog follows a folder's EventNew events and notes every message
// shown before it was durable, or out of UID order.
type shownLog struct {
	mu       sync.Mutex
	problems []string
	last     uint32
	events   int
}

// watch subscribes to f until the test ends.
func (d *durability) watch(t *testing.T, f *Folder) *shownLog {
	l := &shownLog{}
	_, _, cancel := f.Subscribe(func(ev Event) {
		if ev.Kind != EventNew {
			return
		}
		why := d.shownDurable(f, ev.Message)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events++
		if why != "" {
			l.problems = append(l.problems, why)
		}
		if ev.Message.UID <= l.last {
			l.problems = append(l.problems, fmt.Sprintf("UID %d shown after %d", ev.Message.UID, l.last))
		}
		l.last = ev.Message.UID
	})
	t.Cleanup(cancel)
	return l
}

// check fails the test for every problem noted, and unless want
// messages were shown and f holds them.
func (l *shownLog) check(t *testing.T, f *Folder, want int) {
	t.Helper()
	msgs, _, err := f.Messages()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.problems {
		t.Error(p)
	}
	if err != nil || len(msgs) != want || l.events != want {
		t.Errorf("%d messages (%v), %d events, want %d", len(msgs), err, l.events, want)
	}
}

// addConcurrently runs add(w, i) for i below each in workers goroutines
// w at once and fails the test for every error.
func addConcurrently(t *testing.T, workers, each int, add func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := add(w, i); err != nil {
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
	shown := d.watch(t, f)

	const workers, each = 8, 12
	addConcurrently(t, workers, each, func(w, i int) error {
		msg := fmt.Sprintf("Subject: %d/%d\r\n\r\nbody\r\n", w, i)
		if w%4 == 3 {
			m, err := f.Append(strings.NewReader(msg), nil, time.Time{}, nil)
			if err != nil {
				return err
			}
			if why := d.shownDurable(f, m); why != "" {
				return errors.New("APPEND returned: " + why)
			}
			return nil
		}
		return deliverTo(s, user, msg)
	})
	shown.check(t, f, workers*each)
}

// TestDeliverFsyncFailure: when the directory fsync covering a delivery
// fails, the delivery fails before it is numbered, the file is removed
// and nothing is shown; the next delivery takes the next UID.
func TestDeliverFsyncFailure(t *testing.T) {
	testAddFsyncFailure(t, func(s *Store, f *Folder, msg string) error {
		errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []Target{{User: f.acct.user}})
		if errs[0] != nil {
			return errs[0]
		}
		return err
	}, 2)
}

// TestAppendFsyncFailure: when the fsync covering an APPEND fails, the
// APPEND fails, nothing is shown and the file is removed; the UID it was
// given is never used again.
func TestAppendFsyncFailure(t *testing.T) {
	testAddFsyncFailure(t, func(s *Store, f *Folder, msg string) error {
		_, err := f.Append(strings.NewReader(msg), nil, time.Time{}, nil)
		return err
	}, 3)
}

// testAddFsyncFailure adds three messages to a folder by add, the second
// while directory fsyncs fail, and wants the first and third shown, as
// UIDs 1 and third (the failed add's UID is never reused), now and after a restart.
func testAddFsyncFailure(t *testing.T, add func(s *Store, f *Folder, msg string) error, third uint32) {
	var d durability
	d.install(t)
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	if err := add(s, f, "Subject: one\r\n\r\n1\r\n"); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.failDir = syscall.EIO
	d.mu.Unlock()
	if err := add(s, f, "Subject: two\r\n\r\n2\r\n"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("add with a failing fsync: %v", err)
	}
	if err := add(s, f, "Subject: three\r\n\r\n3\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != third {
		t.Fatalf("messages %+v, %v; want UIDs 1 and %d", msgs, err, third)
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
	if err != nil || len(msgs2) != 2 || msgs2[1].UID != third {
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

// TestDeferredNumbering: Deliver returns once
// the file is durable; the background committer then shows every
// delivery in UID order, each only once its record is durable too; Close
// waits for it, so that the uidlist lists every message.
func TestDeferredNumbering(t *testing.T) {
	var d durability
	d.install(t)
	root := t.TempDir()
	s, err := Open(root, Options{Hostname: "test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const user = "anna@example.org"
	f := testFolder(t, s, user, "INBOX")
	shown := d.watch(t, f)
	const workers, each = 8, 12
	addConcurrently(t, workers, each, func(w, i int) error {
		return deliverTo(s, user, fmt.Sprintf("Subject: %d/%d\r\n\r\nbody\r\n", w, i))
	})
	// Every file is durable in new/ as soon as its Deliver returned.
	ents, _ := os.ReadDir(f.path("new"))
	d.mu.Lock()
	for _, e := range ents {
		if !d.files[filepath.Join(f.path("new"), e.Name())] {
			t.Errorf("%s not durable after Deliver returned", e.Name())
		}
	}
	d.mu.Unlock()
	f.awaitDeferred()
	shown.check(t, f, workers*each)

	// Close waits for the committer: every delivery is in the uidlist.
	deliver(t, s, user, "Subject: last\r\n\r\nlast\r\n")
	s.Close()
	data, err := os.ReadFile(f.uidListPath())
	if err != nil {
		t.Fatal(err)
	}
	l, err := dovecot.ParseUIDList(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records) != workers*each+1 {
		t.Fatalf("uidlist after Close: %d records, want %d", len(l.Records), workers*each+1)
	}
}

// TestDeferredQuota: a deferred delivery counts against the quota as soon
// as Deliver returns, before it is numbered, and exactly once after.
func TestDeferredQuota(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{Hostname: "test", WatchInterval: -1,
		Quota: func(string) (int64, int64) { return 0, 3 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const user = "anna@example.org"
	const msg = "Subject: q\r\n\r\nbody\r\n"
	for range 3 {
		deliver(t, s, user, msg)
	}
	errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []Target{{User: user}})
	if err == nil || !errors.Is(errs[0], ErrOverQuota) {
		t.Fatalf("fourth delivery: %v %v, want over quota", err, errs)
	}
	f := testFolder(t, s, user, "INBOX")
	f.awaitDeferred()
	a, _ := s.Account(user)
	if b, n := a.Usage(); n != 3 || b != 3*int64(len(msg)) {
		t.Fatalf("usage %d bytes, %d messages; want %d, 3", b, n, 3*len(msg))
	}
	if msgs, _, _ := f.Messages(); len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
}

// deferredCrashEnv names the store root of TestDeferredCrash's child.
const deferredCrashEnv = "POSTERN_MAILDIR_DEFERRED_CRASH_CHILD"

// TestDeferredCrashChild is TestDeferredCrash's child process, run by it
// with deferredCrashEnv set (it does nothing otherwise): it delivers with
// for ever, printing "ok <n>" when the delivery of
// message n returned and "uid <user> <uid> <n>" when a UID was shown.
func TestDeferredCrashChild(t *testing.T) {
	root := os.Getenv(deferredCrashEnv)
	if root == "" {
		return
	}
	s, err := Open(root, Options{Hostname: "crash", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		out.Flush()
		mu.Unlock()
	}
	for ui, user := range crashUsers {
		f := testFolder(t, s, user, "INBOX")
		f.Subscribe(func(ev Event) {
			if ev.Kind != EventNew {
				return
			}
			// Runs with the folder locked: read the file, not the folder.
			data, err := os.ReadFile(f.path("new/" + ev.Message.Key))
			var n int
			if _, serr := fmt.Sscanf(string(data), "Message-ID: <%d@crash>", &n); err == nil && serr == nil {
				say("uid %d %d %d\n", ui, ev.Message.UID, n)
			}
		})
	}
	n, _ := strconv.Atoi(os.Getenv(deferredCrashEnv + "_FROM"))
	for ; ; n++ {
		to := []Target{{User: crashUsers[n%2]}}
		if n%3 == 0 {
			to = []Target{{User: crashUsers[0]}, {User: crashUsers[1]}}
		}
		errs, err := s.Deliver(context.Background(), strings.NewReader(crashMessage(n)), to)
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		say("ok %d\n", n)
	}
}

// TestDeferredCrash: a child delivering is
// killed with SIGKILL at random moments. After each kill a fresh store
// shows every acknowledged delivery exactly once and complete, and every
// UID the child showed still names the message it named (a UID shown
// before its record was durable could come back for another message).
func TestDeferredCrash(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	acked := map[int]bool{}
	uidOwner := map[string]map[uint32]int{}
	for _, u := range crashUsers {
		uidOwner[u] = map[uint32]int{}
	}
	next, shown := 0, 0
	for round := 0; round < 6; round++ {
		runKilledChild(t, "^TestDeferredCrashChild$", deferredCrashEnv, root, next, func(line string) {
			var n, ui int
			var uid uint32
			if _, err := fmt.Sscanf(line, "ok %d", &n); err == nil {
				acked[n] = true
				next = max(next, n+1)
			} else if _, err := fmt.Sscanf(line, "uid %d %d %d", &ui, &uid, &n); err == nil {
				if owner, ok := uidOwner[crashUsers[ui]][uid]; ok && owner != n {
					t.Fatalf("%s: UID %d shown for message %d, earlier for %d", crashUsers[ui], uid, n, owner)
				}
				uidOwner[crashUsers[ui]][uid] = n
				shown++
			}
		})
		next++
		checkAfterCrash(t, root, acked, uidOwner)
	}
	if len(acked) < 50 || shown < 50 {
		t.Fatalf("only %d deliveries acknowledged, %d UIDs shown", len(acked), shown)
	}
	t.Logf("%d acknowledged deliveries, %d UIDs shown", len(acked), shown)
}
