package maildir

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// eventChecker follows one folder's events from a snapshot and fails on
// any event that does not fit: a new UID not above every earlier one, an
// EXPUNGE or flag change for a UID not present.
type eventChecker struct {
	mu     sync.Mutex
	uids   map[uint32]bool
	maxUID uint32
	errs   []string
	count  int
}

func watchEvents(t *testing.T, f *Folder) *eventChecker {
	c := &eventChecker{uids: map[uint32]bool{}}
	snap, _, cancel := f.Subscribe(c.on)
	t.Cleanup(cancel)
	c.mu.Lock()
	for _, m := range snap {
		c.uids[m.UID] = true
		c.maxUID = max(c.maxUID, m.UID)
	}
	c.mu.Unlock()
	return c
}

func (c *eventChecker) on(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	uid := ev.Message.UID
	switch ev.Kind {
	case EventNew:
		if c.uids[uid] {
			c.errs = append(c.errs, fmt.Sprintf("new UID %d twice", uid))
		}
		if uid <= c.maxUID {
			c.errs = append(c.errs, fmt.Sprintf("new UID %d after %d", uid, c.maxUID))
		}
		c.uids[uid] = true
		c.maxUID = max(c.maxUID, uid)
	case EventExpunge:
		if !c.uids[uid] {
			c.errs = append(c.errs, fmt.Sprintf("EXPUNGE of absent UID %d", uid))
		}
		delete(c.uids, uid)
	case EventFlags:
		if !c.uids[uid] {
			c.errs = append(c.errs, fmt.Sprintf("flags of absent UID %d", uid))
		}
	}
}

// messageIDs reads every message of f and returns message number by UID.
func messageIDs(t *testing.T, f *Folder) map[uint32]int {
	t.Helper()
	msgs, _, err := f.Messages()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]int{}
	var last uint32
	for _, m := range msgs {
		if m.UID <= last {
			t.Fatalf("%s: UID %d after %d", f.Name(), m.UID, last)
		}
		last = m.UID
		h, err := f.Header(m.UID)
		if err != nil {
			t.Fatalf("%s UID %d: %v", f.Name(), m.UID, err)
		}
		var n int
		if _, err := fmt.Sscanf(string(h), "Message-ID: <%d@race>", &n); err != nil {
			t.Fatalf("%s UID %d: header %q", f.Name(), m.UID, h)
		}
		out[m.UID] = n
	}
	return out
}

// Each store's share of the concurrency tests (raceWorkload): two
// deliverers of racePerDeliverer messages each, a flagger, an expunger
// and movers both ways between INBOX and Archive, all at once.
const (
	raceUser         = "anna@example.org"
	racePerDeliverer = 25
	racePerStore     = 2 * racePerDeliverer
)

// raceMessage returns message n of the concurrency tests.
func raceMessage(n int) string {
	return fmt.Sprintf("Message-ID: <%d@race>\nSubject: %d\n\nbody\n", n, n)
}

// raceWorkload runs one store's share of the concurrency tests until its
// deliveries (messages first to first+racePerStore-1) are done, telling
// maybeExpunged of every message it may have expunged.
func raceWorkload(s *Store, first int, maybeExpunged func(n int)) error {
	a, err := s.Account(raceUser)
	if err != nil {
		return err
	}
	in, err := a.Folder("INBOX")
	if err != nil {
		return err
	}
	arch, err := a.Folder("Archive")
	if err != nil {
		return err
	}
	fail := make(chan error, 16)
	var wg sync.WaitGroup
	for d := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range racePerDeliverer {
				n := first + d*racePerDeliverer + i
				if err := deliverTo(s, raceUser, raceMessage(n)); err != nil {
					fail <- fmt.Errorf("deliver %d: %w", n, err)
					return
				}
			}
		}()
	}
	randomUIDs := func(f *Folder, k int) []uint32 {
		msgs, _, _ := f.Messages()
		var out []uint32
		for range k {
			if len(msgs) > 0 {
				out = append(out, msgs[rand.IntN(len(msgs))].UID)
			}
		}
		return out
	}
	stop := make(chan struct{})
	var helpers sync.WaitGroup
	worker := func(fn func() error) {
		helpers.Add(1)
		go func() {
			defer helpers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(); err != nil {
					fail <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	kws := []string{`\Seen`, `\Flagged`, "$Work", "later", `\Answered`}
	worker(func() error {
		op := FlagOp(rand.IntN(3))
		_, err := in.SetFlags(randomUIDs(in, 3), op, []string{kws[rand.IntN(len(kws))]}, nil)
		return err
	})
	worker(func() error {
		uids := randomUIDs(in, 1)
		if len(uids) == 0 || rand.IntN(4) != 0 {
			return nil
		}
		h, err := in.Header(uids[0])
		if err != nil {
			return nil // gone meanwhile
		}
		var n int
		fmt.Sscanf(string(h), "Message-ID: <%d@race>", &n)
		maybeExpunged(n)
		_, err = in.Expunge(uids, nil)
		return err
	})
	worker(func() error {
		_, _, err := in.Move(randomUIDs(in, 2), arch, nil)
		return err
	})
	worker(func() error {
		_, _, err := arch.Move(randomUIDs(arch, 1), in, nil)
		return err
	})
	wg.Wait()
	close(stop)
	helpers.Wait()
	close(fail)
	return <-fail
}

// expungeLog collects the messages the workloads may have expunged.
type expungeLog struct {
	mu sync.Mutex
	n  map[int]bool
}

func (l *expungeLog) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[int]bool{}
	}
	l.n[n] = true
}

