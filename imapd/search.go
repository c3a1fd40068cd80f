package imapd

import (
	"bytes"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	imap "github.com/emersion/go-imap/v2"
)

// searchMsg is what SEARCH looks at for one message. Header and Body are
// loaded lazily: most criteria need neither. Each is loaded at most once
// per message, however many keys of the program need it.
type searchMsg struct {
	Seq   uint32
	UID   imap.UID
	Flags []imap.Flag
	Date  time.Time // internal date
	Size  int64
	// Header returns the header block (CRLF, with the blank line).
	Header func() ([]byte, error)
	// Text returns the whole message; the bytes may be reused once the
	// message has been matched.
	Text func() ([]byte, error)
	// Scratch, if set, holds the buffer the text is lower-cased into.
	Scratch *searchScratch

	header    *mail.Message // parsed Header; nil when malformed
	headerErr error
	hasHeader bool
	lower     []byte // lower-cased Text
	lowerErr  error
	hasLower  bool
}

// parsedHeader returns the parsed header, nil for a header block the
// parser refuses (it matches no header criterion).
func (m *searchMsg) parsedHeader() (*mail.Message, error) {
	if !m.hasHeader {
		m.hasHeader = true
		raw, err := m.Header()
		if err != nil {
			m.headerErr = err
		} else if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
			m.header = msg
		}
	}
	return m.header, m.headerErr
}

// lowerText returns the whole message lower-cased.
func (m *searchMsg) lowerText() ([]byte, error) {
	if !m.hasLower {
		m.hasLower = true
		raw, err := m.Text()
		if err != nil {
			m.lowerErr = err
		} else if m.Scratch != nil {
			m.lower, m.lowerErr = m.Scratch.lowerOf(raw)
		} else {
			m.lower = appendLower(nil, raw)
		}
	}
	return m.lower, m.lowerErr
}

// searchBounds are the values "*" stands for in sequence and UID sets
// (RFC 9051 §9, seq-number: "*" is the largest number in use).
type searchBounds struct {
	MaxSeq uint32
	MaxUID imap.UID
	// sets indexes the program's large sets (indexSets); a set not in
	// it is scanned.
	sets map[any]rangeIndex
}

// matchSearch reports whether m satisfies every criterion in c (RFC 9051
// §6.4.4: criteria are ANDed; dates compare by day, ignoring time and
// zone; string matches are case-insensitive substrings).
func matchSearch(m *searchMsg, c *imap.SearchCriteria, b searchBounds) (bool, error) {
	for _, set := range c.SeqNum {
		if !b.seqHas(set, m.Seq) {
			return false, nil
		}
	}
	for _, set := range c.UID {
		if !b.uidHas(set, m.UID) {
			return false, nil
		}
	}
	day := truncDay(m.Date)
	if !c.Since.IsZero() && day.Before(truncDay(c.Since)) {
		return false, nil
	}
	if !c.Before.IsZero() && !day.Before(truncDay(c.Before)) {
		return false, nil
	}
	for _, f := range c.Flag {
		if !hasFlag(m.Flags, f) {
			return false, nil
		}
	}
	for _, f := range c.NotFlag {
		if hasFlag(m.Flags, f) {
			return false, nil
		}
	}
	if c.Larger > 0 && m.Size <= c.Larger {
		return false, nil
	}
	if c.Smaller > 0 && m.Size >= c.Smaller {
		return false, nil
	}
	if ok, err := matchHeaderCriteria(m, c); !ok || err != nil {
		return false, err
	}
	if ok, err := matchTextCriteria(m, c); !ok || err != nil {
		return false, err
	}
	for i := range c.Not {
		ok, err := matchSearch(m, &c.Not[i], b)
		if err != nil || ok {
			return false, err
		}
	}
	for i := range c.Or {
		a, err := matchSearch(m, &c.Or[i][0], b)
		if err != nil {
			return false, err
		}
		if !a {
			if a, err = matchSearch(m, &c.Or[i][1], b); err != nil || !a {
				return false, err
			}
		}
	}
	return true, nil
}

// matchHeaderCriteria handles HEADER, SENTSINCE and SENTBEFORE.
func matchHeaderCriteria(m *searchMsg, c *imap.SearchCriteria) (bool, error) {
	if len(c.Header) == 0 && c.SentSince.IsZero() && c.SentBefore.IsZero() {
		return true, nil
	}
	msg, err := m.parsedHeader()
	if err != nil || msg == nil {
		// A header block the parser refuses matches no header criterion.
		return false, err
	}
	for _, h := range c.Header {
		vals := msg.Header[textproto.CanonicalMIMEHeaderKey(h.Key)]
		if len(vals) == 0 {
			return false, nil
		}
		found := false
		for _, v := range vals {
			if containsFold(v, h.Value) {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		sent, err := msg.Header.Date()
		if err != nil {
			return false, nil
		}
		day := truncDay(sent)
		if !c.SentSince.IsZero() && day.Before(truncDay(c.SentSince)) {
			return false, nil
		}
		if !c.SentBefore.IsZero() && !day.Before(truncDay(c.SentBefore)) {
			return false, nil
		}
	}
	return true, nil
}

// matchTextCriteria handles BODY and TEXT (TEXT searches header and body).
func matchTextCriteria(m *searchMsg, c *imap.SearchCriteria) (bool, error) {
	if len(c.Body) == 0 && len(c.Text) == 0 {
		return true, nil
	}
	low, err := m.lowerText()
	if err != nil {
		return false, err
	}
	body := low
	if i := bytes.Index(low, []byte("\r\n\r\n")); i >= 0 {
		body = low[i+4:]
	}
	for _, s := range c.Body {
		if !bytes.Contains(body, m.Scratch.needle(s)) {
			return false, nil
		}
	}
	for _, s := range c.Text {
		if !bytes.Contains(low, m.Scratch.needle(s)) {
			return false, nil
		}
	}
	return true, nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

func truncDay(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// seqSetHas reports whether n is in set, "*" (0) standing for max.
func seqSetHas(set imap.SeqSet, n, max uint32) bool {
	return slices.ContainsFunc(set, func(r imap.SeqRange) bool { return inRange(r.Start, r.Stop, n, max) })
}

// uidSetHas reports whether u is in set, "*" (0) standing for max.
func uidSetHas(set imap.UIDSet, u, max imap.UID) bool {
	return slices.ContainsFunc(set, func(r imap.UIDRange) bool { return inRange(r.Start, r.Stop, u, max) })
}

// inRange reports whether n is in the range lo:hi of a sequence or UID
// set, in either order, an end of 0 ("*") standing for max.
func inRange[N ~uint32](lo, hi, n, max N) bool {
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo <= n && n <= hi
}
