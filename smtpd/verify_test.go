package smtpd

import (
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
	"postern/smtpd/inbound/inboundtest"
)

// verifyEnv is a test environment whose port 25 verifies senders against
// a test DNS server with these domains:
//
//	dk.example    DKIM key sel, DMARC p=reject, no SPF
//	pass.example  SPF allows 127.0.0.0/8, DMARC p=reject
//	fail.example  SPF allows only 192.0.2.1, no DMARC
//	sp.example    DMARC p=none sp=quarantine
//	example.org   (local) SPF allows only 192.0.2.1, DMARC p=none
func verifyEnv(t *testing.T, toJunk bool) (*testEnv, *inboundtest.World) {
	w := inboundtest.Start(t)
	w.AddKey(t, "dk.example", "sel")
	w.TXT(t, "_dmarc.dk.example", "v=DMARC1; p=reject")
	w.TXT(t, "pass.example", "v=spf1 ip4:127.0.0.0/8 -all")
	w.TXT(t, "_dmarc.pass.example", "v=DMARC1; p=reject")
	w.TXT(t, "fail.example", "v=spf1 ip4:192.0.2.1 -all")
	w.TXT(t, "_dmarc.sp.example", "v=DMARC1; p=none; sp=quarantine")
	w.TXT(t, "example.org", "v=spf1 ip4:192.0.2.1 -all")
	w.TXT(t, "_dmarc.example.org", "v=DMARC1; p=none")
	on := true
	cfg := Config{VerifyConfig: VerifyConfig{VerifySenders: &on, DMARCRejectToJunk: toJunk,
		DNSTimeout: 5 * time.Second, Resolver: w.Resolver()}}
	return newEnv(t, envOptions{cfg: cfg}), w
}

// sendMX sends msg from mailFrom to anna on port 25 and returns the
// reply to the end of data.
func (e *testEnv) sendMX(mailFrom, msg string) string {
	e.t.Helper()
	c := e.dial(e.mxAddr)
	defer c.Do("QUIT", "221 ")
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<"+mailFrom+">", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(msg + ".\r\n")
	return c.Reply()
}

func mxMessage(from, extra string) string {
	return extra + "From: <" + from + ">\r\nTo: anna@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"
}

// A signed, aligned message lands in the INBOX with exactly our
// Authentication-Results right under Received, and the log line names
// every result.
func TestVerifyPassEndToEnd(t *testing.T) {
	t.Parallel()
	e, w := verifyEnv(t, false)
	msg := w.Sign(t, mxMessage("a@dk.example", ""), "dk.example", "sel")
	if got := e.sendMX("b@pass.example", msg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply %q, want 250", got)
	}
	inbox := e.inbox(testkit.AnnaUser)
	if len(inbox) != 1 {
		t.Fatalf("INBOX has %d messages, want 1", len(inbox))
	}
	want := "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=b@pass.example;\r\n" +
		"\tdkim=pass header.d=dk.example header.s=sel;\r\n\tdmarc=pass header.from=dk.example\r\n" + msg
	if got := stripTrace(t, inbox[0]); got != want {
		t.Errorf("delivered:\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(e.logs.String(), `spf=pass dkim=pass:dk.example dmarc=pass policy=none header_from=dk.example own_domain=false`) {
		t.Errorf("no verification log line:\n%s", e.logs.String())
	}
}

// The policies: reject → 550 naming DMARC and the domain (or Junk with
// dmarc_reject_to_junk), sp=quarantine → Junk, a local From: domain
// without DMARC pass → 550, DMARC none → INBOX.
func TestVerifyPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mailFrom, from string
		toJunk               bool
		reply                string // prefix
		folder               string // where it lands ("" = refused)
	}{
		{"reject", "b@fail.example", "a@dk.example", false,
			"550 5.7.1 Message rejected: DMARC policy of dk.example says reject", ""},
		{"reject to junk", "b@fail.example", "a@dk.example", true, "250 ", "Junk"},
		{"subdomain quarantine", "b@fail.example", "a@news.sp.example", false, "250 ", "Junk"},
		{"domain p=none", "b@fail.example", "a@sp.example", false, "250 ", "INBOX"},
		{"own domain spoof", "b@pass.example", "boss@example.org", false,
			"550 5.7.1 Message claims a local sender domain but fails DMARC", ""},
		{"own domain spoof with own envelope", "boss@example.org", "boss@example.org", true,
			"550 5.7.1 Message claims a local sender domain", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := verifyEnv(t, tc.toJunk)
			if got := e.sendMX(tc.mailFrom, mxMessage(tc.from, "")); !strings.HasPrefix(got, tc.reply) {
				t.Fatalf("reply %q, want %q", got, tc.reply)
			}
			inbox, junk := e.inbox(testkit.AnnaUser), e.folder(testkit.AnnaUser, "Junk")
			wantInbox, wantJunk := 0, 0
			switch tc.folder {
			case "INBOX":
				wantInbox = 1
			case "Junk":
				wantJunk = 1
			}
			if len(inbox) != wantInbox || len(junk) != wantJunk {
				t.Errorf("INBOX has %d, Junk %d; want %d and %d", len(inbox), len(junk), wantInbox, wantJunk)
			}
		})
	}
}

