package pop3d

import (
	"sync/atomic"
	"time"
)

// BusySession describes one session still open, for the log of a stop
// that ran past its timeout. Every field is read without taking a lock
// that a session may hold.
type BusySession struct {
	// ID is the session id its log lines carry.
	ID string
	// Remote is the client's address.
	Remote string
	// User is the authenticated user; "" before login.
	User string
	// Command is what the session was doing: the command line ("RETR 3";
	// credentials hidden), or "closing"; "" while waiting for a command.
	Command string
	// Since is when Command started (zero between commands).
	Since time.Time
	// Connected is when the connection was accepted.
	Connected time.Time
}

// busyTableWait bounds how long BusySessions tries to take Server.mu,
// which is only ever held for map updates: missing it for this long means
// something is badly wrong.
const busyTableWait = 100 * time.Millisecond

// BusySessions lists the sessions still open. It never blocks on a lock a
// session may hold: each session's user and command are atomic, and the
// session table is read with TryLock; complete is false when Server.mu
// stayed locked for busyTableWait (then list is nil).
func (s *Server) BusySessions() (list []BusySession, complete bool) {
	deadline := time.Now().Add(busyTableWait)
	for !s.mu.TryLock() {
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(time.Millisecond)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		st := c.act.load()
		list = append(list, BusySession{ID: c.id, Remote: c.remote, User: st.user,
			Command: st.command, Since: st.since, Connected: c.start})
	}
	return list, true
}

// activity is what other goroutines may read of a session: its user and
// the command it is running. Only the session's own goroutine writes it,
// so a load, change and store of the whole state loses nothing; readers
// see one consistent state.
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
