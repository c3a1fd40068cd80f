package imapd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/accounts/testkit"
	"postern/maildir"
)

// updates collects one client's unilateral responses.
type updates struct {
	exists  chan uint32
	expunge chan uint32
	flags   chan *imapclient.FetchMessageData
}

func newUpdates() (*updates, *imapclient.Options) {
	u := &updates{exists: make(chan uint32, 16), expunge: make(chan uint32, 16), flags: make(chan *imapclient.FetchMessageData, 16)}
	return u, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { u.expunge <- seq },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				u.exists <- *d.NumMessages
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) { u.flags <- m },
	}}
}

func wait[T any](t *testing.T, ch chan T, what string, within time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("no %s within %v", what, within)
		panic("unreachable")
	}
}

// TestIdleUpdates: a session in IDLE hears at once about an APPEND by
// another session, an SMTP-style delivery, an expunge and a flag change
// by another session, and a file written by another program.
func TestIdleUpdates(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"), msg("b", "2"))
	u, opts := newUpdates()
	a := e.login(testkit.AnnaUser, testkit.AnnaPass, opts)
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	b := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := a.Idle()
	if err != nil {
		t.Fatal(err)
	}

	body := msg("c", "3")
	ac := b.Append("INBOX", int64(len(body)), nil)
	ac.Write([]byte(body))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := wait(t, u.exists, "EXISTS after APPEND", time.Second); n != 3 {
		t.Fatalf("EXISTS %d after APPEND, want 3", n)
	}

	errs, err := e.store.Deliver(context.Background(), strings.NewReader(msg("d", "4")), []maildir.Target{{User: testkit.AnnaUser}})
	if err != nil || errs[0] != nil {
		t.Fatalf("Deliver: %v %v", err, errs)
	}
	if n := wait(t, u.exists, "EXISTS after delivery", time.Second); n != 4 {
		t.Fatalf("EXISTS %d after delivery, want 4", n)
	}

	if err := b.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	fm := wait(t, u.flags, "FETCH FLAGS", time.Second)
	fb, err := fm.Collect()
	if err != nil || fb.SeqNum != 2 || !strings.Contains(fmt.Sprint(fb.Flags), `\Flagged`) {
		t.Fatalf("FETCH FLAGS %v %+v", err, fb)
	}

	if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	wait(t, u.flags, "FETCH FLAGS for \\Deleted", time.Second)
	if _, err := b.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if seq := wait(t, u.expunge, "EXPUNGE", time.Second); seq != 1 {
		t.Fatalf("EXPUNGE %d, want 1", seq)
	}

	// A deletion by POP3 goes through the store with no IMAP source.
	if _, err := e.folder(testkit.AnnaUser, "INBOX").Expunge([]uint32{3}, nil); err != nil {
		t.Fatal(err)
	}
	if seq := wait(t, u.expunge, "EXPUNGE after a store-level (POP3) deletion", time.Second); seq != 2 {
		t.Fatalf("EXPUNGE %d, want 2", seq)
	}

	// Another program drops a file into new/ (the watcher rescans).
	dir := filepath.Join(e.dir, "mail", "example.org", "anna", "new")
	if err := os.WriteFile(filepath.Join(dir, "1700000000.M1P1.other"), []byte(msg("e", "5")), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := wait(t, u.exists, "EXISTS after a foreign write", 5*time.Second); n != 3 {
		t.Fatalf("EXISTS %d after foreign write, want 3", n)
	}

	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := a.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 3 || msgs[0].UID != 2 || msgs[1].UID != 4 || msgs[2].UID != 5 {
		t.Fatalf("view after updates: %v %+v", err, msgs)
	}
}

// TestMoveSeenFromBothSides: B moves a message while A has the folder
// selected without IDLE; A learns at its next command and its sequence
// numbers stay right.
func TestMoveSeenFromBothSides(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"), msg("b", "2"), msg("c", "3"))
	u, opts := newUpdates()
	a := e.login(testkit.AnnaUser, testkit.AnnaPass, opts)
	b := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	for _, c := range []*imapclient.Client{a, b} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Move(imap.SeqSetNum(2), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	// FETCH may not report EXPUNGE (RFC 9051 §7.5.1): A still sees 3.
	msgs, err := a.Fetch(imap.SeqSetNum(3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Fatalf("FETCH 3 before NOOP: %v %+v", err, msgs)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if seq := wait(t, u.expunge, "EXPUNGE", time.Second); seq != 2 {
		t.Fatalf("EXPUNGE %d", seq)
	}
	msgs, err = a.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Fatalf("FETCH 2 after NOOP: %v %+v", err, msgs)
	}
	select {
	case s := <-u.expunge:
		t.Fatalf("second EXPUNGE %d", s)
	default:
	}
}

// TestIdleKeepalive: "* OK Still here" arrives every IdleKeepalive.
func TestIdleKeepalive(t *testing.T) {
	e := newEnv(t, Config{IdleKeepalive: 150 * time.Millisecond})
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a1 SELECT INBOX")
	r.send("a2 IDLE")
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	for range 3 {
		if l := r.line(); l != "* OK Still here\r\n" {
			t.Fatalf("keepalive: %q", l)
		}
	}
	r.send("DONE")
	if out := r.until("a2 "); !strings.Contains(out, "a2 OK") {
		t.Fatalf("DONE: %s", out)
	}
}

// TestBadInput: oversized and unfinished literals, junk, limits.
func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{CommandTimeout: 700 * time.Millisecond, MaxConnectionsPerUserIP: 2})
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	// A literal over 4096 bytes outside APPEND.
	if out := r.cmd("b1 SELECT {100000}"); !strings.Contains(out, "b1 NO") && !strings.Contains(out, "b1 BAD") {
		t.Fatalf("huge literal: %s", out)
	}
	// An APPEND over the limit.
	if out := r.cmd(fmt.Sprintf("b2 APPEND INBOX {%d}", int64(DefaultMaxMessageBytes)+1)); !strings.Contains(out, "b2 NO") {
		t.Fatalf("huge APPEND: %s", out)
	}
	if out := r.cmd("b3 SELECT nothere"); !strings.Contains(out, "b3 NO [NONEXISTENT]") {
		t.Fatalf("missing folder: %s", out)
	}
	if out := r.cmd("b4 FETCH 1 (FLAGS)"); !strings.Contains(out, "b4 BAD") && !strings.Contains(out, "b4 NO") {
		t.Fatalf("FETCH without SELECT: %s", out)
	}
	// Per-user-per-address limit: r and one more, the third is refused.
	e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	c, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTC})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testkit.AnnaUser, testkit.AnnaPass).Wait(); err == nil || !strings.Contains(err.Error(), "LIMIT") {
		t.Fatalf("third login: %v", err)
	}

	// A literal that never finishes: the connection is closed at the
	// command timeout.
	r.send("b5 APPEND INBOX {500}")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND continuation: %q", l)
	}
	r.c.Write([]byte("From: x\r\n"))
	start := time.Now()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := r.c.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stalled literal closed after %v", d)
	}
}

// TestNoGoroutineLeak: connections dropped abruptly (mid-IDLE,
// mid-literal, mid-command) leave no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"))
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass) // warm up TLS and bcrypt caches
	before := runtime.NumGoroutine()
	for i := range 12 {
		r := e.raw(t)
		r.login(testkit.AnnaUser, testkit.AnnaPass)
		r.cmd("x1 SELECT INBOX")
		switch i % 3 {
		case 0:
			r.send("x2 IDLE")
			r.line()
		case 1:
			r.send("x2 APPEND INBOX {1000}")
			r.line()
			r.c.Write([]byte("Subject: half"))
		case 2:
			r.c.Write([]byte("x2 FETCH 1 (BODY"))
		}
		r.c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
