package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/maildir/dovecottest"
)

// TestIMAPIdleAgainstDovecot: the imap-idle mode holds connections in
// IDLE on a real Dovecot over STARTTLS and finds, under Dovecot's master
// process, one more imap process per connection.
func TestIMAPIdleAgainstDovecot(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{TLS: true})
	if _, err := writeMaildirForTest(d.Maildir("bob@example.org"), 12); err != nil {
		t.Fatal(err)
	}
	d.Chown()
	pid := dovecotPID(t, d)
	var out bytes.Buffer
	err := runIMAPIdle([]string{"-addr", d.IMAPAddr, "-tls=false", "-starttls", "-insecure", "-user", "bob@example.org",
		"-pass", d.Password, "-conns", "4", "-pid", strconv.Itoa(pid), "-settle", "100ms"}, &out)
	if err != nil {
		t.Fatalf("imap-idle: %v\n%s", err, d.Log())
	}
	var res imapIdleResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	if res.Conns != 4 || res.Messages != 12 {
		t.Fatalf("result %+v, want 4 connections on 12 messages", res)
	}
	if got := res.Delta["imap"].Procs; got != 4 {
		t.Errorf("%d more imap processes, want 4: %s", got, out.String())
	}
	if res.After.PssKB <= res.Before.PssKB || res.PssPerKiB <= 0 {
		t.Errorf("no memory growth measured: %s", out.String())
	}
}

// dovecotPID returns the process id of Dovecot's master process. Dovecot
// may write master.pid a moment after its listeners accept connections,
// so it waits up to 5 s for the file.
func dovecotPID(t *testing.T, d *dovecottest.Dovecot) int {
	t.Helper()
	var pidText []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pidText, err = os.ReadFile(filepath.Join(d.Dir, "run", "master.pid"))
		if err == nil && len(bytes.TrimSpace(pidText)) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dovecot master pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// writeMaildirForTest fills dir (a Maildir) with n generated messages.
func writeMaildirForTest(dir string, n int) (int64, error) {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, err
		}
	}
	return writeMaildir(filepath.Join(dir, "cur"), n, "bob@example.org", 1, 2)
}
