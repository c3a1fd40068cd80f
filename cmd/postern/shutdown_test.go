package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
)

// shutdownIdlers is how many IMAP sessions sit in IDLE during the stop.
const shutdownIdlers = 100

// writeTestUser writes the users file with a line for user (bcrypt at
// the minimum cost: the tests log in many times), readable by the server
// after it drops to "nobody".
func writeTestUser(t *testing.T, accDir, user, password string) {
	t.Helper()
	os.MkdirAll(accDir, 0o755)
	if err := os.WriteFile(filepath.Join(accDir, accounts.UsersFile), []byte(testkit.PasswdLine(user, password)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// selfSignedServer starts "postern serve" in self-signed mode on free
// loopback ports with one user, and waits until it listens.
func selfSignedServer(t *testing.T, shutdownTimeout time.Duration) (*proc, mailListeners, string) {
	t.Helper()
	return selfSignedServerWith(t, shutdownTimeout, "", nil)
}

// selfSignedServerWith is selfSignedServer with further [imap] keys and a
// prepare function that may fill the data directory before the start.
func selfSignedServerWith(t *testing.T, shutdownTimeout time.Duration, imapKeys string, prepare func(data string)) (*proc, mailListeners, string) {
	t.Helper()
	dir := openTempDir(t)
	data := filepath.Join(dir, "data")
	writeTestUser(t, filepath.Join(data, "accounts"), "anna@example.test", "secret-pass")
	if prepare != nil {
		prepare(data)
	}
	os.Chmod(data, 0o755)
	top := fmt.Sprintf("hostname = \"localhost\"\ndata_dir = %q\nshutdown_timeout = %q\n", data, shutdownTimeout.String())
	p, ls := serveOnLoopback(t, top, "[accounts]\ndomains = [\"example.test\"]\n[tls]\nmode = \"self-signed\"\n[imap]\nmax_conns_per_user_ip = 200\n# 100 idlers connect from one address at once.\nmax_connections_per_ip = 200\nmax_connections_per_network = 300\n"+imapKeys)
	p.waitFor(regexp.MustCompile(`listener=pop3s`), 30*time.Second)
	return p, ls, data
}

// idler is one IMAP session in IDLE.
type idler struct {
	c *tls.Conn
	r *bufio.Reader
}

func startIdler(addr string) (*idler, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	readUntil := func(prefix string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("waiting for %q: %w", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return nil
			}
			if strings.HasPrefix(line, "a ") || strings.HasPrefix(line, "b ") {
				return fmt.Errorf("waiting for %q: %q", prefix, line)
			}
		}
	}
	steps := []struct{ cmd, want string }{
		{"", "* OK"}, {"a LOGIN anna@example.test secret-pass", "a OK"}, {"b SELECT INBOX", "b OK"}, {"c IDLE", "+"},
	}
	for _, s := range steps {
		if s.cmd != "" {
			io.WriteString(c, s.cmd+"\r\n")
		}
		if err := readUntil(s.want); err != nil {
			c.Close()
			return nil, err
		}
	}
	return &idler{c: c, r: r}, nil
}

// TestShutdownDuringDataAndIdle is the shutdown test: SIGTERM
// while a 10 MB message is being sent on port 25 and 100 IMAP sessions
// are in IDLE. The transfer is either accepted (and then delivered in
// full) or refused with a 4xx (and then not delivered at all); every
// IDLE session gets a BYE; the process exits 0 within the bound.
func TestShutdownDuringDataAndIdle(t *testing.T) {
	t.Parallel()
	const bound = 20 * time.Second
	srv, ls, data := selfSignedServer(t, bound)

	idlers := make([]*idler, shutdownIdlers)
	var wg sync.WaitGroup
	errs := make(chan error, shutdownIdlers)
	for i := range idlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			idlers[i], err = startIdler(ls["imaps"])
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("setting up IDLE sessions: %v", err)
	}

	// Start a 10 MB message on port 25 and stop half way.
	c, err := net.DialTimeout("tcp", ls["smtp"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * bound))
	r := bufio.NewReader(c)
	reply := func() string {
		var line string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return "EOF: " + err.Error()
			}
			line = l
			if len(l) < 4 || l[3] != '-' {
				return line
			}
		}
	}
	reply()
	for _, cmd := range []string{"EHLO client.test", "MAIL FROM:<x@elsewhere.test>", "RCPT TO:<anna@example.test>", "DATA"} {
		io.WriteString(c, cmd+"\r\n")
		if got := reply(); got[0] != '2' && got[0] != '3' {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	line := strings.Repeat("x", 998) + "\r\n"
	const total = 10 << 20
	body := "Subject: big\r\n\r\n" + strings.Repeat(line, total/len(line))
	half := len(body) / 2
	if _, err := io.WriteString(c, body[:half]); err != nil {
		t.Fatal(err)
	}

	srv.cmd.Process.Signal(sigTERM)
	start := time.Now()
	// The rest of the transfer, then the end of DATA.
	io.WriteString(c, body[half:]+".\r\n")
	final := reply()
	accepted := strings.HasPrefix(final, "250")
	if !accepted && !strings.HasPrefix(final, "4") {
		t.Errorf("end of DATA during shutdown answered %q; want 250 or 4xx", final)
	}

	// Every IDLE session is told BYE and closed.
	var byes, others int
	for _, id := range idlers {
		gotBye := false
		for {
			l, err := id.r.ReadString('\n')
			if strings.HasPrefix(l, "* BYE") {
				gotBye = true
			}
			if err != nil {
				break
			}
		}
		if gotBye {
			byes++
		} else {
			others++
		}
		id.c.Close()
	}
	if byes != shutdownIdlers {
		t.Errorf("%d of %d IDLE sessions got BYE", byes, shutdownIdlers)
	}

	select {
	case <-srv.done:
	case <-time.After(bound + 10*time.Second):
		t.Fatalf("still running %v after SIGTERM (bound %v)", time.Since(start), bound)
	}
	if srv.err != nil {
		t.Errorf("exit status after SIGTERM: %v", srv.err)
	}

	// Either the whole message is in the INBOX or nothing is.
	var found []int64
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(data, "mail", "example.test", "anna", sub))
		for _, e := range ents {
			fi, err := e.Info()
			if err == nil {
				found = append(found, fi.Size())
			}
		}
	}
	switch {
	case accepted && (len(found) != 1 || found[0] < int64(len(body))):
		t.Errorf("250 given but INBOX holds %v (want one message of at least %d bytes)", found, len(body))
	case !accepted && len(found) != 0:
		t.Errorf("%q given but INBOX holds %v", final, found)
	}
	t.Logf("end of DATA: %q; exit %v after SIGTERM", strings.TrimSpace(final), time.Since(start).Round(time.Millisecond))
}
