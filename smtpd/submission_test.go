package smtpd

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
)

// authPlain is the AUTH PLAIN initial response for user and password.
func authPlain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// login opens a submission session over STARTTLS and logs in.
func (e *testEnv) login(user, pass string) *client {
	e.t.Helper()
	c := e.dial(e.subAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.starttls(e.clientTC)
	c.Do("AUTH PLAIN "+authPlain(user, pass), "235 2.0.0")
	return c
}

// Before TLS, submission offers no AUTH and refuses it; MAIL before AUTH
// gets 530 5.7.0 with or without TLS, so nothing can be relayed.
func TestSubmissionAuthNeedsTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial(e.subAddr)
	if ehlo := c.Do("EHLO client.example.net", "250 "); strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO before TLS:\n%s", ehlo)
	}
	c.Do("AUTH PLAIN "+authPlain(testkit.AnnaUser, testkit.AnnaPass), "523 5.7.10")
	c.Do("AUTH LOGIN", "523 5.7.10")
	c.Do("MAIL FROM:<anna@example.org>", "530 5.7.0")
	c.starttls(e.clientTC)
	c.Send("EHLO client.example.net\r\n")
	if ehlo := c.Expect("250 "); !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO under TLS lacks AUTH PLAIN LOGIN:\n%s", ehlo)
	}
	c.Do("MAIL FROM:<anna@example.org>", "530 5.7.0")
	c.Do("RCPT TO:<user@other.example>", "502 5.5.1")
}

// Without a certificate submission offers neither STARTTLS nor AUTH.
func TestSubmissionWithoutTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noTLS: true})
	c := e.dial(e.subAddr)
	if ehlo := c.Do("EHLO client.example.net", "250 "); strings.Contains(ehlo, "AUTH") || strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO without certificate:\n%s", ehlo)
	}
	c.Do("AUTH PLAIN "+authPlain(testkit.AnnaUser, testkit.AnnaPass), "523 5.7.10")
	c.Do("MAIL FROM:<anna@example.org>", "530 5.7.0")
}

// The relay matrix on unauthenticated submission: every recipient form is
// refused, since nothing passes MAIL before AUTH.
func TestSubmissionUnauthenticatedRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{withQ: true})
	for _, rcpt := range []string{"<user@other.example>", "<user%other.example@example.org>",
		"<@a.example,@b.example:user@c.example>", `<"user@other.example"@example.org>`, "<user@other.example.>",
		"<user@OTHER.EXAMPLE>", "<user@[192.0.2.1]>", "<user@[IPv6:2001:db8::1]>", "<anna@example.org>"} {
		c := e.dial(e.subAddr)
		c.Do("EHLO client.example.net", "250 ")
		c.starttls(e.clientTC)
		c.Do("MAIL FROM:<anna@example.org>", "530 5.7.0")
		if got := c.Do("RCPT TO:"+rcpt, ""); !strings.HasPrefix(got, "5") {
			t.Errorf("unauthenticated RCPT TO:%s = %q", rcpt, got)
		}
	}
	if n := len(e.queued()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

// Logins: PLAIN and LOGIN (with and without initial response), wrong
// passwords, a foreign authorization identity, cancelled exchanges.
func TestSubmissionAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name  string
		lines []string // client lines; replies checked by prefix
		want  []string
	}{
		{"plain", []string{"AUTH PLAIN " + authPlain(testkit.AnnaUser, testkit.AnnaPass)}, []string{"235 2.0.0"}},
		{"plain, bare local part", []string{"AUTH PLAIN " + authPlain("anna", testkit.AnnaPass)}, []string{"235 "}},
		{"plain, no initial response", []string{"AUTH PLAIN", authPlain(testkit.BobUser, testkit.BobPass)}, []string{"334 ", "235 "}},
		{"plain, wrong password", []string{"AUTH PLAIN " + authPlain(testkit.AnnaUser, "wrong-password")}, []string{"535 5.7.8"}},
		{"plain, unknown user", []string{"AUTH PLAIN " + authPlain("nobody@example.org", testkit.AnnaPass)}, []string{"535 5.7.8"}},
		{"plain, other authzid", []string{"AUTH PLAIN " + b64(testkit.BobUser+"\x00"+testkit.AnnaUser+"\x00"+testkit.AnnaPass)}, []string{"535 5.7.8"}},
		{"login", []string{"AUTH LOGIN", b64(testkit.AnnaUser), b64(testkit.AnnaPass)}, []string{"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 "}},
		{"login, initial response", []string{"AUTH LOGIN " + b64(testkit.AnnaUser), b64(testkit.AnnaPass)}, []string{"334 UGFzc3dvcmQ6", "235 "}},
		{"login, wrong password", []string{"AUTH LOGIN", b64(testkit.AnnaUser), b64("nope-nope")}, []string{"334 ", "334 ", "535 5.7.8"}},
		{"login, cancelled", []string{"AUTH LOGIN", "*"}, []string{"334 ", "501 "}},
		{"login, bad base64", []string{"AUTH LOGIN", "!!!"}, []string{"334 ", "454 "}},
		{"cram-md5", []string{"AUTH CRAM-MD5"}, []string{"504 5.7.4"}},
	}
	for _, tt := range tests {
		c := e.dialTLS()
		c.Do("EHLO client.example.net", "250 ")
		for i, l := range tt.lines {
			if got := c.Do(l, ""); !strings.HasPrefix(got, tt.want[i]) {
				t.Errorf("%s: %q got %q, want %q", tt.name, l, got, tt.want[i])
				break
			}
		}
	}
}

