package smtpd

import (
	"testing"
	"time"

	"postern/accounts"
)

// busyWith polls srv.BusySessions until one session satisfies ok.
func busyWith(t *testing.T, srv *Server, ok func(accounts.BusySession) bool) accounts.BusySession {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, complete := srv.BusySessions()
		if !complete {
			t.Fatal("BusySessions incomplete with nothing holding the table")
		}
		for _, b := range list {
			if ok(b) {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such busy session in %+v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BusySessions names each session with its id, address, user and the
// command it is in: a port 25 client stopped in the middle of DATA, a
// submission client logged in and waiting.
func TestBusySessionsNameWhatSessionsDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	mx := e.mxToAnna()
	mx.do("DATA", "354 ")
	mx.send("Subject: half a message\r\n\r\nfirst line") // and nothing more
	b := busyWith(t, e.mx, func(b accounts.BusySession) bool { return b.Command == "DATA" })
	if b.Proto != "smtp" || b.ID == "" || b.Remote != mx.nc.LocalAddr().String() || b.User != "" ||
		time.Since(b.Since) > time.Minute || b.Connected.IsZero() {
		t.Errorf("session in DATA: %+v", b)
	}

	sub := e.login(annaUser, annaPass)
	b = busyWith(t, e.sub, func(b accounts.BusySession) bool { return b.User == annaUser })
	if b.Proto != "submission" || b.Command != "" || !b.Since.IsZero() || b.Remote != sub.nc.LocalAddr().String() {
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
