package dovecottest_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/maildir/dovecottest"
)

const testMessage = "From: anna@example.org\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: hello through LMTP\r\n" +
	"Message-ID: <lmtp-1@example.org>\r\n" +
	"\r\n" +
	"Body line one.\r\n"

// TestLMTPThenIMAP: deliver through Dovecot's LMTP, log in over IMAP, read
// the message back byte for byte, and see it in the Maildir.
func TestLMTPThenIMAP(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{AutoCreate: true})

	d.DeliverLMTP(t, "anna@example.org", "bob@example.org", testMessage)

	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.org", dovecottest.DefaultPassword).Wait(); err != nil {
		t.Fatalf("LOGIN: %v\n%s", err, d.Log())
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 1 {
		t.Fatalf("INBOX has %d messages, want 1", sel.NumMessages)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	got := string(msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	if !strings.HasSuffix(got, testMessage) {
		t.Errorf("message read back:\n%q\nwant it to end with\n%q", got, testMessage)
	}

	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Mailbox)
	}
	for _, want := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("LIST %v lacks %s", names, want)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	files := d.MustDoveadm("-f", "flow", "fetch", "-u", "bob@example.org", "uid guid", "mailbox", "INBOX")
	if !strings.Contains(files, "uid=1") {
		t.Errorf("doveadm fetch: %q", files)
	}
	cur, _ := filepathGlob(d.Maildir("bob@example.org"))
	if cur != 1 {
		t.Errorf("%d files in %s/{new,cur}, want 1", cur, d.Maildir("bob@example.org"))
	}
}

// TestWrongPasswordRefused: the static passdb accepts only its password.
func TestWrongPasswordRefused(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{Password: "right"})
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.org", "wrong").Wait(); err == nil {
		t.Fatal("LOGIN with a wrong password succeeded")
	}
	if err := c.Login("bob@example.org", "right").Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
}
