package pop3d

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
	"postern/maildir"
	"postern/maildir/dovecottest"
)

// popView is what a POP3 client sees of a maildrop: the UIDL and LIST
// listings and every message as RETR sends it.
type popView struct {
	uidl, list string
	retr       []string
}

// view reads a popView from a logged-in session and quits without DELE.
func (c *popClient) view() popView {
	c.T.Helper()
	v := popView{uidl: c.multi("UIDL"), list: c.multi("LIST")}
	for i := 1; i <= strings.Count(v.list, "\r\n"); i++ {
		v.retr = append(v.retr, c.multi(fmt.Sprintf("RETR %d", i)))
	}
	c.Do("QUIT", "+OK")
	return v
}

// dovecotView logs in to Dovecot's POP3 (plain, as dovecottest allows)
// and reads its view of user's maildrop.
func dovecotView(t *testing.T, d *dovecottest.Dovecot, user string) popView {
	t.Helper()
	nc, err := net.DialTimeout("tcp", d.POP3Addr, 10*time.Second)
	c := &popClient{testkit.NewConn(t, nc, err)}
	c.Expect("+OK")
	c.Do("USER "+user, "+OK")
	if l := c.Do("PASS "+d.Password, ""); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("Dovecot PASS: %s\n%s", l, d.Log())
	}
	return c.view()
}

// comparePOP3Views fails the test where Postern's view differs from
// Dovecot's.
func comparePOP3Views(t *testing.T, stage string, postern, dovecot popView) {
	t.Helper()
	if postern.uidl != dovecot.uidl {
		t.Errorf("%s: UIDL differs\npostern: %q\ndovecot: %q", stage, postern.uidl, dovecot.uidl)
	}
	if postern.list != dovecot.list {
		t.Errorf("%s: LIST differs\npostern: %q\ndovecot: %q", stage, postern.list, dovecot.list)
	}
	if !slices.Equal(postern.retr, dovecot.retr) {
		t.Errorf("%s: RETR differs\npostern: %.300q\ndovecot: %.300q", stage, postern.retr, dovecot.retr)
	}
}

// TestUIDLMatchesDovecot serves one Maildir with Postern and a real
// Dovecot (pop3_uidl_format %08Xu%08Xv): UIDL, LIST sizes and RETR bytes
// agree for mail Postern stored (APPEND into cur/, delivery into new/)
// and for mail Dovecot delivered over LMTP, so POP3 users migrating from
// Dovecot download nothing twice.
func TestUIDLMatchesDovecot(t *testing.T) {
	t.Parallel()
	root := filepath.Join(dovecotReadableDir(t), "mail")
	e := newEnvAt(t, Config{}, root)
	e.deliver(testkit.AnnaUser, testMessage(1), "Subject: dots\r\n\r\n.\r\n..x\r\nno final newline")
	if _, err := e.store.Deliver(t.Context(), strings.NewReader(testMessage(3)), []maildir.Target{{User: testkit.AnnaUser}}); err != nil {
		t.Fatal(err)
	}
	d := dovecottest.Start(t, dovecottest.Options{Root: root}) // hands root to Dovecot's user
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot log:\n%s", d.Log())
		}
	})

	want := dovecotView(t, d, testkit.AnnaUser)
	if n := strings.Count(want.uidl, "\r\n"); n != 3 {
		t.Fatalf("Dovecot sees %d messages:\n%s\n%s", n, want.uidl, d.Log())
	}
	comparePOP3Views(t, "Postern's mail", e.login(testkit.AnnaUser, testkit.AnnaPass).view(), want)

	// Mail delivered by Dovecot gets its UID from Dovecot; Postern's
	// UIDL for it must be the one Dovecot shows.
	d.DeliverLMTP(t, "sender@example.net", testkit.AnnaUser, testMessage(4))
	if err := e.inbox(testkit.AnnaUser).Rescan(); err != nil {
		t.Fatal(err)
	}
	want = dovecotView(t, d, testkit.AnnaUser)
	if n := strings.Count(want.uidl, "\r\n"); n != 4 {
		t.Fatalf("Dovecot sees %d messages after LMTP:\n%s", n, want.uidl)
	}
	comparePOP3Views(t, "Dovecot's mail", e.login(testkit.AnnaUser, testkit.AnnaPass).view(), want)

	// The values are UID then UIDVALIDITY of Postern's store.
	msgs, _, err := e.inbox(testkit.AnnaUser).Messages()
	if err != nil {
		t.Fatal(err)
	}
	v := e.inbox(testkit.AnnaUser).UIDValidity()
	var uidl strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&uidl, "%d "+uidlFormat+"\r\n", i+1, m.UID, v)
	}
	if uidl.String() != want.uidl {
		t.Errorf("UIDL %q, store UIDs and UIDVALIDITY give %q", want.uidl, uidl.String())
	}
}

// dovecotReadableDir returns a temporary directory that Dovecot's mail
// user may enter (t.TempDir and its parent are mode 0700).
func dovecotReadableDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
