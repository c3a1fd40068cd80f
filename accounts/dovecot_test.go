package accounts_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir/dovecottest"
)

// imapLogin logs in to the IMAP server at addr with a raw LOGIN command
// and reports whether the server answered OK.
func imapLogin(t *testing.T, addr, user, pw string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	fmt.Fprintf(c, "a LOGIN %q %q\r\n", user, pw)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("LOGIN reply: %v", err)
		}
		if strings.HasPrefix(line, "a ") {
			return strings.HasPrefix(line, "a OK")
		}
	}
}

// TestUsersFileWorksInDovecot proves the interoperability promised in
// docs/accounts.md both ways: the users file Postern writes is a passwd-file
// a real Dovecot authenticates against, and a hash made by
// `doveadm pw -s BLF-CRYPT` authenticates in Postern unchanged.
func TestUsersFileWorksInDovecot(t *testing.T) {
	doveadm := testkit.RequireTool(t, "doveadm", "/usr/bin/doveadm")

	// Dovecot's auth process runs unprivileged and must read the file,
	// so the accounts directory lives outside t.TempDir's 0700 tree and
	// the users file is handed to it read-only.
	base, err := os.MkdirTemp("", "postern-accounts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "accounts")
	d, err := accounts.Open(dir, accounts.Options{ReloadInterval: -1, Domains: []string{"example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.AddUser("anna@example.org", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, accounts.UsersFile)
	for _, p := range []string{base, dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(users, 0o644); err != nil {
		t.Fatal(err)
	}

	dc := dovecottest.Start(t, dovecottest.Options{PasswdFile: users})
	if !imapLogin(t, dc.IMAPAddr, "anna@example.org", "correct horse battery") {
		t.Fatalf("Dovecot refused the password Postern wrote; users file:\n%s\nlog:\n%s", readFile(t, users), dc.Log())
	}
	if imapLogin(t, dc.IMAPAddr, "anna@example.org", "wrong password") {
		t.Fatal("Dovecot accepted a wrong password")
	}

	// The other way: a hash from doveadm pasted into Postern's file.
	out, err := exec.Command(doveadm, "pw", "-s", "BLF-CRYPT", "-p", "from dovecot 123").CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm pw: %v: %s", err, out)
	}
	hash := strings.TrimSpace(string(out))
	if !strings.HasPrefix(hash, "{BLF-CRYPT}$2") {
		t.Fatalf("doveadm pw printed %q", hash)
	}
	f, err := os.OpenFile(users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "bert@example.org:%s\n", hash)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	got, err := d.Authenticate(context.Background(), "imap", "192.0.2.7:1234", "bert@example.org", "from dovecot 123")
	if err != nil || got != "bert@example.org" {
		t.Fatalf("Authenticate with a doveadm hash = %q, %v", got, err)
	}
	if _, err := d.Authenticate(context.Background(), "imap", "192.0.2.7:1234", "bert@example.org", "from dovecot 124"); err == nil {
		t.Fatal("a wrong password for the doveadm hash was accepted")
	}
	// Dovecot reads the same line too.
	if !imapLogin(t, dc.IMAPAddr, "bert@example.org", "from dovecot 123") {
		t.Fatalf("Dovecot refused its own hash; log:\n%s", dc.Log())
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
