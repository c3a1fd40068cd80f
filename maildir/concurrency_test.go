package maildir

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
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

// TestConcurrentOneFolder: deliverers, flaggers, an expunger and a mover
// work on one folder at once through two stores on one root (two
// processes' views). No message is lost or duplicated, both stores and a
// fresh one agree on every UID, and subscribers see consistent events.
func TestConcurrentOneFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1, err := Open(root, Options{Hostname: "one", WatchInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2 := openTestStore(t, root)
	const user = "anna@example.org"
	in1, arch1 := testFolder(t, s1, user, "INBOX"), testFolder(t, s1, user, "Archive")
	in2, arch2 := testFolder(t, s2, user, "INBOX"), testFolder(t, s2, user, "Archive")
	evIn, evArch := watchEvents(t, in1), watchEvents(t, arch1)

	const deliverers, perDeliverer = 4, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	maybeExpunged := map[int]bool{}
	stop := make(chan struct{})
	fail := make(chan error, 16)
	for d := 0; d < deliverers; d++ {
		s := []*Store{s1, s2}[d%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perDeliverer; i++ {
				n := d*perDeliverer + i
				msg := fmt.Sprintf("Message-ID: <%d@race>\nSubject: %d\n\nbody\n", n, n)
				if errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []Target{{User: user}}); err != nil || errs[0] != nil {
					fail <- fmt.Errorf("deliver %d: %v %v", n, err, errs)
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
	for _, f := range []*Folder{in1, in2} {
		worker(func() error {
			op := FlagOp(rand.IntN(3))
			_, err := f.SetFlags(randomUIDs(f, 3), op, []string{kws[rand.IntN(len(kws))]}, nil)
			return err
		})
	}
	worker(func() error {
		uids := randomUIDs(in1, 1)
		if len(uids) == 0 || rand.IntN(4) != 0 {
			return nil
		}
		h, err := in1.Header(uids[0])
		if err != nil {
			return nil // gone meanwhile
		}
		var n int
		fmt.Sscanf(string(h), "Message-ID: <%d@race>", &n)
		mu.Lock()
		maybeExpunged[n] = true
		mu.Unlock()
		_, err = in1.Expunge(uids, nil)
		return err
	})
	worker(func() error {
		_, _, err := in2.Move(randomUIDs(in2, 2), arch2, nil)
		return err
	})
	worker(func() error {
		_, _, err := arch1.Move(randomUIDs(arch1, 1), in1, nil)
		return err
	})
	wg.Wait()
	close(stop)
	helpers.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}

	for _, f := range []*Folder{in1, arch1, in2, arch2} {
		if err := f.Rescan(); err != nil {
			t.Fatal(err)
		}
	}
	s3 := openTestStore(t, root)
	seen := map[int]string{}
	for _, name := range []string{"INBOX", "Archive"} {
		views := []map[uint32]int{
			messageIDs(t, testFolder(t, s1, user, name)),
			messageIDs(t, testFolder(t, s2, user, name)),
			messageIDs(t, testFolder(t, s3, user, name)),
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
	for n := 0; n < deliverers*perDeliverer; n++ {
		if _, ok := seen[n]; !ok && !maybeExpunged[n] {
			t.Errorf("message %d lost", n)
		}
	}
	for name, c := range map[string]*eventChecker{"INBOX": evIn, "Archive": evArch} {
		c.mu.Lock()
		if len(c.errs) > 0 {
			t.Errorf("%s events: %v", name, c.errs)
		}
		f := testFolder(t, s1, user, name)
		msgs, _, _ := f.Messages()
		if len(msgs) != len(c.uids) {
			t.Errorf("%s: events leave %d messages, folder has %d", name, len(c.uids), len(msgs))
		}
		c.mu.Unlock()
	}
	t.Logf("%d messages left, %d events", len(seen), evIn.count+evArch.count)
}
