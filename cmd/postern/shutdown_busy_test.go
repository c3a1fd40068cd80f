package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// bigMessageBytes is the size of the message the stuck clients fetch:
// far more than the socket buffers between them and the server hold.
const bigMessageBytes = 8 << 20

// putBigMessage writes one message of bigMessageBytes into anna's INBOX
// (Maildir new/) before the server starts.
func putBigMessage(t *testing.T, data string) {
	t.Helper()
	box := filepath.Join(data, "mail", "example.test", "anna")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	line := strings.Repeat("y", 76) + "\n"
	body := "From: x@elsewhere.test\nSubject: big\n\n" + strings.Repeat(line, bigMessageBytes/len(line))
	if err := os.WriteFile(filepath.Join(box, "new", "1700000000.M1P1.localhost"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	giveToServer(t, filepath.Join(data, "mail"))
}

// dialStalling opens a TLS connection whose receive buffer is small, so
// that once the client stops reading the server's writes block soon.
func dialStalling(t *testing.T, addr string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	return c, bufio.NewReaderSize(c, 512)
}

// converse writes each command and reads lines until one starts with its
// expected prefix.
func converse(t *testing.T, what string, c net.Conn, r *bufio.Reader, steps [][2]string) {
	t.Helper()
	for _, s := range steps {
		if s[0] != "" {
			io.WriteString(c, s[0]+"\r\n")
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: waiting for %q after %q: %v", what, s[1], s[0], err)
			}
			if strings.HasPrefix(line, s[1]) {
				break
			}
			if strings.HasPrefix(line, "-ERR") || strings.Contains(line, " NO ") || strings.Contains(line, " BAD ") {
				t.Fatalf("%s: %q answered %q", what, s[0], line)
			}
		}
	}
}

// The stuck stop: an IMAP client that started a FETCH of a large
// message and stopped reading, and a POP3 client that did the same with
// RETR. The server's writes block (IMAP's for command_timeout, set to
// 10 minutes here; go-imap's BYE then waits for the blocked writer, so
// the IMAP front end's Shutdown does not return before that). SIGTERM
// with shutdown_timeout 2s: the process logs both sessions (protocol,
// session, address, user and, for POP3, the command) and exits non-zero
// within shutdown_timeout plus the grace, instead of waiting 10 minutes.
func TestShutdownEndsDespiteStuckSessions(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	srv, ls, _ := selfSignedServerWith(t, timeout, "command_timeout = \"10m\"\n", func(data string) { putBigMessage(t, data) })

	imapC, imapR := dialStalling(t, ls["imaps"])
	converse(t, "imap", imapC, imapR, [][2]string{
		{"", "* OK"}, {"a LOGIN anna@example.test secret-pass", "a OK"}, {"b SELECT INBOX", "b OK"},
		{"c FETCH 1 BODY.PEEK[]", "* 1 FETCH"},
	})
	popC, popR := dialStalling(t, ls["pop3s"])
	converse(t, "pop3", popC, popR, [][2]string{
		{"", "+OK"}, {"USER anna@example.test", "+OK"}, {"PASS secret-pass", "+OK"}, {"RETR 1", "+OK"},
	})
	// Both clients now read nothing more; give the server time to fill
	// the socket buffers and block.
	time.Sleep(time.Second)

	start := time.Now()
	srv.cmd.Process.Signal(sigTERM)
	bound := timeout + shutdownGrace + watchdogSlack + 5*time.Second
	select {
	case <-srv.done:
	case <-time.After(bound):
		t.Fatalf("still running %v after SIGTERM (shutdown_timeout %v)", time.Since(start), timeout)
	}
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(srv.err, &ee) || (ee.ExitCode() != 1 && ee.ExitCode() != exitWatchdog) {
		t.Errorf("exit after a stop past shutdown_timeout: %v; want status 1 (or %d from the watchdog)", srv.err, exitWatchdog)
	}
	if took < timeout-100*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before shutdown_timeout %v", took, timeout)
	}
	out := srv.output()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`session still busy at shutdown_timeout" proto=imap session=[0-9]+ remote=` +
			regexp.QuoteMeta(imapC.LocalAddr().String()) + ` user=anna@example.test command=FETCH`),
		regexp.MustCompile(`session still busy at shutdown_timeout" proto=pop3 session=[0-9a-f]+ remote=` +
			regexp.QuoteMeta(popC.LocalAddr().String()) + ` user=anna@example.test command="RETR 1"`),
		regexp.MustCompile(`shutdown_timeout reached; cutting off the sessions still busy.* busy_sessions=2`),
	} {
		if !re.MatchString(out) {
			t.Errorf("log lacks %s", re)
		}
	}
	t.Logf("exit %v, %v after SIGTERM", srv.err, took.Round(time.Millisecond))
}

