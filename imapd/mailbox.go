package imapd

import (
	"sort"
	"strings"
	"sync"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/maildir"
)

// mailbox is the server-side view of one folder that at least one session
// has selected: its messages in sequence-number order and the go-imap
// MailboxTracker that turns the folder's change events into unilateral
// responses for every session (EXISTS, EXPUNGE, FETCH FLAGS). There is one
// per *maildir.Folder in the process, so changes by other sessions, by
// SMTP delivery, by POP3 and (through maildir's watcher) by other
// programs all reach every session the same way.
type mailbox struct {
	folder *maildir.Folder
	// ready is closed once the fields below are set up (openMailbox).
	ready chan struct{}
	// cancel unsubscribes from the folder; set before ready.
	cancel func()
	refs   int // selected sessions; guarded by Server.mu
	// linger unsubscribes the mailbox once it has had no session for
	// mailboxLinger; guarded by Server.mu.
	linger *time.Timer

	// mu guards the fields below and orders tracker updates. It is a
	// leaf lock: no holder calls the store, takes Server.mu or waits
	// (see doc.go).
	mu sync.Mutex
	// tracker is nil until openMailbox installs the snapshot; events
	// delivered before that wait in early.
	tracker *imapserver.MailboxTracker
	early   []maildir.Event
	msgs    []maildir.Message
	// keywords are the keywords announced in FLAGS (SELECT, then
	// "* FLAGS" whenever a new one appears), so every keyword a session
	// sees in FETCH FLAGS was in FLAGS first (RFC 9051 §7.3.5).
	keywords map[string]bool
	uidNext  uint32
	idlers   map[*selection]struct{}
	// sels are the sessions that have the mailbox selected.
	sels map[*selection]struct{}
	// seenPrefix is a count of leading messages known to be \Seen, so
	// SELECT's search for the first unseen message does not walk them
	// again (in a large, read mailbox that is nearly every message).
	seenPrefix int
	// envelopes caches ENVELOPE by UID while the folder is selected
	// (message content never changes), like Dovecot's index cache: a
	// client's repeated header sync then reads no files.
	envelopes map[uint32]*imap.Envelope
}

// maxCachedEnvelopes bounds the envelope cache of one mailbox (about
// 300 bytes each).
const maxCachedEnvelopes = 100_000

// envelope returns the cached ENVELOPE of uid, or nil.
func (m *mailbox) envelope(uid uint32) *imap.Envelope {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.envelopes[uid]
}

// cacheEnvelope remembers the ENVELOPE of uid, up to the bound.
func (m *mailbox) cacheEnvelope(uid uint32, env *imap.Envelope) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.envelopes) < maxCachedEnvelopes && m.indexLocked(uid) >= 0 {
		m.envelopes[uid] = env
	}
}

// openMailbox returns the shared mailbox of folder, subscribing to its
// events on first use. No lock is held while the folder is called: a
// second session that asks for the same folder meanwhile waits for ready.
func (s *Server) openMailbox(f *maildir.Folder) *mailbox {
	s.mu.Lock()
	if m := s.mailboxes[f]; m != nil {
		m.refs++
		m.stopLinger()
		s.mu.Unlock()
		<-m.ready
		return m
	}
	m := &mailbox{folder: f, refs: 1, ready: make(chan struct{}), idlers: make(map[*selection]struct{}), sels: make(map[*selection]struct{}), envelopes: make(map[uint32]*imap.Envelope)}
	s.mailboxes[f] = m
	s.mu.Unlock()

	snap, uidNext, cancel := f.Subscribe(m.onEvent)
	m.mu.Lock()
	m.msgs, m.uidNext, m.cancel = snap, uidNext, cancel
	m.keywords = map[string]bool{}
	for i := range snap {
		m.noteKeywordsLocked(snap[i].Flags)
	}
	m.tracker = imapserver.NewMailboxTracker(uint32(len(snap)))
	early := m.early
	m.early = nil
	for _, ev := range early {
		m.applyLocked(ev)
	}
	m.mu.Unlock()
	close(m.ready)
	return m
}

// closeMailbox drops one reference; after the last one the mailbox
// lingers (see mailboxLinger) before it unsubscribes.
func (s *Server) closeMailbox(m *mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.refs--; m.refs > 0 {
		return
	}
	s.lingerLocked(m)
}

// onEvent is the folder's subscriber. maildir calls it after releasing
// the folder lock, one event at a time, possibly from another session's
// goroutine and possibly before openMailbox has installed the snapshot
// (then the event waits in early). It takes only m.mu, which no holder
// keeps while calling the store.
func (m *mailbox) onEvent(ev maildir.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tracker == nil {
		m.early = append(m.early, ev)
		return
	}
	m.applyLocked(ev)
}

