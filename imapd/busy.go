package imapd

import (
	"time"

	"postern/accounts"
)

// busyTableWait bounds how long BusySessions tries to take Server.mu. No
// holder of Server.mu calls the store (see doc.go), but a list of busy
// sessions, taken when something is already stuck, must not wait on any
// lock at all.
const busyTableWait = 200 * time.Millisecond

// BusySessions lists the sessions still open. It takes Server.mu only
// through TryLock, retried for busyTableWait; complete is false (and
// list nil) when it stayed locked. Each session's user and command are
// atomic (session.act).
func (s *Server) BusySessions() (list []accounts.BusySession, complete bool) {
	if !accounts.TryLockFor(&s.mu, busyTableWait) {
		return nil, false
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		list = append(list, sess.act.Busy("imap", sess.id, sess.remote, time.Time{}))
	}
	return list, true
}