// checkRace checks the end state of a concurrency test whose workloads
// delivered the messages numbered from each of firsts: after a rescan
// every store in stores and a fresh one see the same UIDs and messages in
// INBOX and Archive, no message is there twice, none is lost (but those
// maybe expunged), and the events of checkers (by folder name, following
// stores[0]) are consistent with the folders.
func checkRace(t *testing.T, root string, stores []*Store, firsts []int, expunged *expungeLog, checkers map[string]*eventChecker) {
	t.Helper()
	for _, s := range stores {
		for _, name := range []string{"INBOX", "Archive"} {
			if err := testFolder(t, s, raceUser, name).Rescan(); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := append(slices.Clone(stores), openTestStore(t, root))
	seen := map[int]string{}
	for _, name := range []string{"INBOX", "Archive"} {
		var views []map[uint32]int
		for _, s := range all {
			views = append(views, messageIDs(t, testFolder(t, s, raceUser, name)))
		}
		for i := 1; i < len(views); i++ {
			if fmt.Sprint(views[i]) != fmt.Sprint(views[0]) {
				t.Errorf("%s: store %d sees %v, store 1 %v", name, i+1, views[i], views[0])
			}
		}
		for uid, n := range views[0] {
			if where, dup := seen[n]; dup {
				t.Errorf("message %d twice: %s and %s UID %d", n, where, name, uid)
			}
			seen[n] = fmt.Sprintf("%s UID %d", name, uid)
		}
	}
	for _, first := range firsts {
		for n := first; n < first+racePerStore; n++ {
			if _, ok := seen[n]; !ok && !expunged.n[n] {
				t.Errorf("message %d lost", n)
			}
		}
	}
	events := 0
	for name, c := range checkers {
		c.mu.Lock()
		if len(c.errs) > 0 {
			t.Errorf("%s events: %v", name, c.errs)
		}
		msgs, _, _ := testFolder(t, stores[0], raceUser, name).Messages()
		if len(msgs) != len(c.uids) {
			t.Errorf("%s: events leave %d messages, folder has %d", name, len(c.uids), len(msgs))
		}
		events += c.count
		c.mu.Unlock()
	}
	t.Logf("%d messages left, %d events", len(seen), events)
}

// raceObserver opens the store of root whose INBOX and Archive the
// concurrency tests follow, with a watcher for the other process's
// changes, and their event checkers by folder name.
func raceObserver(t *testing.T, root string) (*Store, map[string]*eventChecker) {
	s, err := Open(root, Options{Hostname: "observer", WatchInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, map[string]*eventChecker{
		"INBOX":   watchEvents(t, testFolder(t, s, raceUser, "INBOX")),
		"Archive": watchEvents(t, testFolder(t, s, raceUser, "Archive")),
	}
}

// TestConcurrentOneFolder: deliverers, flaggers, expungers and movers
// work on one folder at once through two stores on one root (two
// processes' views, in one process for the race detector). No message is
// lost or duplicated, both stores and a fresh one agree on every UID, and
// subscribers see consistent events, new UIDs in increasing order.
func TestConcurrentOneFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1, checkers := raceObserver(t, root)
	s2 := openTestStore(t, root)
	var expunged expungeLog
	errc := make(chan error, 2)
	for i, s := range []*Store{s1, s2} {
		go func() { errc <- raceWorkload(s, i*racePerStore, expunged.add) }()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	checkRace(t, root, []*Store{s1, s2}, []int{0, racePerStore}, &expunged, checkers)
}
