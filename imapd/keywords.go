package imapd

import (
	"sort"
	"strings"

	imap "github.com/emersion/go-imap/v2"
)

// Keywords in FLAGS. A client learns the flags of a mailbox from FLAGS and
// PERMANENTFLAGS at SELECT and from later "* FLAGS" responses (RFC 9051
// §7.3.5); a keyword it sees in FETCH FLAGS should be among them, as
// Dovecot does it. The mailbox view collects the keywords its messages
// carry and announces each new one to every session before the FETCH or
// EXISTS that carries it.

// noteKeywordsLocked adds the keywords of flags to m.keywords and reports
// whether any was new. m.mu is held.
// The map is replaced, never modified, so a session may keep it as the
// set it was told about.
func (m *mailbox) noteKeywordsLocked(flags []string) bool {
	var next map[string]bool
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) || m.keywords[f] || next[f] {
			continue // a system flag, or known
		}
		if next == nil {
			next = make(map[string]bool, len(m.keywords)+1)
			for k := range m.keywords {
				next[k] = true
			}
		}
		next[f] = true
	}
	if next == nil {
		return false
	}
	m.keywords = next
	return true
}

// announceKeywordsLocked queues "* FLAGS" for every session when flags
// carry a keyword not announced yet. m.mu is held.
func (m *mailbox) announceKeywordsLocked(flags []string) {
	if m.noteKeywordsLocked(flags) {
		m.tracker.QueueMailboxFlags(m.flagListLocked())
		m.countPendingLocked(nil)
	}
}

// flagListLocked returns the system flags then the known keywords,
// sorted. m.mu is held.
func (m *mailbox) flagListLocked() []imap.Flag {
	kws := make([]string, 0, len(m.keywords))
	for k := range m.keywords {
		kws = append(kws, k)
	}
	sort.Strings(kws)
	out := append([]imap.Flag(nil), systemFlags...)
	for _, k := range kws {
		out = append(out, imap.Flag(k))
	}
	return out
}
