package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"postern/maildir/dovecottest"
)

// TestIMAPModeAgainstDovecot: the imap mode logs in to a real Dovecot over
// a Maildir of 20 messages and reports every step's median.
func TestIMAPModeAgainstDovecot(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{})
	dir := d.Maildir("bob@example.org")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		msg := fmt.Sprintf("From: a@example.org\r\nTo: bob@example.org\r\nSubject: n%d\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nbody %d\r\n", i, i)
		if err := os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("17000000%02d.M1P1.bench", i)), []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.Chown()
	var out bytes.Buffer
	err := runIMAP([]string{"-addr", d.IMAPAddr, "-user", "bob@example.org", "-pass", d.Password, "-runs", "2", "-pid", strconv.Itoa(dovecotPID(t, d))}, &out)
	if err != nil {
		t.Fatalf("imap mode: %v", err)
	}
	var res imapResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	if res.Messages != 20 || res.Runs != 2 {
		t.Fatalf("result %+v, want 20 messages over 2 runs", res)
	}
	for _, step := range []string{"select", "uid_flags", "envelope_size", "body_peek"} {
		if _, ok := res.MedianMS[step]; !ok {
			t.Errorf("step %s missing from %s", step, out.String())
		}
		if _, ok := res.CPUMS[step]; !ok {
			t.Errorf("server CPU of step %s missing from %s", step, out.String())
		}
	}

	// SELECT alone while another connection idles on INBOX.
	out.Reset()
	err = runIMAP([]string{"-addr", d.IMAPAddr, "-user", "bob@example.org", "-pass", d.Password, "-runs", "1", "-fetch", "", "-hold"}, &out)
	if err != nil {
		t.Fatalf("imap mode -hold: %v", err)
	}
	res = imapResult{}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	if _, ok := res.MedianMS["select_held"]; !ok || len(res.MedianMS) != 1 {
		t.Errorf("-fetch \"\" -hold: %s, want select_held only", out.String())
	}
}
