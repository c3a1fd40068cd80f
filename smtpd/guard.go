package smtpd

import "bytes"

// newlineGuard watches message data for bare CR and bare LF: a CR not
// followed by LF, or an LF not preceded by CR. RFC 5321 section 2.3.8
// forbids them, and servers that treat them as line ends disagree with
// Postern about where a message ends: that disagreement is SMTP
// smuggling. go-smtp passes them through (only CRLF.CRLF ends DATA), so
// Postern refuses such messages with 550 5.6.0 after reading all of it.
type newlineGuard struct {
	prevCR bool
	bad    bool
}

// Write scans p; it never fails.
func (g *newlineGuard) Write(p []byte) (int, error) {
	if g.bad {
		return len(p), nil
	}
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			if g.prevCR {
				g.bad = true
			}
			break
		}
		if g.prevCR && (i > 0 || rest[0] != '\n') {
			g.bad = true
			break
		}
		if rest[i] == '\n' && !(i == 0 && g.prevCR) {
			g.bad = true
			break
		}
		g.prevCR = rest[i] == '\r'
		rest = rest[i+1:]
	}
	return len(p), nil
}

// clean reports whether all data written so far had CRLF line ends only.
func (g *newlineGuard) clean() bool {
	return !g.bad && !g.prevCR
}