// Failed logins are throttled by accounts: after the source's limit even
// the right password is refused with 454 4.7.0.
func TestSubmissionThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{throttle: accounts.ThrottleConfig{FreeFailures: 1, InitialDelay: 10 * time.Millisecond,
		MaxDelay: 20 * time.Millisecond, SourceLimit: 3, SourceBan: time.Hour}})
	c := e.dialTLS()
	c.Do("EHLO client.example.net", "250 ")
	for range 3 {
		c.Do("AUTH PLAIN "+authPlain(testkit.AnnaUser, "wrong-password"), "535 5.7.8")
	}
	c.Do("AUTH PLAIN "+authPlain(testkit.AnnaUser, testkit.AnnaPass), "454 4.7.0")
	c.Do("MAIL FROM:<anna@example.org>", "530 5.7.0")
}

// The envelope sender must be the user's: own address, plus variant, or
// an alias that targets the user; not another user's, not a catch-all,
// not the null sender.
func TestSubmissionSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{aliases: "sales@example.org: anna@example.org, bob@example.org\n" +
		"bobs@example.org: bob@example.org\n@example.org: anna@example.org\n"})
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	for _, tt := range []struct{ from, want string }{
		{"<anna@example.org>", "250 "},
		{"<Anna@Example.Org>", "250 "},
		{"<anna+lists@example.org>", "250 "},
		{"<sales@example.org>", "250 "},
		{"<bob@example.org>", "553 5.7.1"},
		{"<bobs@example.org>", "553 5.7.1"},
		{"<random@example.org>", "553 5.7.1"},
		{"<anna@other.example>", "553 5.7.1"},
		{"<>", "553 5.7.1"},
		{"<anna%other@example.org>", "554 5.7.1"},
	} {
		if got := c.Do("MAIL FROM:"+tt.from, ""); !strings.HasPrefix(got, tt.want) {
			t.Errorf("MAIL FROM:%s = %q, want %q", tt.from, got, tt.want)
		}
		c.Do("RSET", "250 ")
	}
}

