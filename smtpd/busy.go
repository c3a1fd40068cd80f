package smtpd

import (
	"time"

	"postern/accounts"
)

// busyTableWait bounds how long BusySessions tries to read the
// connection table; its lock is only ever held for map updates, so
// missing it for this long means something is badly wrong.
const busyTableWait = 100 * time.Millisecond

// BusySessions lists the sessions still open. It never blocks on a lock a
// session may hold: each session's user and command are atomic, and the
// connection table is read with TryLock; complete is false when the table
// stayed locked for busyTableWait (then list is nil).
func (s *Server) BusySessions() (list []accounts.BusySession, complete bool) {
	conns, ok := s.conns.trySnapshot(busyTableWait)
	if !ok {
		return nil, false
	}
	for _, tc := range conns {
		sess := tc.sess
		list = append(list, sess.act.Busy(s.proto, sess.id, sess.remote, sess.started))
	}
	return list, true
}

// trySnapshot returns the live connections, retrying TryLock until wait
// has passed.
func (t *connTable) trySnapshot(wait time.Duration) ([]*trackedConn, bool) {
	if !accounts.TryLockFor(&t.mu, wait) {
		return nil, false
	}
	defer t.mu.Unlock()
	conns := make([]*trackedConn, 0, len(t.all))
	for tc := range t.all {
		conns = append(conns, tc)
	}
	return conns, true
}
