package pop3d

import (
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
)

// BusySessions names each session with its id, address, user and the
// command it is in until its reply is written: here a RETR of a message
// far larger than the socket buffers to a client that reads nothing, and
// a session that has not logged in (its password hidden).
func TestBusySessionsNameWhatSessionsDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	line := strings.Repeat("z", 76) + "\r\n"
	e.deliver(testkit.AnnaUser, "Subject: big\r\n\r\n"+strings.Repeat(line, (16<<20)/len(line)))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Send("RETR 1\r\n") // and read nothing
	b := testkit.WaitForItem(t, busyWait, e.srv.BusySessions, func(b accounts.BusySession) bool { return b.Command == "RETR 1" })
	if b.User != testkit.AnnaUser || b.ID == "" || b.Remote != c.NC.LocalAddr().String() || b.Since.IsZero() || b.Connected.IsZero() {
		t.Errorf("session in RETR: %+v", b)
	}
	// Still there a moment later: the write is blocked.
	time.Sleep(200 * time.Millisecond)
	testkit.WaitForItem(t, busyWait, e.srv.BusySessions, func(b accounts.BusySession) bool { return b.Command == "RETR 1" })

	other := e.dialTLS()
	other.Do("USER "+testkit.BobUser, "+OK")
	b = testkit.WaitForItem(t, busyWait, e.srv.BusySessions, func(b accounts.BusySession) bool { return b.Remote == other.NC.LocalAddr().String() })
	if b.User != "" || b.Command != "" {
		t.Errorf("session between USER and PASS: %+v", b)
	}
	if got := (command{verb: "PASS", args: []string{"s3cret"}}).activity(); got != "PASS <hidden>" {
		t.Errorf("PASS shown as %q", got)
	}

	// Server.mu held elsewhere: BusySessions gives up instead of waiting.
	e.srv.mu.Lock()
	start := time.Now()
	list, complete := e.srv.BusySessions()
	e.srv.mu.Unlock()
	if complete || list != nil || time.Since(start) > 10*busyTableWait {
		t.Errorf("with the table locked: %v, %v after %v", list, complete, time.Since(start))
	}
	c.NC.Close()
}

// busyWait bounds the wait for a session to show in BusySessions.
const busyWait = 10 * time.Second
