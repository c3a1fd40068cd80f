package maildir

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// viewOf is a subscriber like imapd's mailbox view: its callback takes
// the view's own lock, which callers also hold while they read the view.
// It checks what a view relies on: EventNew UIDs only grow, no event
// names a UID after its expunge, none repeats an add.
type viewOf struct {
	mu      sync.Mutex
	uids    map[uint32]bool
	gone    map[uint32]bool
	maxUID  uint32
	errs    []string
	pending []Event // delivered before the snapshot was installed
	ready   bool
}

func (v *viewOf) onEvent(ev Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready {
		v.pending = append(v.pending, ev)
		return
	}
	v.applyLocked(ev)
}

func (v *viewOf) applyLocked(ev Event) {
	uid := ev.Message.UID
	if v.gone[uid] {
		v.errs = append(v.errs, fmt.Sprintf("event %d for UID %d after its expunge", ev.Kind, uid))
	}
	switch ev.Kind {
	case EventNew:
		if v.uids[uid] {
			v.errs = append(v.errs, fmt.Sprintf("UID %d added twice", uid))
		}
		if uid <= v.maxUID {
			v.errs = append(v.errs, fmt.Sprintf("UID %d shown after UID %d", uid, v.maxUID))
		}
		v.uids[uid], v.maxUID = true, max(v.maxUID, uid)
	case EventExpunge:
		delete(v.uids, uid)
		v.gone[uid] = true
	}
}

// subscribeView subscribes a view to f the way imapd does: the snapshot
// is installed after Subscribe returns, with no lock held during it.
func subscribeView(f *Folder) (*viewOf, func()) {
	v := &viewOf{uids: map[uint32]bool{}, gone: map[uint32]bool{}}
	snap, _, cancel := f.Subscribe(v.onEvent)
	v.mu.Lock()
	for _, m := range snap {
		v.uids[m.UID], v.maxUID = true, max(v.maxUID, m.UID)
	}
	v.ready = true
	for _, ev := range v.pending {
		v.applyLocked(ev)
	}
	v.pending = nil
	v.mu.Unlock()
	return v, cancel
}

// has reports whether the view holds or held uid (another worker may
// have moved or expunged it since).
func (v *viewOf) has(uid uint32) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.uids[uid] || v.gone[uid]
}

// TestEventsOutsideFolderLock is the lock contract of issue 14 at the
// store's level: subscribers whose callback takes a lock of their own
// (imapd's view lock) never deadlock against appends, deliveries, flag changes,
// expunges, moves in both directions between two folders, a second
// subscriber coming and going, and the delete of a subscribed folder,
// all at once. Each view sees UIDs in order, and a mutation's own event
// has reached every view when the call returns (read-your-writes).
func TestEventsOutsideFolderLock(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	const user = "anna@example.org"
	a, err := s.Account(user)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Work", "Doomed"} {
		if err := a.CreateFolder(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	inbox, work := testFolder(t, s, user, "INBOX"), testFolder(t, s, user, "Work")
	vIn, cancelIn := subscribeView(inbox)
	defer cancelIn()
	vWork, cancelWork := subscribeView(work)
	defer cancelWork()

	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	loop := func(name string, body func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := body(i); err != nil {
					errs <- fmt.Sprintf("%s: %v", name, err)
					return
				}
			}
		}()
	}
	msg := func(i int) *strings.Reader {
		return strings.NewReader(fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i))
	}
	// Readers take the view lock and call the folder in turn, as a
	// SELECT does (never both at once: see the package's Locks).
	for _, p := range []struct {
		v *viewOf
		f *Folder
	}{{vIn, inbox}, {vWork, work}} {
		loop("reader", func(int) error {
			_ = p.f.UIDValidity()
			p.v.mu.Lock()
			_ = len(p.v.uids)
			p.v.mu.Unlock()
			_, err := p.f.Status()
			return err
		})
	}
	loop("append", func(i int) error {
		m, err := inbox.Append(msg(i), nil, time.Now(), nil)
		if err == nil && !vIn.has(m.UID) {
			err = fmt.Errorf("UID %d not in the view when Append returned", m.UID)
		}
		return err
	})
	loop("deliver", func(i int) error { return deliverTo(s, user, fmt.Sprintf("Subject: d%d\r\n\r\nx\r\n", i)) })
	loop("flags+expunge", func(i int) error {
		msgs, _, err := inbox.Messages()
		if err != nil || len(msgs) < 20 {
			return err
		}
		uids := []uint32{msgs[0].UID, msgs[1].UID}
		if _, err := inbox.SetFlags(uids, FlagsAdd, []string{FlagDeleted, "$k"}, nil); err != nil {
			return err
		}
		_, err = inbox.Expunge(uids, nil)
		return err
	})
	move := func(from, to *Folder, into *viewOf) func(int) error {
		return func(int) error {
			msgs, _, err := from.Messages()
			if err != nil || len(msgs) == 0 {
				return err
			}
			_, dst, err := from.Move([]uint32{msgs[len(msgs)-1].UID}, to, nil)
			for _, uid := range dst {
				if !into.has(uid) {
					return fmt.Errorf("moved UID %d not in the destination view when Move returned", uid)
				}
			}
			return err
		}
	}
	loop("move in", move(inbox, work, vWork))
	loop("move out", move(work, inbox, vIn))
	loop("subscriber", func(int) error {
		_, cancel := subscribeView(inbox)
		cancel()
		return nil
	})
	loop("delete", func(i int) error {
		if i > 0 {
			if err := a.CreateFolder("Doomed", ""); err != nil {
				return err
			}
		}
		d, err := a.Folder("Doomed")
		if err != nil {
			return err
		}
		if _, err := d.Append(msg(i), nil, time.Now(), nil); err != nil {
			return err
		}
		v, cancel := subscribeView(d)
		defer cancel()
		if err := a.DeleteFolder("Doomed"); err != nil {
			return err
		}
		v.mu.Lock()
		n := len(v.uids)
		v.mu.Unlock()
		if n != 0 {
			return fmt.Errorf("view of a deleted folder still holds %d messages", n)
		}
		return nil
	})

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		buf := make([]byte, 4<<20)
		t.Fatalf("deadlock: workers still running 27 s after the end\n%s", buf[:runtime.Stack(buf, true)])
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for name, v := range map[string]*viewOf{"INBOX": vIn, "Work": vWork} {
		for _, e := range v.errs {
			t.Errorf("%s view: %s", name, e)
		}
	}
}
