package imapd

import (
	"testing"
	"time"

	"postern/accounts/testkit"
)

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mailboxOf returns the server's shared view of folder, or nil.
func (e *testEnv) mailboxOf(user, name string) *mailbox {
	f := e.folder(user, name)
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	return e.srv.mailboxes[f]
}

// A folder's view outlives its last session for a while, follows the
// folder meanwhile, and is reused by the next SELECT; shutdown drops it.
func TestMailboxLingers(t *testing.T) {
	var e *testEnv
	// Registered first, so it runs after the environment's Shutdown.
	t.Cleanup(func() {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		if len(e.srv.mailboxes) != 0 {
			t.Errorf("%d views kept after shutdown", len(e.srv.mailboxes))
		}
	})
	e = newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("one", "1"), msg("two", "2"))
	selectAndLogout := func() uint32 {
		c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Logout().Wait(); err != nil {
			t.Fatal(err)
		}
		c.Close()
		return sel.NumMessages
	}
	if n := selectAndLogout(); n != 2 {
		t.Fatalf("first SELECT: %d messages", n)
	}
	waitFor(t, func() bool {
		m := e.mailboxOf(testkit.AnnaUser, "INBOX")
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return m != nil && m.refs == 0 && m.linger != nil
	})
	first := e.mailboxOf(testkit.AnnaUser, "INBOX")
	// Delivered while no session has INBOX selected.
	e.put(testkit.AnnaUser, "INBOX", msg("three", "3"))
	if n := selectAndLogout(); n != 3 {
		t.Fatalf("SELECT after a delivery to the lingering view: %d messages", n)
	}
	if m := e.mailboxOf(testkit.AnnaUser, "INBOX"); m != first {
		t.Fatal("the lingering view was not reused")
	}
	// The server releases a session's view after its LOGOUT reply.
	waitFor(t, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return first.refs == 0
	})
	// A session selecting it again stops the timer; leaving restarts it.
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	e.srv.mu.Lock()
	if first.refs != 1 || first.linger != nil {
		e.srv.mu.Unlock()
		t.Fatalf("selected again: refs %d, linger %v", first.refs, first.linger)
	}
	e.srv.mu.Unlock()
	c.Close()
	waitFor(t, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return first.refs == 0
	})
}
