package smtpd

import (
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// A message to a local user over port 25 arrives in the INBOX unchanged
// after Return-Path and Received.
func TestMXDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<Anna@Example.ORG>", "250 ")
	c.Do("DATA", "354 ")
	body := testMessage("sender@example.net", "hello")
	c.Send(body + ".\r\n")
	c.Expect("250 2.0.0")
	c.Do("QUIT", "221 ")
	msgs := e.inbox(testkit.AnnaUser)
	if len(msgs) != 1 {
		t.Fatalf("INBOX has %d messages, want 1", len(msgs))
	}
	if got := stripTrace(t, msgs[0]); got != body {
		t.Errorf("delivered body differs:\n got %q\nwant %q", got, body)
	}
	for _, want := range []string{"Return-Path: <sender@example.net>\r\n", "Received: from client.example.net (",
		"[127.0.0.1])", "by mx.example.org (Postern) with ESMTP id ", "for <anna@example.org>;"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("delivered message lacks %q:\n%s", want, msgs[0])
		}
	}
}

// EHLO on port 25 advertises the extensions of the issue and no AUTH,
// even under TLS; AUTH is refused.
func TestMXEhloExtensions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial(e.mxAddr)
	ehlo := c.Do("EHLO client.example.net", "250 ")
	for _, ext := range []string{"STARTTLS", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "PIPELINING",
		"ENHANCEDSTATUSCODES", "CHUNKING", "LIMITS RCPTMAX=100"} {
		if !strings.Contains(ehlo, "250-"+ext+"\n") && !strings.HasSuffix(ehlo, "250 "+ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO on port 25 offers AUTH:\n%s", ehlo)
	}
	c.Do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "5")
	c.starttls(e.clientTC)
	c.Send("EHLO client.example.net\r\n")
	if ehlo := c.Expect("250 "); strings.Contains(ehlo, "AUTH") || strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO under TLS on port 25 offers AUTH or STARTTLS:\n%s", ehlo)
	}
	c.Do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "504 5.7.4")
}

// Without a TLS configuration (port 25 before the certificate) there is
// no STARTTLS, and mail still arrives.
func TestMXWithoutTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noTLS: true})
	c := e.dial(e.mxAddr)
	if ehlo := c.Do("EHLO client.example.net", "250 "); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO offers STARTTLS without a certificate:\n%s", ehlo)
	}
	c.Do("STARTTLS", "502 ")
	c.Do("MAIL FROM:<>", "250 ")
	c.Do("RCPT TO:<bob@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(testMessage("mailer-daemon@example.net", "bounce") + ".\r\n")
	c.Expect("250 ")
	if msgs := e.inbox(testkit.BobUser); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "Return-Path: <>\r\n") {
		t.Fatalf("bob's INBOX: %q", msgs)
	}
}

// The TLS version and cipher go into the Received header.
func TestMXReceivedTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.starttls(e.clientTC)
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<bob@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(testMessage("sender@example.net", "tls") + ".\r\n")
	c.Expect("250 ")
	for _, u := range []string{testkit.AnnaUser, testkit.BobUser} {
		msgs := e.inbox(u)
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", u, len(msgs))
		}
		if !strings.Contains(msgs[0], "with ESMTPS id ") || !strings.Contains(msgs[0], "(version=TLS1.3 cipher=TLS_") {
			t.Errorf("Received lacks TLS details:\n%s", msgs[0])
		}
		if strings.Contains(msgs[0], "\tfor <") {
			t.Errorf("Received names a recipient of a multi-recipient message:\n%s", msgs[0])
		}
	}
}

// Recipients on port 25: only what accounts resolves is taken; other
// domains are relaying, whatever the form of the address.
func TestMXRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{aliases: "info@example.org: anna@example.org\n"})
	tests := []struct {
		rcpt string
		want string
	}{
		{"<anna@example.org>", "250 "},
		{"<anna+shop@example.org>", "250 "},
		{"<ANNA@EXAMPLE.ORG>", "250 "},
		{"<info@example.org>", "250 "},
		{"<postmaster@example.org>", "250 "},
		{"<nobody@example.org>", "550 5.1.1"},
		{"<user@other.example>", "554 5.7.1"},
		{"<user@OTHER.EXAMPLE>", "554 5.7.1"},
		{"<user@Other.Example>", "554 5.7.1"},
		{"<user@localhost>", "554 5.7.1"},
		{"<user%other.example@example.org>", "554 5.7.1"},
		{"<user!other.example@example.org>", "554 5.7.1"},
		{"<other.example!user@example.org>", "554 5.7.1"},
		{"<@example.org,@relay.example:user@other.example>", "554 5.7.1"},
		{`<"user@other.example"@example.org>`, "554 5.7.1"},
		{`<"anna"@example.org>`, "250 "},
		{"<user@other.example.>", "553 5.1.3"},
		{"<anna@example.org.>", "553 5.1.3"},
		{"<user@[127.0.0.1]>", "554 5.7.1"},
		{"<user@[192.0.2.1]>", "554 5.7.1"},
		{"<user@[IPv6:::1]>", "554 5.7.1"},
		{"<anna@[IPv6:2001:db8::1]>", "554 5.7.1"},
		{"<user@127.0.0.1>", "554 5.7.1"},
		{"<>", "501 "},
	}
	for _, tt := range tests {
		c := e.dial(e.mxAddr)
		c.Do("EHLO client.example.net", "250 ")
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		if got := c.Do("RCPT TO:"+tt.rcpt, ""); !strings.HasPrefix(got, tt.want) {
			t.Errorf("RCPT TO:%s = %q, want %q", tt.rcpt, got, tt.want)
		}
		c.NC.Close()
	}
}
