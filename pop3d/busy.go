package pop3d

import (
	"time"

	"postern/accounts"
)

// busyTableWait bounds how long BusySessions tries to take Server.mu,
// which is only ever held for map updates: missing it for this long means
// something is badly wrong.
const busyTableWait = 100 * time.Millisecond

// BusySessions lists the sessions still open. It never blocks on a lock a
// session may hold: each session's user and command are atomic, and the
// session table is read with TryLock; complete is false when Server.mu
// stayed locked for busyTableWait (then list is nil).
func (s *Server) BusySessions() (list []accounts.BusySession, complete bool) {
	if !accounts.TryLockFor(&s.mu, busyTableWait) {
		return nil, false
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		list = append(list, c.act.Busy("pop3", c.id, c.remote, c.start))
	}
	return list, true
}
