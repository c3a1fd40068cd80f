package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"
)

// received returns the Received header (RFC 5321 section 4.4) of a
// message: who sent it (EHLO name, reverse name and address), who took
// it, with which protocol (RFC 3848: ESMTP, +S with TLS, +A after AUTH),
// the queue id, the TLS version and cipher, and the recipient when there
// is exactly one (with several, every copy is the same file, so naming one
// would show every recipient another's address).
func (s *session) received(msg *message) string {
	var b strings.Builder
	ip := s.remoteIP.String()
	if !s.remoteIP.IsValid() {
		ip = s.remote
	}
	rdns := headerToken(s.reverseName())
	if rdns == "" {
		rdns = "unknown"
	}
	fmt.Fprintf(&b, "Received: from %s (%s [%s])\r\n", headerToken(s.conn.Hostname()), rdns, ip)
	with := "ESMTP"
	st, isTLS := s.conn.TLSConnectionState()
	if isTLS {
		with += "S"
	}
	if s.user != "" {
		with += "A"
	}
	fmt.Fprintf(&b, "\tby %s (Postern) with %s id %s", headerToken(s.srv.hostname), with, msg.id)
	if isTLS {
		fmt.Fprintf(&b, "\r\n\t(version=%s cipher=%s)", tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if rcpts := msg.rcpts; len(rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", rcpts[0].addr)
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", msg.received.Format(time.RFC1123Z))
	return b.String()
}

// returnPath is the Return-Path header added at final delivery (RFC 5321
// section 4.4): the envelope sender, <> for bounces.
func returnPath(from string) string {
	return "Return-Path: <" + from + ">\r\n"
}

// headerToken makes a client-chosen name (EHLO argument, PTR name) safe
// for a header comment: printable ASCII other than parentheses,
// backslash and quotes is kept, anything else becomes '?'.
func headerToken(s string) string {
	const maxLen = 255
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()\"`, r) {
			return '?'
		}
		return r
	}, s)
}

// tlsVersionName is the TLS version as Received headers name it.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
