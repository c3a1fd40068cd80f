package imapd

import (
	"sync/atomic"
	"time"
)

// BusySession describes one session still open, for the log of a stop
// that ran past its timeout. Every field is read without blocking on a
// lock that a session may hold.
type BusySession struct {
	// ID is the session id its log lines carry.
	ID string
	// Remote is the client's address.
	Remote string
	// User is the logged-in user; "" before login.
	User string
	// Command is what the session was doing ("FETCH", "SELECT INBOX");
	// "" between commands.
	Command string
	// Since is when Command started (zero between commands).
	Since time.Time
}

// busyTableWait bounds how long BusySessions tries to take Server.mu.
// No holder of Server.mu calls the store (see doc.go), but a list of busy
// sessions, taken when something is already stuck, must not wait on any
// lock at all.
const busyTableWait = 200 * time.Millisecond

// BusySessions lists the sessions still open. It takes Server.mu only
// through TryLock, retried for busyTableWait; complete is false (and
// list nil) when it stayed locked. Each session's user and command are
// atomic (session.act).
func (s *Server) BusySessions() (list []BusySession, complete bool) {
	deadline := time.Now().Add(busyTableWait)
	for !s.mu.TryLock() {
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(time.Millisecond)
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		st := sess.act.load()
		list = append(list, BusySession{ID: sess.id, Remote: sess.remote, User: st.user, Command: st.command, Since: st.since})
	}
	return list, true
}

// activity is what other goroutines may read of a session: its user and
// the command it is running. Only the session's own goroutine writes it
// (go-imap runs one command at a time; IDLE's goroutine only while the
// command loop waits; Close may race a winding-down IDLE, which at worst
// leaves a stale value on a session about to be dropped), so a load,
// change and store of the whole state loses nothing; readers see one
// consistent state.
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
