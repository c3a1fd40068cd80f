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
func (m *mailbox) noteKeywordsLocked(flags []string) bool {
	added := false
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			continue // a system flag
		}
		if !m.keywords[f] {
			m.keywords[f] = true
			added = true
		}
	}
	return added
}

// announceKeywordsLocked queues "* FLAGS" for every session when flags
// carry a keyword not announced yet. m.mu is held.
func (m *mailbox) announceKeywordsLocked(flags []string) {
	if m.noteKeywordsLocked(flags) {
		m.tracker.QueueMailboxFlags(m.flagListLocked())
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
