package imapd

import (
	"time"

	imap "github.com/emersion/go-imap/v2"
)

// mailboxLinger is how long a folder's shared view stays subscribed after
// its last session leaves it. Phones log in and SELECT INBOX again every
// few minutes; within this time a SELECT reuses the view instead of
// snapshotting the folder again (a few milliseconds and megabytes for
// 100,000 messages), as Dovecot reuses its index. The view keeps
// following the folder's events meanwhile, so it is never stale.
const mailboxLinger = 10 * time.Minute

// lingerLocked keeps m, which has no session left, for mailboxLinger,
// dropping its ENVELOPE cache at once; after a shutdown began it is
// dropped now. s.mu is held.
func (s *Server) lingerLocked(m *mailbox) {
	m.mu.Lock()
	m.envelopes = make(map[uint32]*imap.Envelope)
	m.mu.Unlock()
	if s.closed {
		// The unsubscription calls the folder: not under s.mu.
		go s.dropMailboxLocked(m)()
		return
	}
	m.linger = time.AfterFunc(mailboxLinger, func() {
		s.mu.Lock()
		unsubscribe := func() {}
		if m.refs == 0 && m.linger != nil {
			unsubscribe = s.dropMailboxLocked(m)
		}
		s.mu.Unlock()
		unsubscribe()
	})
}

// dropMailboxLocked forgets m and returns the function that unsubscribes
// it from its folder, to be called once s.mu is released (it calls the
// folder). s.mu is held.
func (s *Server) dropMailboxLocked(m *mailbox) (unsubscribe func()) {
	m.stopLinger()
	if s.mailboxes[m.folder] == m {
		delete(s.mailboxes, m.folder)
	}
	return m.cancel
}

// dropLingering unsubscribes every mailbox no session has selected (at
// shutdown).
func (s *Server) dropLingering() {
	s.mu.Lock()
	var unsubscribe []func()
	for _, m := range s.mailboxes {
		if m.refs == 0 {
			unsubscribe = append(unsubscribe, s.dropMailboxLocked(m))
		}
	}
	s.mu.Unlock()
	for _, u := range unsubscribe {
		u()
	}
}

// stopLinger cancels m's pending unsubscription. Server.mu is held.
func (m *mailbox) stopLinger() {
	if m.linger != nil {
		m.linger.Stop()
		m.linger = nil
	}
}
