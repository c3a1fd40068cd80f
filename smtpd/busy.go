package smtpd

import (
	"sync/atomic"
	"time"
)

// BusySession describes one session still open, for the log of a stop
// that ran past its timeout. Every field is read without taking a lock
// that a session may hold.
type BusySession struct {
	// Proto is "smtp" (port 25) or "submission".
	Proto string
	// ID is the session id its log lines carry.
	ID string
	// Remote is the client's address.
	Remote string
	// User is the authenticated user; "" before AUTH and on port 25.
	User string
	// Command is what the session was doing ("MAIL FROM", "RCPT TO",
	// "DATA", "DATA: delivering", "AUTH"); "" between commands.
	Command string
	// Since is when Command started (zero between commands).
	Since time.Time
	// Connected is when the connection was accepted.
	Connected time.Time
}

// busyTableWait bounds how long BusySessions tries to read the
// connection table; its lock is only ever held for map updates, so
// missing it for this long means something is badly wrong.
const busyTableWait = 100 * time.Millisecond

// BusySessions lists the sessions still open. It never blocks on a lock a
// session may hold: each session's user and command are atomic, and the
// connection table is read with TryLock; complete is false when the table
// stayed locked for busyTableWait (then list is nil).
func (s *Server) BusySessions() (list []BusySession, complete bool) {
	conns, ok := s.conns.trySnapshot(busyTableWait)
	if !ok {
		return nil, false
	}
	for _, tc := range conns {
		sess := tc.sess
		st := sess.act.load()
		list = append(list, BusySession{Proto: s.proto, ID: sess.id, Remote: sess.remote, User: st.user,
			Command: st.command, Since: st.since, Connected: sess.started})
	}
	return list, true
}

// trySnapshot returns the live connections, retrying TryLock until wait
// has passed.
func (t *connTable) trySnapshot(wait time.Duration) ([]*trackedConn, bool) {
	deadline := time.Now().Add(wait)
	for !t.mu.TryLock() {
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(time.Millisecond)
	}
	defer t.mu.Unlock()
	conns := make([]*trackedConn, 0, len(t.all))
	for tc := range t.all {
		conns = append(conns, tc)
	}
	return conns, true
}

// activity is what other goroutines may read of a session: its user and
// the command it is running. Only the session's own goroutine writes it
// (go-smtp runs one verb at a time), so a load, change and store of the
// whole state loses nothing; readers see one consistent state.
type activity struct {
	p atomic.Pointer[activityState]
}

// activityState is one immutable snapshot of an activity.
type activityState struct {
	user    string
	command string
	since   time.Time
}

func (a *activity) load() activityState {
	if st := a.p.Load(); st != nil {
		return *st
	}
	return activityState{}
}

// begin records that cmd started now.
func (a *activity) begin(cmd string) {
	st := a.load()
	st.command, st.since = cmd, time.Now()
	a.p.Store(&st)
}

// end records that the session waits for its next command.
func (a *activity) end() {
	st := a.load()
	st.command, st.since = "", time.Time{}
	a.p.Store(&st)
}

// setUser records the authenticated user ("" after logout).
func (a *activity) setUser(user string) {
	st := a.load()
	st.user = user
	a.p.Store(&st)
}
