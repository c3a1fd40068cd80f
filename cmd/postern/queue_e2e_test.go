package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"postern/smtpd/queue"
	"postern/smtpd/queue/dnstest"
	"postern/smtpd/queue/postfixtest"
)

// TestSubmissionReachesPostfixSigned is the outbound path end to end: a
// message submitted on port 587 (STARTTLS, AUTH) of a running "postern
// serve" for a remote domain is queued, routed by MX through a real DNS
// server on loopback, and accepted by a real Postfix, with a DKIM
// signature that verifies against the key published in that DNS and the
// submitted headers and body intact. A local recipient of the same
// message is delivered straight into the INBOX, never through Postfix.
func TestSubmissionReachesPostfixSigned(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{Domains: []string{"remote.test"}})
	_, mxPort, _ := net.SplitHostPort(pf.Addr)
	bin := posternBinary(t)
	data := openTempDir(t)

	_, name, txt, err := queue.GenerateDKIMKey(data, "example.org", "e2e", "rsa")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1", name+". TXT "+queue.QuoteTXT(txt))

	for _, args := range [][]string{
		{"domain", "add", "-data", data, "example.org"},
		{"user", "add", "-data", data, "--password-stdin", "anna@example.org"},
		{"user", "add", "-data", data, "--password-stdin", "bob@example.org"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader("anna's long password\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postern %v: %v\n%s", args, err, out)
		}
	}
	top := fmt.Sprintf("hostname = \"mail.example.org\"\ndata_dir = %q\n", data)
	sections := fmt.Sprintf("[tls]\nmode = \"self-signed\"\n[queue]\nresolver = %q\nmx_port = %s\nretry = [\"1s\"]\n", dns.Addr, mxPort)
	srv, ls := serveOnLoopback(t, top, sections)
	srv.waitFor(regexp.MustCompile(`listening.*listener=submission `), 30*time.Second)

	msg := "From: Anna <anna@example.org>\r\n" +
		"To: carl@remote.test, bob@example.org\r\n" +
		"Subject: end to end\r\n" +
		"Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <e2e-1@example.org>\r\n" +
		"\r\n" +
		"Hello from Postern through Postfix.\r\n"
	c, err := smtp.Dial(ls["submission"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "anna@example.org", "anna's long password", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("anna@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"carl@remote.test", "bob@example.org"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	c.Quit()

	var got []byte
	for end := time.Now().Add(60 * time.Second); got == nil; time.Sleep(200 * time.Millisecond) {
		if d := pf.Delivered(); len(d) > 0 {
			got = d[0]
		} else if time.Now().After(end) {
			t.Fatalf("Postfix received nothing within 60 s\npostfix log:\n%s", pf.Log())
		}
	}
	if len(pf.Delivered()) != 1 {
		t.Errorf("Postfix stored %d messages, want 1", len(pf.Delivered()))
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got), &dkim.VerifyOptions{LookupTXT: dns.LookupTXT})
	if err != nil {
		t.Fatalf("dkim verify: %v\n%s", err, got)
	}
	if len(vs) == 0 || vs[0].Err != nil || vs[0].Domain != "example.org" {
		t.Fatalf("DKIM verifications %+v\n%s", vs, got)
	}
	norm := strings.ReplaceAll(string(got), "\r\n", "\n")
	for _, want := range []string{"Subject: end to end\n", "Message-ID: <e2e-1@example.org>\n", "\n\nHello from Postern through Postfix.\n"} {
		if !strings.Contains(norm, want) {
			t.Errorf("received message lacks %q:\n%s", want, norm)
		}
	}
	// The local copy is in bob's INBOX (new/), delivered without the network.
	inbox := data + "/mail/example.org/bob/new"
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command("sh", "-c", "cat "+inbox+"/* 2>/dev/null").Output()
		if strings.Contains(string(out), "Hello from Postern through Postfix.") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("bob's INBOX has no copy\n%s", srv.output())
		}
	}
	if strings.Contains(pf.Log(), "bob@example.org") {
		t.Error("the local recipient went through Postfix")
	}
}
