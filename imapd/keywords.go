package imapd

import (
	"fmt"
	"sort"
	"strings"

	imap "github.com/emersion/go-imap/v2"

	"postern/maildir/dovecot"
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

// MaxKeywords is the most keywords a message can carry, and a mailbox
// can know: Dovecot's Maildir names a message's keywords by the letters
// a–z in its file name (through dovecot-keywords), so there are 26.
const MaxKeywords = dovecot.MaxKeywords

// checkFlags refuses, before the store sees them, the flags of a STORE
// or APPEND that it could not keep, with a reply that says why: an
// unknown system flag or a malformed keyword (NO [CANNOT]), more than
// MaxKeywords keywords (NO [LIMIT]).
func checkFlags(flags []imap.Flag) error {
	seen := make(map[string]bool)
	for _, f := range flags {
		name := string(f)
		if strings.HasPrefix(name, `\`) {
			if f == imap.FlagWildcard || strings.EqualFold(name, string(flagRecent)) || hasFlag(systemFlags, f) {
				continue
			}
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
				Text: `Unknown system flag: only \Seen \Answered \Flagged \Deleted \Draft can be set`}
		}
		if err := dovecot.CheckKeyword(name); err != nil {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
				Text: "Keyword not allowed: keywords are printable ASCII atoms of at most 200 bytes"}
		}
		seen[strings.ToLower(name)] = true
		if len(seen) > MaxKeywords {
			return errTooManyKeywords
		}
	}
	return nil
}

// errTooManyKeywords answers a STORE or APPEND with more keywords than
// a message can carry.
var errTooManyKeywords = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
	Text: fmt.Sprintf("Too many keywords: a message can carry at most %d", MaxKeywords)}

// errMailboxKeywordsFull answers a change that needs a keyword new to a
// mailbox that already knows MaxKeywords (the store's ErrBadName once
// checkFlags has passed).
var errMailboxKeywordsFull = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
	Text: fmt.Sprintf("No room for a new keyword: this mailbox already has %d, the most it can hold", MaxKeywords)}
