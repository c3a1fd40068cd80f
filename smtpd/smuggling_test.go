package smtpd

import (
	"fmt"
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// smuggled is what an attacker hopes a lax server reads as a second
// message after a fake end of data.
const smuggled = "MAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nFrom: ceo@example.org\r\n\r\nsmuggled\r\n"

// Each bare CR/LF form of SMTP smuggling is refused with 550 5.6.0 after
// the whole data is read; the session stays in sync (the next command is
// answered normally) and nothing is delivered to anyone.
func TestSmugglingDATA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seqs := map[string]string{
		"LF.LF":     "\n.\n",
		"CR.CR":     "\r.\r",
		"LF.CRLF":   "\n.\r\n",
		"CRLF.LF":   "\r\n.\n",
		"CR.CRLF":   "\r.\r\n",
		"bare LF":   "\n",
		"bare CR":   "\r",
		"CRCRLF":    "\r\r\n",
		"LF at end": "\r\n\n",
	}
	for name, seq := range seqs {
		c := e.mxToAnna()
		c.Do("DATA", "354 ")
		c.Send("From: sender@example.net\r\nSubject: " + name + "\r\n\r\nfirst" + seq + smuggled + "\r\n.\r\n")
		if got := c.reply(); !strings.HasPrefix(got, "550 5.6.0") {
			t.Errorf("%s: reply %q, want 550 5.6.0", name, got)
			continue
		}
		c.Do("NOOP", "250 ")
		c.Do("QUIT", "221 ")
	}
	if n := len(e.inbox(testkit.AnnaUser)) + len(e.inbox(testkit.BobUser)); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

// A dot followed by a bare CR at the start of a line is eaten by
// go-smtp's dot-unstuffing (the dot and the CR), so no bare CR reaches
// Postern: the message is taken whole, and nothing is split off.
func TestSmugglingDotCRIsNotASplit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.mxToAnna()
	c.Do("DATA", "354 ")
	c.Send("From: sender@example.net\r\n\r\nfirst\r\n.\r" + smuggled + ".\r\n")
	c.Expect("250 ")
	c.Do("NOOP", "250 ")
	if got := e.inbox(testkit.AnnaUser); len(got) != 1 || !strings.Contains(got[0], "first\r\nMAIL FROM:<ceo@example.org>\r\n") {
		t.Errorf("anna's INBOX: %q", got)
	}
	if got := e.inbox(testkit.BobUser); len(got) != 0 {
		t.Errorf("smuggled message delivered to bob: %q", got)
	}
}

// BDAT chunks carry raw bytes: bare CR/LF in them are refused the same
// way, and the chunk sizes keep the session in sync.
func TestSmugglingBDAT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, seq := range []string{"\n.\n", "\r.\r", "\n.\r\n", "\n", "\r"} {
		c := e.mxToAnna()
		first := "From: sender@example.net\r\n\r\nfirst" + seq
		c.Send(fmt.Sprintf("BDAT %d\r\n%s", len(first), first))
		c.Expect("250 ")
		rest := smuggled + "end\r\n"
		c.Send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(rest), rest))
		if got := c.reply(); !strings.HasPrefix(got, "550 5.6.0") {
			t.Errorf("BDAT with %q: reply %q, want 550 5.6.0", seq, got)
		}
		c.Do("NOOP", "250 ")
	}
	if n := len(e.inbox(testkit.AnnaUser)) + len(e.inbox(testkit.BobUser)); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
	// A clean BDAT message goes through.
	c := e.mxToAnna()
	msg := testMessage("sender@example.net", "bdat")
	c.Send(fmt.Sprintf("BDAT %d\r\n%s", 10, msg[:10]))
	c.Expect("250 ")
	c.Send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-10, msg[10:]))
	c.Expect("250 2.0.0")
	if got := e.inbox(testkit.AnnaUser); len(got) != 1 || stripTrace(t, got[0]) != msg {
		t.Errorf("BDAT message: %q", got)
	}
}
