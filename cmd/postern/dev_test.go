package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// devSettings is what "postern dev" printed.
type devSettings struct {
	password  string
	listeners map[string]string
	commands  []string // the printed "Try:" lines
}

var (
	devTryRE      = regexp.MustCompile(`(?s)Password:\s+(\S+).*Listeners.*?\n((?:  \S+ +\S+ +.*\n)+)\nTry:\n((?:  .*\n)+)`)
	devListenerRE = regexp.MustCompile(`(?m)^  (\S+) +(127\.0\.0\.1:\d+) `)
)

func startDev(t *testing.T, data string) (*proc, devSettings) {
	t.Helper()
	bin := posternBinary(t)
	base := 20000 + rand.IntN(30000)
	p := startProc(t, "postern dev", nil, bin, "dev", "-data", data, "-port-base", strconv.Itoa(base))
	m := p.waitFor(devTryRE, 60*time.Second)
	s := devSettings{password: m[1], listeners: map[string]string{}}
	for _, l := range devListenerRE.FindAllStringSubmatch(m[2], -1) {
		s.listeners[l[1]] = l[2]
	}
	for _, l := range strings.Split(strings.TrimRight(m[3], "\n"), "\n") {
		s.commands = append(s.commands, strings.TrimSpace(l))
	}
	if len(s.listeners) != 7 {
		t.Fatalf("want 7 listeners printed, got %v", s.listeners)
	}
	return p, s
}

// curl runs curl with args and returns its output; failure fails the test.
func curl(t *testing.T, curlBin string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(curlBin, append([]string{"-sS", "-k", "--max-time", "30"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDevFromCleanDirectoryWithCurl(t *testing.T) {
	t.Parallel()
	curlBin := testkit.RequireTool(t, "curl")
	data := filepath.Join(t.TempDir(), "dev-data")
	p, s := startDev(t, data)
	user := devUser + ":" + s.password
	msg := func(subject string) string {
		return "From: demo@example.test\r\nTo: demo@example.test\r\nSubject: " + subject + "\r\n\r\nhello from curl\r\n"
	}
	// Mail from elsewhere must not claim the household's own domain in
	// From: (on port 25 that is refused as spoofing when it cannot be
	// verified).
	inbound := "From: someone@elsewhere.test\r\nTo: demo@example.test\r\nSubject: via mx\r\n\r\nhello from curl\r\n"

	// Incoming mail on the MX port (no login), submission with STARTTLS
	// and with implicit TLS (login).
	curl(t, curlBin, inbound, "smtp://"+s.listeners["smtp"], "--mail-from", "someone@elsewhere.test",
		"--mail-rcpt", devUser, "-T", "-")
	curl(t, curlBin, msg("via submission"), "--ssl-reqd", "smtp://"+s.listeners["submission"], "--user", user,
		"--mail-from", devUser, "--mail-rcpt", devUser, "-T", "-")
	curl(t, curlBin, msg("via submissions"), "smtps://"+s.listeners["submissions"], "--user", user,
		"--mail-from", devUser, "--mail-rcpt", devUser, "-T", "-")

	// IMAP: STARTTLS and implicit TLS.
	status := curl(t, curlBin, "", "--ssl-reqd", "imap://"+s.listeners["imap"]+"/INBOX", "--user", user,
		"-X", "STATUS INBOX (MESSAGES)")
	if !strings.Contains(status, "MESSAGES 3") {
		t.Errorf("IMAP STATUS after three deliveries: %q", status)
	}
	body := curl(t, curlBin, "", "imaps://"+s.listeners["imaps"]+"/INBOX;UID=1", "--user", user)
	if !strings.Contains(body, "Subject: via mx") || !strings.Contains(body, "hello from curl") {
		t.Errorf("IMAPS fetch of UID 1: %q", body)
	}

	// POP3: STLS and implicit TLS.
	list := curl(t, curlBin, "", "--ssl-reqd", "pop3://"+s.listeners["pop3"]+"/", "--user", user)
	if strings.Count(list, "\n") != 3 {
		t.Errorf("POP3 LIST: want 3 messages, got %q", list)
	}
	retr := curl(t, curlBin, "", "pop3s://"+s.listeners["pop3s"]+"/2", "--user", user)
	if !strings.Contains(retr, "Subject: via submission") {
		t.Errorf("POP3S RETR 2: %q", retr)
	}

	// Credentials never travel in the clear: plain IMAP without STARTTLS
	// must refuse the login.
	cmd := exec.Command(curlBin, "-sS", "--max-time", "20", "imap://"+s.listeners["imap"]+"/INBOX", "--user", user, "-X", "NOOP")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("login over plain IMAP succeeded: %s", out)
	}

	// Every printed curl example works as printed.
	for _, c := range s.commands {
		if !strings.Contains(c, "curl ") {
			continue
		}
		out, err := exec.Command("bash", "-c", c).CombinedOutput()
		if err != nil {
			t.Errorf("printed command failed: %s\n%v\n%s", c, err, out)
		}
	}

	if err, took := p.signalAndWait(sigTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (took %v)", err, took)
	}
	if _, err := os.Stat(filepath.Join(data, "accounts", "users")); err != nil {
		t.Errorf("no users file in the dev data directory: %v", err)
	}

	// A second start reuses the directory and prints a new password that works.
	p2, s2 := startDev(t, data)
	if s2.password == s.password {
		t.Error("second start printed the same password")
	}
	curl(t, curlBin, "", "pop3s://"+s2.listeners["pop3s"]+"/", "--user", devUser+":"+s2.password)
	p2.signalAndWait(sigTERM, 15*time.Second)
}
