package imapd

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"

	"postern/accounts/testkit"
)

func noNotice() error { return nil }

// TestFIFOSemServesInOrder: waiters get the slot in arrival order, and
// one that gives up leaves the line without taking a slot.
func TestFIFOSemServesInOrder(t *testing.T) {
	t.Parallel()
	s := newFIFOSem(1)
	far := time.Now().Add(time.Minute)
	if err := s.acquire(far, time.Hour, noNotice); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.acquire(far, time.Hour, noNotice); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			s.release()
		}()
		testkit.WaitFor(t, "waiter in line", func() bool { _, w := s.state(); return w == i+1 })
	}
	// One more that gives up: its place goes to nobody.
	if err := s.acquire(time.Now().Add(50*time.Millisecond), time.Hour, noNotice); !errors.Is(err, errWaitTimeout) {
		t.Fatalf("acquire past its deadline: %v", err)
	}
	s.release()
	wg.Wait()
	if got := fmtInts(order); got != "0,1,2,3,4" {
		t.Fatalf("order %v", order)
	}
	if held, waiting := s.state(); held != 0 || waiting != 0 {
		t.Fatalf("after: %d held, %d waiting", held, waiting)
	}
}

func fmtInts(v []int) string {
	var b strings.Builder
	for i, n := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(byte('0' + n))
	}
	return b.String()
}

// TestBusyGateLimitsUnderRace: many goroutines of two users; never more
// than perUser of a user nor all in total run at once, and every one
// runs.
func TestBusyGateLimitsUnderRace(t *testing.T) {
	t.Parallel()
	const perUser, all, rounds = 2, 3, 50
	g := newBusyGate(perUser, all)
	var total atomic.Int32
	running := map[string]*atomic.Int32{"a": {}, "b": {}}
	var done atomic.Int32
	var wg sync.WaitGroup
	for _, user := range []string{"a", "b"} {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					leave, err := g.enter(user, time.Now().Add(time.Minute), noNotice)
					if err != nil {
						t.Error(err)
						return
					}
					if n := running[user].Add(1); n > perUser {
						t.Errorf("%s: %d running", user, n)
					}
					if n := total.Add(1); n > all {
						t.Errorf("%d running in all", n)
					}
					time.Sleep(50 * time.Microsecond)
					total.Add(-1)
					running[user].Add(-1)
					leave()
					leave() // a second call is harmless
					done.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if done.Load() != 2*8*rounds {
		t.Fatalf("%d ran", done.Load())
	}
	g.mu.Lock()
	left := len(g.users)
	g.mu.Unlock()
	if held, waiting := g.all.state(); held != 0 || waiting != 0 || left != 0 {
		t.Fatalf("after: %d held, %d waiting, %d users", held, waiting, left)
	}
}

// TestBusySessionsOfOneUserTakeTurns: two sessions of one user search
// and fetch bodies at once with one slot per user; each command waits
// for the other's, both are served, under -race.
func TestBusySessionsOfOneUserTakeTurns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBusyCommandsPerUser: 1})
	fillInbox(t, e, testkit.AnnaUser, 300)
	gate := e.srv.costs().gate
	var maxHeld atomic.Int32
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			held, _, _, _ := gate.state(testkit.AnnaUser)
			if int32(held) > maxHeld.Load() {
				maxHeld.Store(int32(held))
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 2 {
		c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				d, err := c.Search(&imap.SearchCriteria{Text: []string{"no such text"}}, nil).Wait()
				if err != nil || len(d.AllSeqNums()) != 0 {
					t.Errorf("session %d: SEARCH TEXT: %v, %v", i, d, err)
					return
				}
				msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 50}}, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText, Peek: true}}}).Collect()
				if err != nil || len(msgs) != 50 {
					t.Errorf("session %d: FETCH: %d messages, %v", i, len(msgs), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := maxHeld.Load(); n != 1 {
		t.Fatalf("anna held %d slots at most, want 1", n)
	}
}

// TestBusyWaitNoticesAndLimit: a command that waits in line is told so
// every notice interval and gets NO [LIMIT] after busy_wait; once the
// slot is free the same command runs.
func TestBusyWaitNoticesAndLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBusyCommandsPerUser: 1, BusyWait: time.Second})
	e.put(testkit.AnnaUser, "INBOX", msg("one", "1"))
	gate := e.srv.costs().gate
	gate.notice = 200 * time.Millisecond
	hold, err := gate.enter(testkit.AnnaUser, time.Now().Add(time.Minute), noNotice)
	if err != nil {
		t.Fatal(err)
	}
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	out := r.cmd("b SEARCH TEXT x")
	if !strings.Contains(out, "* OK Waiting for other searches or fetches to finish\r\n") ||
		!strings.Contains(out, "b NO [LIMIT] Too many searches and fetches of this account running (at most 1 at once)") {
		t.Fatalf("SEARCH while the slot is held:\n%s", out)
	}
	if out := r.cmd("c FETCH 1 (ENVELOPE)"); !strings.Contains(out, "c NO [LIMIT]") {
		t.Fatalf("FETCH ENVELOPE while the slot is held:\n%s", out)
	}
	if out := r.cmd("d FETCH 1 (UID FLAGS)"); !strings.Contains(out, "d OK") {
		t.Fatalf("FETCH FLAGS (not busy) while the slot is held:\n%s", out)
	}
	hold()
	if out := r.cmd("e SEARCH TEXT x"); !strings.Contains(out, "e OK") || strings.Contains(out, "Waiting") {
		t.Fatalf("SEARCH with the slot free:\n%s", out)
	}
}

// TestBusyWaitEndsWhenClientLeaves: a client that hangs up while its
// command waits in line leaves the line (its next notice cannot be
// written) instead of running the command for nobody.
func TestBusyWaitEndsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBusyCommandsPerUser: 1, BusyWait: time.Hour})
	gate := e.srv.costs().gate
	gate.notice = 50 * time.Millisecond
	hold, err := gate.enter(testkit.AnnaUser, time.Now().Add(time.Hour), noNotice)
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	r.send("b SEARCH TEXT x")
	testkit.WaitFor(t, "SEARCH in line", func() bool { _, w, _, _ := gate.state(testkit.AnnaUser); return w == 1 })
	r.c.Close()
	testkit.WaitFor(t, "SEARCH out of line", func() bool { _, w, _, _ := gate.state(testkit.AnnaUser); return w == 0 })
	testkit.WaitFor(t, "log line", func() bool { return e.logs.Contains("client gone while waiting in line") })
}