// Quarantine recreates a deleted Junk folder, with its \Junk role.
func TestVerifyJunkCreated(t *testing.T) {
	t.Parallel()
	e, _ := verifyEnv(t, false)
	a, err := e.store.Account(testkit.AnnaUser)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteFolder("Junk"); err != nil {
		t.Fatal(err)
	}
	if got := e.sendMX("b@fail.example", mxMessage("a@x.sp.example", "")); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply %q", got)
	}
	if n := len(e.folder(testkit.AnnaUser, "Junk")); n != 1 {
		t.Fatalf("Junk has %d messages, want 1", n)
	}
	infos, err := a.Folders()
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range infos {
		if fi.Name == "Junk" && fi.SpecialUse != `\Junk` {
			t.Errorf("Junk special use %q, want \\Junk", fi.SpecialUse)
		}
	}
}

// An Authentication-Results claiming our name is removed; another
// server's stays where it was.
func TestVerifyStripsForgedResults(t *testing.T) {
	t.Parallel()
	e, _ := verifyEnv(t, false)
	foreign := "Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=x@y.example\r\n"
	msg := mxMessage("a@pass.example", "Authentication-Results: mx.example.org; dmarc=pass header.from=example.org\r\n"+foreign)
	if got := e.sendMX("b@pass.example", msg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply %q", got)
	}
	inbox := e.inbox(testkit.AnnaUser)
	if len(inbox) != 1 {
		t.Fatalf("INBOX has %d messages", len(inbox))
	}
	want := "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=b@pass.example;\r\n" +
		"\tdkim=none;\r\n\tdmarc=pass header.from=pass.example\r\n" + foreign + mxMessage("a@pass.example", "")
	if got := stripTrace(t, inbox[0]); got != want {
		t.Errorf("delivered:\n%q\nwant\n%q", got, want)
	}
}

// Authenticated submission skips verification: no header, no refusal of
// a local From: domain whose SPF would fail.
func TestVerifySubmissionSkips(t *testing.T) {
	t.Parallel()
	e, _ := verifyEnv(t, false)
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("MAIL FROM:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send("From: <anna@example.org>\r\nSubject: self\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <s@x>\r\n\r\nx\r\n.\r\n")
	c.Expect("250 ")
	c.Do("QUIT", "221 ")
	inbox := e.inbox(testkit.AnnaUser)
	if len(inbox) != 1 || strings.Contains(inbox[0], "Authentication-Results") {
		t.Fatalf("INBOX: %q, want one message without Authentication-Results", inbox)
	}
}
