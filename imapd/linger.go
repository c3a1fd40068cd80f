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
		s.dropMailboxLocked(m)
		return
	}
	m.linger = time.AfterFunc(mailboxLinger, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if m.refs == 0 && m.linger != nil {
			s.dropMailboxLocked(m)
		}
	})
}

// dropMailboxLocked unsubscribes m and forgets it. s.mu is held.
func (s *Server) dropMailboxLocked(m *mailbox) {
	m.stopLinger()
	if s.mailboxes[m.folder] == m {
		delete(s.mailboxes, m.folder)
	}
	m.cancel()
}

// dropLingering unsubscribes every mailbox no session has selected (at
// shutdown).
func (s *Server) dropLingering() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mailboxes {
		if m.refs == 0 {
			s.dropMailboxLocked(m)
		}
	}
}

// stopLinger cancels m's pending unsubscription. Server.mu is held.
func (m *mailbox) stopLinger() {
	if m.linger != nil {
		m.linger.Stop()
		m.linger = nil
	}
}
