package smtpd

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Control characters in command lines.
//
// RFC 5321 section 4.1.1 commands are printable text; a NUL, ESC, DEL or
// bare CR in one is an attack or a broken client, and go-smtp copies the
// HELO/EHLO argument and the MAIL/RCPT paths into its replies as they
// are. go-smtp reads the command lines itself (Conn.readLine, above TLS)
// and offers no hook before it acts on one, so Postern refuses control
// characters in the first callback each command reaches:
//
//   - HELO/EHLO (the first of the connection, and the first after
//     STARTTLS): Backend.NewSession, before go-smtp writes its greeting
//     reply. The client is not greeted and may say EHLO again.
//   - a repeated HELO/EHLO: go-smtp calls only Session.Reset and then
//     echoes the argument, which Reset cannot prevent. Postern writes the
//     501 itself and closes the connection, so nothing is echoed.
//   - MAIL FROM (the path and the AUTH= and ENVID= values), RCPT TO (the
//     path and ORCPT=), AUTH (the mechanism): Session.Mail, Session.Rcpt,
//     AuthSession.Auth, before go-smtp echoes anything.
//
// go-smtp already refuses, without echoing, control characters in MAIL
// and RCPT parameters it does not know, in SASL responses (not base64),
// in the arguments of DATA and BDAT, and right after a four-letter verb;
// it drops CRs right before the line end. VRFY, NOOP, RSET, QUIT and
// STARTTLS reach no callback: go-smtp answers them with fixed texts,
// ignoring their arguments. An unknown verb is echoed by go-smtp in its
// 500 reply (at most its four letters); only a line hook in go-smtp could
// stop that. Message data (DATA, BDAT) is checked by newlineGuard.

// ctlCloseWriteTimeout bounds the 501 written before closing a connection
// that repeated HELO/EHLO with control characters.
const ctlCloseWriteTimeout = time.Second

// hasControl reports whether s holds a byte below 0x20 other than HT, or
// DEL (0x7F).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return true
		}
	}
	return false
}

// escapeControl returns s with control characters (and quotes and
// backslashes) escaped, for the log: slog's text handler writes DEL
// as it is.
func escapeControl(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// refuseControlHello is the NewSession check: the HELO/EHLO argument
// (go-smtp passes it as Conn.Hostname) must hold no control characters.
func (s *session) refuseControlHello(c *smtp.Conn) error {
	if !hasControl(c.Hostname()) {
		return nil
	}
	s.log.Info("HELO/EHLO refused: control characters", "helo", escapeControl(c.Hostname()))
	return replyControlChars
}

// newCtlGuard wraps the session go-smtp talks to (with AUTH on
// submission) in the control character checks.
func newCtlGuard(s *session, inner smtp.Session) smtp.Session {
	g := &ctlGuard{s: s, inner: inner}
	if as, ok := inner.(smtp.AuthSession); ok {
		return &ctlAuthGuard{ctlGuard: g, auth: as}
	}
	return g
}

// ctlGuard refuses the arguments go-smtp hands to the session when they
// hold control characters, and passes everything else on.
type ctlGuard struct {
	s     *session
	inner smtp.Session
	// closed is set when the connection was closed for a repeated
	// HELO/EHLO with control characters: commands go-smtp had already
	// read (pipelining) are refused, not carried out.
	closed bool
}

// refuse logs a refused command (key: the offending value, escaped) and
// returns the 501.
func (g *ctlGuard) refuse(verb, key, value string) error {
	g.s.log.Info(verb+" refused: control characters", key, escapeControl(value))
	return replyControlChars
}

// Reset passes RSET and the end of a transaction on. Called for a
// repeated HELO/EHLO whose argument holds control characters (the first
// one was checked by NewSession, so only a new greeting can make
// Hostname unclean), it writes the 501 and closes the connection before
// go-smtp can echo the argument.
func (g *ctlGuard) Reset() {
	if c := g.s.conn; c != nil && !g.closed && hasControl(c.Hostname()) {
		g.closed = true
		g.s.log.Info("repeated HELO/EHLO refused: control characters; closing the connection", "helo", escapeControl(c.Hostname()))
		nc := c.Conn()
		nc.SetWriteDeadline(time.Now().Add(ctlCloseWriteTimeout))
		e := replyControlChars
		fmt.Fprintf(nc, "%d %d.%d.%d %s\r\n", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
		nc.Close()
	}
	g.inner.Reset()
}

// Logout passes on.
func (g *ctlGuard) Logout() error { return g.inner.Logout() }

// Mail refuses a reverse path or an AUTH=/ENVID= value with control
// characters.
func (g *ctlGuard) Mail(from string, opts *smtp.MailOptions) error {
	switch {
	case g.closed:
		return replyControlChars
	case hasControl(from):
		return g.refuse("MAIL FROM", "from", from)
	case opts != nil && opts.Auth != nil && hasControl(*opts.Auth):
		return g.refuse("MAIL FROM", "auth", *opts.Auth)
	case opts != nil && hasControl(opts.EnvelopeID):
		return g.refuse("MAIL FROM", "envid", opts.EnvelopeID)
	}
	return g.inner.Mail(from, opts)
}

// Rcpt refuses a forward path or an ORCPT= value with control
// characters.
func (g *ctlGuard) Rcpt(to string, opts *smtp.RcptOptions) error {
	switch {
	case g.closed:
		return replyControlChars
	case hasControl(to):
		return g.refuse("RCPT TO", "to", to)
	case opts != nil && hasControl(opts.OriginalRecipient):
		return g.refuse("RCPT TO", "orcpt", opts.OriginalRecipient)
	}
	return g.inner.Rcpt(to, opts)
}

// Data passes on (the message is checked by newlineGuard), unless the
// connection was closed for control characters.
func (g *ctlGuard) Data(r io.Reader) error {
	if g.closed {
		return replyControlChars
	}
	return g.inner.Data(r)
}

// ctlAuthGuard is ctlGuard for a session with AUTH (submission).
type ctlAuthGuard struct {
	*ctlGuard
	auth smtp.AuthSession
}

// AuthMechanisms passes on.
func (g *ctlAuthGuard) AuthMechanisms() []string { return g.auth.AuthMechanisms() }

// Auth refuses a mechanism name with control characters.
func (g *ctlAuthGuard) Auth(mech string) (sasl.Server, error) {
	switch {
	case g.closed:
		return nil, replyControlChars
	case hasControl(mech):
		return nil, g.refuse("AUTH", "mechanism", mech)
	}
	return g.auth.Auth(mech)
}