// The clean case: sessions that only wait for their next command end at
// once on SIGTERM (IMAP gets BYE, POP3 -ERR, SMTP 421); the process exits
// 0 well before shutdown_timeout and logs no busy session.
func TestShutdownWithoutBusySessionsExitsZero(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
	srv, ls, _ := selfSignedServer(t, timeout)
	imapC, imapR := dialStalling(t, ls["imaps"])
	converse(t, "imap", imapC, imapR, [][2]string{{"", "* OK"}, {"a LOGIN anna@example.test secret-pass", "a OK"}, {"b SELECT INBOX", "b OK"}})
	popC, popR := dialStalling(t, ls["pop3s"])
	converse(t, "pop3", popC, popR, [][2]string{{"", "+OK"}, {"USER anna@example.test", "+OK"}, {"PASS secret-pass", "+OK"}})
	smtpC, err := net.DialTimeout("tcp", ls["smtp"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer smtpC.Close()
	smtpC.SetDeadline(time.Now().Add(time.Minute))
	smtpR := bufio.NewReader(smtpC)
	converse(t, "smtp", smtpC, smtpR, [][2]string{{"", "220 "}, {"EHLO client.test", "250 "}})

	exitErr, took := srv.signalAndWait(sigTERM, timeout+10*time.Second)
	if exitErr != nil {
		t.Errorf("exit status after a clean stop: %v", exitErr)
	}
	if took >= timeout {
		t.Errorf("clean stop took %v (shutdown_timeout %v)", took, timeout)
	}
	for name, r := range map[string]*bufio.Reader{"imap": imapR, "pop3": popR, "smtp": smtpR} {
		rest, _ := io.ReadAll(r)
		want := map[string]string{"imap": "* BYE", "pop3": "-ERR [SYS/TEMP]", "smtp": "421 "}[name]
		if !bytes.Contains(rest, []byte(want)) {
			t.Errorf("%s client got %q at the stop; want %q", name, rest, want)
		}
	}
	if out := srv.output(); strings.Contains(out, "still busy") || strings.Contains(out, "shutdown_timeout reached") {
		t.Errorf("clean stop logged busy sessions:\n%s", out)
	}
}

// stuckFrontEnd is a front end whose Serve and Shutdown never return
// until release is closed: a stand-in for one stuck on a lock.
type stuckFrontEnd struct{ release chan struct{} }

func (f *stuckFrontEnd) Serve(net.Listener) error    { <-f.release; return nil }
func (f *stuckFrontEnd) ServeTLS(net.Listener) error { <-f.release; return nil }
func (f *stuckFrontEnd) Shutdown(context.Context) error {
	<-f.release
	return nil
}

// In process: a front end whose Shutdown never returns does not hold the
// stop. run returns errStopTimedOut within shutdown_timeout plus the
// grace, naming the step it was stuck at.
func TestStopBoundedWhenFrontEndHangs(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.ShutdownTimeout = time.Second
	logs := &testkit.SyncBuffer{}
	p := newProcess(cfg, "", logs)
	stuck := &stuckFrontEnd{release: make(chan struct{})}
	ln := testkit.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.run(ctx, runOptions{dev: true, onReady: func(p *process) {
			p.serve("stuck", "test", "none", stuck, ln, false)
			close(ready)
		}})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	start := time.Now()
	var err error
	cancel()
	select {
	case err = <-done:
	case <-time.After(cfg.ShutdownTimeout + shutdownGrace + 5*time.Second):
		t.Fatal("run did not return")
	}
	took := time.Since(start)
	if !errors.Is(err, errStopTimedOut) {
		t.Errorf("run after a stuck stop: %v; want errStopTimedOut", err)
	}
	if took < cfg.ShutdownTimeout+shutdownGrace-100*time.Millisecond || took > cfg.ShutdownTimeout+shutdownGrace+2*time.Second {
		t.Errorf("run returned %v after the stop began; want about %v", took, cfg.ShutdownTimeout+shutdownGrace)
	}
	out := logs.String()
	if !strings.Contains(out, `stop still not finished; exiting without it" stop_waiting_for="front ends"`) {
		t.Errorf("log lacks the stuck step:\n%s", out)
	}
	// Let the stop finish, so nothing touches the data directory after
	// the test.
	close(stuck.release)
	waitLog(t, logs, "stop finished late")
}

// waitLog waits until the in-process log holds want.
func waitLog(t *testing.T, logs *testkit.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if logs.Contains(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The watchdog ends the process shutdown_timeout + grace + slack after
// the stop began, with exitWatchdog, whatever else is going on.
func TestWatchdogExits(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(LogConfig{}, &testkit.SyncBuffer{})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	code := -1
	exited := make(chan struct{})
	armWatchdog(ctx, 10*time.Millisecond, log, func(c int) {
		mu.Lock()
		code = c
		mu.Unlock()
		close(exited)
	})
	start := time.Now()
	cancel()
	want := 10*time.Millisecond + shutdownGrace + watchdogSlack
	select {
	case <-exited:
	case <-time.After(want + 5*time.Second):
		t.Fatal("watchdog did not fire")
	}
	if took := time.Since(start); took < want-50*time.Millisecond {
		t.Errorf("watchdog fired after %v; want %v", took, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if code != exitWatchdog {
		t.Errorf("exit code %d, want %d", code, exitWatchdog)
	}
}
