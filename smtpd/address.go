package smtpd

import (
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"postern/accounts"
)

// maxPathLen is the longest forward- or reverse-path, angle brackets
// included (RFC 5321 section 4.5.3.1.3).
const maxPathLen = 256

// parseEnvelopeAddress checks an address from MAIL FROM or RCPT TO, as
// go-smtp hands it on (angle brackets and any source route already
// removed, a quoted local part already unquoted), and returns it
// normalised by accounts.NormalizeAddress. It returns replyRelayDenied for
// the forms that old relays interpreted as routing (a '%' or '!' in the
// local part, an '@' left over from a quoted local part, an address
// literal) and replyBadAddress for anything else malformed, such as a
// domain with a trailing dot.
func parseEnvelopeAddress(s string) (string, *smtp.SMTPError) {
	if len(s)+2 > maxPathLen || !utf8.ValidString(s) {
		return "", replyBadAddress
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", replyBadAddress
	}
	local, domain := s[:at], s[at+1:]
	if strings.ContainsAny(local, "@%!") || strings.HasPrefix(domain, "[") {
		return "", replyRelayDenied
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"\<>()[],;:`, r) {
			return "", replyBadAddress
		}
	}
	if strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, ".") || strings.Contains(domain, "..") {
		return "", replyBadAddress
	}
	addr, err := accounts.NormalizeAddress(s)
	if err != nil {
		return "", replyBadAddress
	}
	return addr, nil
}
