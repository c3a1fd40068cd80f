package smtpd

import (
	"net"
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// ctlChars are the control characters the tests put into command lines:
// NUL, ESC, DEL and a bare CR (a bare LF ends the line for go-smtp).
// auth is the reply to "AUTH PL<b>AIN": go-smtp splits AUTH's argument
// at white space, CR included, so "PL" is the mechanism and "AIN" an
// initial response that is not base64.
var ctlChars = []struct{ name, b, auth string }{
	{"NUL", "\x00", "501 5.5.2"}, {"ESC", "\x1b", "501 5.5.2"}, {"DEL", "\x7f", "501 5.5.2"}, {"CR", "\r", "454 4.7.0"},
}

// ctlClient dials addr for test t (not the env's test, so that subtests
// can fail) and reads the greeting.
func ctlClient(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	c := newClient(t, nc, err)
	c.Expect("220 ")
	return c
}

// doClean is Do that also fails when the reply holds the control
// character b.
func doClean(t *testing.T, c *client, cmd, prefix, b string) {
	t.Helper()
	if r := c.Do(cmd, prefix); strings.Contains(r, b) {
		t.Errorf("%q: reply %q echoes the control character", cmd, r)
	}
}

func TestHasControl(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"client.example.net", false},
		{"with\ttab", false},
		{"\u00e9l\u00e8ve@exempl\u00e9.fr", false}, // SMTPUTF8
		{"", false},
		{"a\x00b", true},
		{"\x01", true},
		{"a\x1bb", true},
		{"a\rb", true},
		{"a\nb", true},
		{"\x1f", true},
		{"a\x7f", true},
		{" ~", false},
	} {
		if got := hasControl(tt.s); got != tt.want {
			t.Errorf("hasControl(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// On port 25, HELO/EHLO, MAIL FROM and RCPT TO with a control character
// are answered 501 5.5.2 and not carried out, the character is never
// echoed, and the session goes on. VRFY and NOOP reach no Postern
// callback: go-smtp answers them with fixed texts, which echo nothing.
func TestControlCharactersInCommandsMX(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, ctl := range ctlChars {
		t.Run(ctl.name, func(t *testing.T) {
			b := ctl.b
			c := ctlClient(t, e.mxAddr)
			doClean(t, c, "EHLO a"+b+"b.example", "501 5.5.2", b)
			c.Do("MAIL FROM:<sender@example.net>", "502 ") // not greeted: EHLO was not carried out
			doClean(t, c, "HELO x"+b+".example", "501 5.5.2", b)
			c.Do("EHLO client.example.net", "250 ")

			doClean(t, c, "MAIL FROM:<send"+b+"er@example.net>", "501 5.5.2", b)
			c.Do("RCPT TO:<anna@example.org>", "502 ") // no MAIL: it was not carried out
			c.Do("MAIL FROM:<sender@example.net>", "250 ")
			doClean(t, c, "RCPT TO:<an"+b+"na@example.org>", "501 5.5.2", b)
			c.Do("DATA", "502 ") // no recipient was added

			doClean(t, c, "VRFY an"+b+"na", "252 ", b)
			doClean(t, c, "NOOP x"+b+"y", "250 ", b)
			c.Do("RCPT TO:<anna@example.org>", "250 ") // the transaction is intact
			c.Do("QUIT", "221 ")
		})
	}
	if !e.logs.Contains("HELO/EHLO refused: control characters") || !e.logs.Contains("MAIL FROM refused: control characters") ||
		!e.logs.Contains("RCPT TO refused: control characters") {
		t.Errorf("refusals not logged:\n%s", e.logs)
	}
}

// On submission, the first EHLO after STARTTLS and AUTH's mechanism are
// checked too; a SASL response with a control character is not base64
// and go-smtp refuses it without echoing. A clean login still works.
func TestControlCharactersInCommandsSubmission(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, ctl := range ctlChars {
		t.Run(ctl.name, func(t *testing.T) {
			b := ctl.b
			c := ctlClient(t, e.subAddr)
			doClean(t, c, "EHLO a"+b+"b.example", "501 5.5.2", b)
			c.Do("EHLO client.example.net", "250 ")
			c.Do("STARTTLS", "220 ")
			c.UpgradeTLS(e.clientTC)
			doClean(t, c, "EHLO a"+b+"b.example", "501 5.5.2", b)
			c.Do("EHLO client.example.net", "250 ")
			doClean(t, c, "AUTH PL"+b+"AIN", ctl.auth, b)
			ir := authPlain(testkit.AnnaUser, testkit.AnnaPass)
			doClean(t, c, "AUTH PLAIN "+ir[:5]+b+ir[5:], "454 4.7.0", b)
			doClean(t, c, "MAIL FROM:<"+testkit.AnnaUser+">", "530 ", b) // no login happened
			c.Do("AUTH PLAIN "+authPlain(testkit.AnnaUser, testkit.AnnaPass), "235 ")
			doClean(t, c, "MAIL FROM:<an"+b+"na@example.org>", "501 5.5.2", b)
			c.Do("MAIL FROM:<"+testkit.AnnaUser+">", "250 ")
			doClean(t, c, "RCPT TO:<b"+b+"ob@example.org>", "501 5.5.2", b)
			c.Do("RCPT TO:<"+testkit.BobUser+">", "250 ")
			c.Do("QUIT", "221 ")
		})
	}
	if !e.logs.Contains("AUTH refused: control characters") {
		t.Errorf("AUTH refusal not logged:\n%s", e.logs)
	}
}

// A repeated EHLO reaches only Session.Reset, after which go-smtp would
// echo its argument: Postern answers 501 itself and closes the
// connection, so the control character never comes back. Plain and
// under TLS.
func TestControlCharactersInRepeatedEHLO(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, ctl := range ctlChars {
		t.Run(ctl.name, func(t *testing.T) {
			b := ctl.b
			c := ctlClient(t, e.mxAddr)
			c.Do("EHLO client.example.net", "250 ")
			doClean(t, c, "EHLO a"+b+"b.example", "501 5.5.2", b)
			if !c.closed() {
				t.Error("connection still open after a repeated EHLO with a control character")
			}

			c = ctlClient(t, e.subAddr)
			c.Do("EHLO client.example.net", "250 ")
			c.starttls(e.clientTC)
			doClean(t, c, "HELO a"+b+"b.example", "501 5.5.2", b)
			if !c.closed() {
				t.Error("TLS connection still open after a repeated HELO with a control character")
			}
		})
	}
	testkit.WaitFor(t, "the refusal in the log", func() bool {
		return e.logs.Contains("repeated HELO/EHLO refused: control characters")
	})
}
