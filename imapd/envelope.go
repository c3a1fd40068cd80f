package imapd

import (
	netmail "net/mail"
	"strings"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/mail"
)

// fieldGetter gives the first value of a header field, "" when absent:
// a parsed textproto.Header, or envelopeFields.
type fieldGetter interface {
	Get(k string) string
}

// extractEnvelope is imapserver.ExtractEnvelope with fast paths: for the
// Date field (net/mail.ParseDate tries dozens of layouts with time.Parse
// and was the largest single cost of a 100,000-message ENVELOPE fetch; the
// usual form "Mon, 2 Jan 2006 15:04:05 -0700", with or without the day
// name and a trailing comment, is parsed by hand) and for plain address
// lists. Anything else goes to the library's parsers as before, and every
// other field is extracted exactly as the library does.
func extractEnvelope(h fieldGetter) *imap.Envelope {
	var date time.Time
	if v := h.Get("Date"); v != "" {
		var ok bool
		if date, ok = parseCommonDate(v); !ok {
			date, _ = netmail.ParseDate(v)
		}
	}
	// The library's parsers of the remaining fields work on a header. A
	// subject without an encoded word is its own decoding.
	var mh mail.Header
	subject := h.Get("Subject")
	for _, k := range []string{"Subject", "In-Reply-To", "Message-Id"} {
		if v := h.Get(k); v != "" && (k != "Subject" || strings.Contains(v, "=?")) {
			mh.Set(k, v)
		}
	}
	if strings.Contains(subject, "=?") {
		subject, _ = mh.Subject()
	}
	inReplyTo, _ := mh.MsgIDList("In-Reply-To")
	messageID, _ := mh.MessageID()
	return &imap.Envelope{
		Date:      date,
		Subject:   subject,
		From:      envelopeAddresses(h, "From"),
		Sender:    envelopeAddresses(h, "Sender"),
		ReplyTo:   envelopeAddresses(h, "Reply-To"),
		To:        envelopeAddresses(h, "To"),
		Cc:        envelopeAddresses(h, "Cc"),
		Bcc:       envelopeAddresses(h, "Bcc"),
		InReplyTo: inReplyTo,
		MessageID: messageID,
	}
}

// envelopeAddresses is the library's address list of field k: addresses
// without "@" are left out (groups are not represented). Plain lists
// take a fast path (net/mail's parser was the next largest cost after
// dates).
func envelopeAddresses(h fieldGetter, k string) []imap.Address {
	v := h.Get(k)
	if v == "" {
		return nil
	}
	if l, ok := parseSimpleAddresses(v); ok {
		return l
	}
	return libraryAddresses(v)
}

// libraryAddresses parses the address list v with the library, leaving
// out addresses without "@": the slow path of envelopeAddresses, and
// the reference its fast path is fuzzed against.
func libraryAddresses(v string) []imap.Address {
	addrs, _ := mail.ParseAddressList(v)
	var l []imap.Address
	for _, a := range addrs {
		mailbox, host, ok := strings.Cut(a.Address, "@")
		if !ok {
			continue
		}
		l = append(l, imap.Address{Name: a.Name, Mailbox: mailbox, Host: host})
	}
	return l
}

