package smtpd

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// clientMessage is a message a real client submits: a leading-dot line
// (dot-stuffing), a long line, 8-bit text; CRLF line ends.
func clientMessage(subject string) string {
	return "From: Anna <anna@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
		"\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
		"@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Grüße from a real client.\r\n.leading dot\r\n..two dots\r\n" + strings.Repeat("long ", 150) + "\r\nend\r\n"
}

// run runs a client program with stdin and fails the test on error.
func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s timed out:\n%s", name, out.String())
	}
}

// checkArrived asserts that bob's INBOX holds msg byte for byte after the
// trace headers, with an ESMTPSA Received header.
func (e *testEnv) checkArrived(t *testing.T, msg string) {
	t.Helper()
	for _, got := range e.inbox(testkit.BobUser) {
		if strings.Contains(got, "Subject: "+subjectOf(msg)+"\r\n") {
			if rest := stripTrace(t, got); rest != msg {
				t.Errorf("message changed in transit:\n got %q\nwant %q", rest, msg)
			}
			if !strings.Contains(got, "with ESMTPSA id ") || !strings.Contains(got, "(version=TLS1.") {
				t.Errorf("Received header lacks ESMTPSA/TLS:\n%s", got)
			}
			return
		}
	}
	t.Errorf("message %q not in bob's INBOX", subjectOf(msg))
}

func subjectOf(msg string) string {
	_, s, _ := strings.Cut(msg, "Subject: ")
	s, _, _ = strings.Cut(s, "\r\n")
	return s
}

func portOf(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// swaks submits over 587 (STARTTLS, AUTH PLAIN) and 465 (AUTH LOGIN).
func TestClientSwaks(t *testing.T) {
	t.Parallel()
	swaks := testkit.RequireTool(t, "swaks")
	if out, _ := exec.Command(swaks, "--support").CombinedOutput(); !strings.Contains(string(out), "=== TLS supported") {
		// Debian's swaks needs libnet-ssleay-perl (a Recommends) for TLS.
		testkit.Unavailable(t, "swaks has no TLS support (install libnet-ssleay-perl):\n%s", out)
	}
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"swaks 587", []string{"--port", portOf(t, e.subAddr), "--tls", "--auth", "PLAIN"}},
		{"swaks 465", []string{"--port", portOf(t, e.subsAddr), "--tls-on-connect", "--auth", "LOGIN"}},
	} {
		msg := clientMessage(tc.name)
		args := append([]string{"--server", "127.0.0.1", "--auth-user", testkit.AnnaUser, "--auth-password", testkit.AnnaPass,
			"--from", testkit.AnnaUser, "--to", testkit.BobUser, "--data", "-", "--helo", "client.example.net", "--silent", "2"}, tc.args...)
		run(t, msg+".\r\n", swaks, args...)
		e.checkArrived(t, msg)
	}
}

// msmtp submits over 587 (STARTTLS) and 465, verifying the certificate
// against the test CA, with AUTH LOGIN and PLAIN.
func TestClientMsmtp(t *testing.T) {
	t.Parallel()
	msmtp := testkit.RequireTool(t, "msmtp")
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"msmtp 587", []string{"--port=" + portOf(t, e.subAddr), "--tls-starttls=on", "--auth=login"}},
		{"msmtp 465", []string{"--port=" + portOf(t, e.subsAddr), "--tls-starttls=off", "--auth=plain"}},
	} {
		msg := clientMessage(tc.name)
		args := append([]string{"--host=127.0.0.1", "--tls=on", "--tls-trust-file=" + e.caFile,
			"--user=" + testkit.AnnaUser, "--passwordeval=echo " + testkit.AnnaPass, "--from=" + testkit.AnnaUser, "--domain=client.example.net",
		}, tc.args...)
		run(t, msg, msmtp, append(args, testkit.BobUser)...)
		e.checkArrived(t, msg)
	}
}

// Python's smtplib submits over 587 (starttls, login with PLAIN) and 465
// (SMTP_SSL, AUTH LOGIN), verifying against the test CA.
func TestClientPythonSmtplib(t *testing.T) {
	t.Parallel()
	python := testkit.RequireTool(t, "python3")
	e := newEnv(t, envOptions{})
	script := `
import smtplib, ssl, sys
port, mode, ca, user, pw, rcpt, path = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
msg = open(path, "rb").read()
if mode == "starttls":
    s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example.net", timeout=30)
    s.starttls(context=ctx)
    s.login(user, pw)
else:
    s = smtplib.SMTP_SSL("127.0.0.1", int(port), local_hostname="client.example.net", context=ctx, timeout=30)
    s.ehlo()
    s.user, s.password = user, pw
    s.auth("LOGIN", s.auth_login)
s.sendmail(user, [rcpt], msg)
s.quit()
`
	dir := t.TempDir()
	scriptFile := filepath.Join(dir, "send.py")
	os.WriteFile(scriptFile, []byte(script), 0o600)
	for i, tc := range []struct{ name, addr, mode string }{
		{"smtplib 587", e.subAddr, "starttls"},
		{"smtplib 465", e.subsAddr, "ssl"},
	} {
		msg := clientMessage(tc.name)
		msgFile := filepath.Join(dir, fmt.Sprintf("msg%d", i))
		os.WriteFile(msgFile, []byte(msg), 0o600)
		run(t, "", python, scriptFile, portOf(t, tc.addr), tc.mode, e.caFile, testkit.AnnaUser, testkit.AnnaPass, testkit.BobUser, msgFile)
		e.checkArrived(t, msg)
	}
}
