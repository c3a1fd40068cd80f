package smtpd

import (
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
)

// BusySessions names each session with its id, address, user and the
// command it is in: a port 25 client stopped in the middle of DATA, a
// submission client logged in and waiting.
func TestBusySessionsNameWhatSessionsDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	mx := e.mxToAnna()
	mx.Do("DATA", "354 ")
	mx.Send("Subject: half a message\r\n\r\nfirst line") // and nothing more
	b := testkit.WaitForItem(t, busyWait, e.mx.BusySessions, func(b accounts.BusySession) bool { return b.Command == "DATA" })
	if b.Proto != "smtp" || b.ID == "" || b.Remote != mx.NC.LocalAddr().String() || b.User != "" ||
		time.Since(b.Since) > time.Minute || b.Connected.IsZero() {
		t.Errorf("session in DATA: %+v", b)
	}

	sub := e.login(testkit.AnnaUser, testkit.AnnaPass)
	b = testkit.WaitForItem(t, busyWait, e.sub.BusySessions, func(b accounts.BusySession) bool { return b.User == testkit.AnnaUser })
	if b.Proto != "submission" || b.Command != "" || !b.Since.IsZero() || b.Remote != sub.NC.LocalAddr().String() {
		t.Errorf("logged-in session between commands: %+v", b)
	}

	// The table's lock held elsewhere: BusySessions gives up instead of
	// waiting.
	e.mx.conns.mu.Lock()
	start := time.Now()
	list, complete := e.mx.BusySessions()
	e.mx.conns.mu.Unlock()
	if complete || list != nil || time.Since(start) > 10*busyTableWait {
		t.Errorf("with the table locked: %v, %v after %v", list, complete, time.Since(start))
	}
}

// busyWait bounds the wait for a session to show in BusySessions.
const busyWait = 10 * time.Second