// The From: header must be the user's too (checked after DATA); missing
// Date and Message-ID are added; the rest arrives byte for byte.
func TestSubmissionHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name, msg, want string
		added           []string
	}{
		{"own From", testMessage("Anna <anna@example.org>", "own"), "250 ", nil},
		{"plus From", testMessage("anna+x@example.org", "plus"), "250 ", nil},
		{"foreign From", testMessage("Boss <boss@example.org>", "spoof"), "553 5.7.1", nil},
		{"other user's From", testMessage("bob@example.org", "bob"), "553 5.7.1", nil},
		{"two From addresses", testMessage("anna@example.org, bob@example.org", "two"), "553 5.7.1", nil},
		{"no From", "Subject: none\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <nf@example.org>\r\n\r\nx\r\n",
			"250 ", []string{"From: <anna@example.org>"}},
		{"nothing but a body", "\r\nhello\r\n", "250 ", []string{"From: <anna@example.org>", "Date: ", "Message-ID: <"}},
		{"bad From", "From: <<<\r\n\r\nx\r\n", "550 5.6.0", nil},
		{"two From headers", "From: anna@example.org\r\nFrom: anna@example.org\r\n\r\nx\r\n", "550 5.6.0", nil},
		{"no Date, no Message-ID", "From: anna@example.org\r\nSubject: bare\r\n\r\nbody\r\n", "250 ",
			[]string{"Date: ", "Message-ID: <"}},
		{"encoded display name", "From: =?x-unknown?q?Anna?= <anna@example.org>\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\n" +
			"Message-ID: <enc@example.org>\r\n\r\nbody\r\n", "250 ", nil},
	}
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	delivered := 0
	for _, tt := range tests {
		c.Do("MAIL FROM:<anna@example.org>", "250 ")
		c.Do("RCPT TO:<bob@example.org>", "250 ")
		c.Do("DATA", "354 ")
		c.Send(tt.msg + ".\r\n")
		if got := c.reply(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			continue
		}
		if tt.want != "250 " {
			continue
		}
		delivered++
		msgs := e.inbox(testkit.BobUser)
		if len(msgs) != delivered {
			t.Fatalf("%s: bob has %d messages, want %d", tt.name, len(msgs), delivered)
		}
		rest := stripTrace(t, msgs[delivered-1])
		if !strings.Contains(msgs[delivered-1], "with ESMTPSA id ") {
			t.Errorf("%s: Received lacks ESMTPSA:\n%s", tt.name, msgs[delivered-1])
		}
		for _, h := range tt.added {
			if !strings.HasPrefix(rest, h) {
				t.Fatalf("%s: added header %q missing:\n%s", tt.name, h, rest)
			}
			rest = rest[strings.Index(rest, "\r\n")+2:]
		}
		if rest != tt.msg {
			t.Errorf("%s: message changed:\n got %q\nwant %q", tt.name, rest, tt.msg)
		}
	}
}

// Remote recipients are queued when there is a queue, refused with 451
// 4.3.0 when there is not; local ones are delivered in the same message.
func TestSubmissionRemote(t *testing.T) {
	t.Parallel()
	noq := newEnv(t, envOptions{})
	c := noq.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("MAIL FROM:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<friend@other.example>", "451 4.3.0")

	e := newEnv(t, envOptions{withQ: true})
	c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("MAIL FROM:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<friend@other.example>", "250 ")
	c.Do("RCPT TO:<bob@example.org>", "250 ")
	c.Do("DATA", "354 ")
	msg := testMessage("anna@example.org", "out")
	c.Send(msg + ".\r\n")
	c.Expect("250 ")
	envs := e.queued()
	if len(envs) != 1 || len(envs[0].Rcpts) != 1 || envs[0].Rcpts[0].Addr != "friend@other.example" || envs[0].From != testkit.AnnaUser {
		t.Fatalf("queue: %+v", envs)
	}
	if got := e.inbox(testkit.BobUser); len(got) != 1 || stripTrace(t, got[0]) != msg {
		t.Errorf("bob's INBOX: %q", got)
	}
}

// A recipient whose mailbox is full: refused at RCPT (452 4.2.2) when it
// already is; when this message overflows it while another recipient got
// it, the full one is handed to the queue for retry (no loss, no
// duplicate) and the reply is 250; without a queue the sender is asked to
// retry.
func TestPartialDeliveryFailure(t *testing.T) {
	t.Parallel()
	for _, withQ := range []bool{true, false} {
		e := newEnv(t, envOptions{withQ: withQ})
		c := e.overflowBob("partial")
		if withQ {
			c.Expect("250 ")
			envs := e.queued()
			if len(envs) != 1 || envs[0].Rcpts[0].Addr != testkit.BobUser {
				t.Errorf("queue: %+v", envs)
			}
		} else {
			c.Expect("452 4.2.2")
		}
		if n := len(e.inbox(testkit.AnnaUser)); n != 1 {
			t.Errorf("anna has %d messages", n)
		}
		// Only bob, who is over quota: refused at DATA.
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		c.Do("RCPT TO:<bob@example.org>", "250 ")
		c.Do("DATA", "354 ")
		c.Send(testMessage("sender@example.net", "full") + ".\r\n")
		c.Expect("452 4.2.2")
		// Once usage reaches the quota, RCPT itself is refused.
		if err := e.accts.SetQuota(testkit.BobUser, 0, 0); err != nil {
			t.Fatal(err)
		}
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		c.Do("RCPT TO:<bob@example.org>", "250 ")
		c.Do("DATA", "354 ")
		c.Send(testMessage("sender@example.net", "fits") + ".\r\n")
		c.Expect("250 ")
		if err := e.accts.SetQuota(testkit.BobUser, 0, 1); err != nil {
			t.Fatal(err)
		}
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		c.Do("RCPT TO:<bob@example.org>", "452 4.2.2")
		c.Do("RCPT TO:<anna@example.org>", "250 ")
	}
}