// dateMonths are the month names of RFC 5322 dates.
var dateMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// dateDays are the day names that may start an RFC 5322 date.
var dateDays = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// parseCommonDate parses "[Day, ]D Mon YYYY HH:MM:SS +hhmm[ (comment)]"
// with single spaces, as nearly all mail software writes Date. ok is false
// for anything else, including impossible dates (31 Feb), which the
// caller leaves to net/mail.ParseDate.
func parseCommonDate(s string) (t time.Time, ok bool) {
	if i := strings.IndexByte(s, '('); i >= 0 {
		if !strings.HasSuffix(s, ")") || i == 0 || s[i-1] != ' ' || !isCommentText(s[i+1:len(s)-1]) {
			return time.Time{}, false
		}
		s = s[:i-1]
	}
	if len(s) > 5 && s[3] == ',' && s[4] == ' ' {
		known := false
		for _, d := range dateDays {
			known = known || s[:3] == d
		}
		if !known {
			return time.Time{}, false
		}
		s = s[5:]
	}
	// D or DD, then " Mon YYYY HH:MM:SS +hhmm" (24 bytes).
	var day int
	switch {
	case len(s) == 25 && isDigits(s[:1]):
		day, s = int(s[0]-'0'), s[1:]
	case len(s) == 26 && isDigits(s[:2]):
		day, s = atoi2(s), s[2:]
	default:
		return time.Time{}, false
	}
	if s[0] != ' ' || s[4] != ' ' || s[9] != ' ' || s[12] != ':' || s[15] != ':' || s[18] != ' ' ||
		(s[19] != '+' && s[19] != '-') ||
		!isDigits(s[5:9]) || !isDigits(s[10:12]) || !isDigits(s[13:15]) || !isDigits(s[16:18]) || !isDigits(s[20:24]) {
		return time.Time{}, false
	}
	month := 0
	for i, m := range dateMonths {
		if s[1:4] == m {
			month = i + 1
		}
	}
	year := atoi2(s[5:7])*100 + atoi2(s[7:9])
	hour, minute, second := atoi2(s[10:12]), atoi2(s[13:15]), atoi2(s[16:18])
	zh, zm := atoi2(s[20:22]), atoi2(s[22:24])
	if month == 0 || day < 1 || hour > 23 || minute > 59 || second > 59 || zh > 23 || zm > 59 {
		return time.Time{}, false
	}
	offset := (zh*60 + zm) * 60
	if s[19] == '-' {
		offset = -offset
	}
	t = time.Date(year, time.Month(month), day, hour, minute, second, 0, time.FixedZone("", offset))
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, false // 31 Feb and the like
	}
	return t, true
}

// isCommentText reports whether s is a plain zone comment such as "UTC"
// or "GMT+01:00": letters, digits, spaces and + - : . _ /.
func isCommentText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" +-:._/", c) >= 0) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi2 is the value of two ASCII digits.
func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// parseSimpleAddresses parses the common plain form of an address list:
// comma-separated "local@domain" or "Name Words <local@domain>", where
// every name word, local part and domain is made of RFC 5322 atext (dots
// only between atoms of the address). ok is false for anything else
// (quotes, comments, encoded words, groups, dots in names, 8-bit bytes,
// empty elements), which the caller leaves to net/mail.
func parseSimpleAddresses(v string) (l []imap.Address, ok bool) {
	for elem := range strings.SplitSeq(v, ",") {
		elem = strings.Trim(elem, " ")
		var name string
		spec := elem
		if strings.HasSuffix(elem, ">") {
			i := strings.IndexByte(elem, '<')
			if i < 0 {
				return nil, false
			}
			spec = elem[i+1 : len(elem)-1]
			phrase := strings.TrimRight(elem[:i], " ")
			if strings.Contains(phrase, "=?") {
				return nil, false // an encoded word, decoded by the library
			}
			if phrase != "" {
				var words []string
				for w := range strings.SplitSeq(phrase, " ") {
					if w == "" {
						continue // several spaces between words
					}
					if !isAtext(w) {
						return nil, false
					}
					words = append(words, w)
				}
				name = strings.Join(words, " ")
			} else if i != 0 {
				return nil, false
			}
		}
		local, domain, found := strings.Cut(spec, "@")
		if !found || !isDotAtom(local) || !isDotAtom(domain) {
			return nil, false
		}
		l = append(l, imap.Address{Name: name, Mailbox: local, Host: domain})
	}
	return l, true
}

// isDotAtom reports whether s is atext atoms joined by single dots.
func isDotAtom(s string) bool {
	for atom := range strings.SplitSeq(s, ".") {
		if !isAtext(atom) {
			return false
		}
	}
	return true
}

// isAtext reports whether s is a non-empty run of RFC 5322 atext.
func isAtext(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}