// applyLocked applies one folder change to the sequence-number view and
// queues it for every session.
func (m *mailbox) applyLocked(ev maildir.Event) {
	switch ev.Kind {
	case maildir.EventNew:
		m.announceKeywordsLocked(ev.Message.Flags)
		m.addLocked(ev.Message)
	case maildir.EventFlags:
		i := m.indexLocked(ev.Message.UID)
		if i < 0 {
			return
		}
		m.announceKeywordsLocked(ev.Message.Flags)
		m.msgs[i].Flags = ev.Message.Flags
		if i < m.seenPrefix && !hasStoreFlag(ev.Message.Flags, imap.FlagSeen) {
			m.seenPrefix = i
		}
		var src *imapserver.SessionTracker
		if sel, ok := ev.Source.(*selection); ok && sel.mbox == m && !sel.echo && sel.pending == 0 {
			src = sel.st // it knows its own change (see selection.echo)
		}
		m.tracker.QueueMessageFlags(uint32(i+1), imap.UID(ev.Message.UID), imapFlags(ev.Message.Flags), src)
		m.countPendingLocked(src)
	case maildir.EventExpunge:
		i := m.indexLocked(ev.Message.UID)
		if i < 0 {
			return
		}
		m.msgs = append(m.msgs[:i], m.msgs[i+1:]...)
		if i < m.seenPrefix {
			m.seenPrefix--
		}
		delete(m.envelopes, ev.Message.UID)
		m.tracker.QueueExpunge(uint32(i + 1))
		m.countPendingLocked(nil)
		for sel := range m.sels {
			sel.pendingExpunges++
		}
	}
	for sel := range m.idlers {
		select {
		case sel.wake <- struct{}{}:
		default:
		}
	}
}

// addLocked appends a new message. UIDs only grow, so it lands at the end;
// a message found out of order (another program's earlier UID) is still
// appended so sequence numbers already given out stay valid.
func (m *mailbox) addLocked(msg maildir.Message) {
	if m.indexLocked(msg.UID) >= 0 {
		return
	}
	m.msgs = append(m.msgs, msg)
	if n := len(m.msgs); n > 1 && m.msgs[n-2].UID > msg.UID {
		sort.SliceStable(m.msgs, func(i, j int) bool { return m.msgs[i].UID < m.msgs[j].UID })
		m.seenPrefix = 0 // it may have landed inside the prefix
	}
	if msg.UID >= m.uidNext {
		m.uidNext = msg.UID + 1
	}
	m.tracker.QueueNumMessages(uint32(len(m.msgs)))
	m.countPendingLocked(nil)
}

// countPendingLocked notes an update queued for every session but the
// one whose tracker is except (nil: all).
func (m *mailbox) countPendingLocked(except *imapserver.SessionTracker) {
	for sel := range m.sels {
		if sel.st != except {
			sel.pending++
		}
	}
}

// firstUnseenLocked returns the 1-based position of the first message
// without \Seen, or 0, and remembers how far every message is seen.
func (m *mailbox) firstUnseenLocked() uint32 {
	for i := min(m.seenPrefix, len(m.msgs)); i < len(m.msgs); i++ {
		if !hasStoreFlag(m.msgs[i].Flags, imap.FlagSeen) {
			m.seenPrefix = i
			return uint32(i + 1)
		}
	}
	m.seenPrefix = len(m.msgs)
	return 0
}

// indexLocked returns the 0-based position of uid, or -1.
func (m *mailbox) indexLocked(uid uint32) int {
	i := sort.Search(len(m.msgs), func(i int) bool { return m.msgs[i].UID >= uid })
	if i < len(m.msgs) && m.msgs[i].UID == uid {
		return i
	}
	return -1
}

// imapFlags converts the store's flag strings.
func imapFlags(fs []string) []imap.Flag {
	out := make([]imap.Flag, len(fs))
	for i, f := range fs {
		out[i] = imap.Flag(f)
	}
	return out
}

// hasStoreFlag reports whether the store's flags hold f, without
// converting them (SELECT looks for the first unseen message this way,
// possibly through a whole large folder).
func hasStoreFlag(flags []string, f imap.Flag) bool {
	for _, g := range flags {
		// The store writes system flags in their canonical case, so the
		// exact comparison nearly always decides.
		if g == string(f) || len(g) == len(f) && strings.EqualFold(g, string(f)) {
			return true
		}
	}
	return false
}

// storeFlags converts IMAP flags to the store's strings.
func storeFlags(fs []imap.Flag) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		if f == flagRecent || f == imap.FlagWildcard {
			continue // \Recent is not settable (RFC 3501 §2.3.2)
		}
		out = append(out, string(f))
	}
	return out
}

// flagRecent is IMAP4rev1's session flag; clients cannot set it.
const flagRecent = imap.Flag(`\Recent`)
