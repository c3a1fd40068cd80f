package maildir_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/maildir"
	"postern/maildir/dovecottest"
)

// view is one message as a server shows it.
type view struct {
	flags string // sorted, space separated, without \Recent
	date  int64
	size  int64
}

// folderView is a folder as a server shows it.
type folderView struct {
	validity, next uint32
	msgs           map[uint32]view
}

func sortedFlags(in []string) string {
	var out []string
	for _, f := range in {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// dovecotView selects mailbox over IMAP and fetches UID, FLAGS,
// INTERNALDATE and RFC822.SIZE of every message.
func dovecotView(t *testing.T, c *imapclient.Client, mailbox string) folderView {
	t.Helper()
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", mailbox, err)
	}
	fv := folderView{validity: sel.UIDValidity, next: uint32(sel.UIDNext), msgs: map[uint32]view{}}
	if sel.NumMessages == 0 {
		return fv
	}
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH %s: %v", mailbox, err)
	}
	for _, m := range msgs {
		var fl []string
		for _, f := range m.Flags {
			fl = append(fl, string(f))
		}
		fv.msgs[uint32(m.UID)] = view{flags: sortedFlags(fl), date: m.InternalDate.Unix(), size: m.RFC822Size}
	}
	return fv
}

// posternView rescans f and returns what the store shows.
func posternView(t *testing.T, f *maildir.Folder) folderView {
	t.Helper()
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
	msgs, next, err := f.Messages()
	if err != nil {
		t.Fatal(err)
	}
	fv := folderView{validity: f.UIDValidity(), next: next, msgs: map[uint32]view{}}
	for _, m := range msgs {
		fv.msgs[m.UID] = view{flags: sortedFlags(m.Flags), date: m.Date.Unix(), size: m.Size}
	}
	return fv
}

// sameView fails the test unless both servers show the same folder.
func sameView(t *testing.T, what string, dovecot, postern folderView) {
	t.Helper()
	if dovecot.validity != postern.validity || dovecot.next != postern.next {
		t.Errorf("%s: Dovecot UIDVALIDITY %d UIDNEXT %d, Postern %d %d", what, dovecot.validity, dovecot.next, postern.validity, postern.next)
	}
	if len(dovecot.msgs) != len(postern.msgs) {
		t.Errorf("%s: Dovecot has %d messages, Postern %d", what, len(dovecot.msgs), len(postern.msgs))
	}
	for uid, d := range dovecot.msgs {
		if p, ok := postern.msgs[uid]; !ok || p != d {
			t.Errorf("%s UID %d: Dovecot %+v, Postern %+v (present %v)", what, uid, d, p, ok)
		}
	}
}

func imapLogin(t *testing.T, d *dovecottest.Dovecot, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, dovecottest.DefaultPassword).Wait(); err != nil {
		t.Fatalf("LOGIN %s: %v\n%s", user, err, d.Log())
	}
	return c
}

func appendMsg(t *testing.T, c *imapclient.Client, mailbox, msg string, flags []imap.Flag, date time.Time) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: date})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	return data.UID
}

func store(t *testing.T, c *imapclient.Client, uid uint32, op imap.StoreFlagsOp, flags ...imap.Flag) {
	t.Helper()
	if err := c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
		t.Fatalf("STORE: %v", err)
	}
}

// TestDovecotSeesPosternAndBack: Postern delivers, flags, tags and
// expunges, and creates a folder with a non-ASCII nested name; Dovecot's
// IMAP shows the same UIDVALIDITY, UIDNEXT, UIDs, flags, keywords,
// internal dates and sizes. Then Dovecot appends, flags and expunges, and
// Postern shows the same; a Postern delivery after that gets the UID
// Dovecot expects.
func TestDovecotSeesPosternAndBack(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{})
	s, err := maildir.Open(d.Root, maildir.Options{Hostname: "postern.test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const user = "anna@example.org"
	for i := 1; i <= 4; i++ {
		msg := fmt.Sprintf("From: x@example.net\nSubject: %d\nMessage-ID: <%d@x>\n\nbody %d\n", i, i, i)
		if errs, err := s.Deliver(context.Background(), strings.NewReader(msg), []maildir.Target{{User: user}}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	in := maildir.FolderOf(t, s, user, "INBOX")
	mustFlags(t, in, 1, maildir.FlagsAdd, `\Seen`)
	mustFlags(t, in, 2, maildir.FlagsAdd, `\Flagged`, "$Work", `\Answered`)
	mustFlags(t, in, 4, maildir.FlagsAdd, "Project-X")
	if _, err := in.Expunge([]uint32{3}, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Account(user)
	const nested = "Entwürfe/Süß"
	if err := a.CreateFolder(nested, ""); err != nil {
		t.Fatal(err)
	}
	nf := maildir.FolderOf(t, s, user, nested)
	date := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	if _, err := nf.Append(strings.NewReader("Subject: draft\n\nd\n"), []string{`\Draft`, "later"}, date, nil); err != nil {
		t.Fatal(err)
	}
	d.Chown()

	c := imapLogin(t, d, user)
	pin := posternView(t, in)
	d.Chown()
	sameView(t, "INBOX", dovecotView(t, c, "INBOX"), pin)
	sameView(t, nested, dovecotView(t, c, nested), posternView(t, nf))
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Mailbox)
	}
	for _, want := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Entwürfe", nested} {
		if !slices.Contains(names, want) {
			t.Errorf("Dovecot LIST %q lacks %q", names, want)
		}
	}

	// Dovecot changes things; Postern sees the same.
	appended := appendMsg(t, c, "INBOX", "Subject: via dovecot\r\n\r\nhi\r\n", []imap.Flag{imap.FlagSeen, "fromdovecot"}, date)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store(t, c, 1, imap.StoreFlagsDel, imap.FlagSeen)
	store(t, c, 1, imap.StoreFlagsAdd, imap.FlagAnswered, "$Work")
	store(t, c, 2, imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := c.UIDExpunge(imap.UIDSetNum(2)).Close(); err != nil {
		t.Fatal(err)
	}
	pv := posternView(t, in)
	sameView(t, "INBOX after Dovecot's changes", dovecotView(t, c, "INBOX"), pv)
	if _, ok := pv.msgs[uint32(appended)]; !ok || pv.msgs[uint32(appended)].date != date.Unix() {
		t.Errorf("Dovecot's APPEND (UID %d) seen by Postern as %+v", appended, pv.msgs[uint32(appended)])
	}

	// Postern delivers again: the next UID, visible through Dovecot.
	if errs, err := s.Deliver(context.Background(), strings.NewReader("Subject: 5\n\nfive\n"), []maildir.Target{{User: user}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	d.Chown()
	pv = posternView(t, in)
	if _, ok := pv.msgs[uint32(appended)+1]; !ok {
		t.Errorf("Postern's delivery after Dovecot's APPEND (UID %d) is not UID %d: %+v", appended, appended+1, pv.msgs)
	}
	sameView(t, "INBOX after a second delivery", dovecotView(t, c, "INBOX"), pv)
}

func mustFlags(t *testing.T, f *maildir.Folder, uid uint32, op maildir.FlagOp, flags ...string) {
	t.Helper()
	if _, err := f.SetFlags([]uint32{uid}, op, flags, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPosternTakesOverDovecotMaildir: a Maildir written by Dovecot (LMTP
// deliveries, IMAP flags and keywords, an expunge) opened by Postern shows
// Dovecot's UIDVALIDITY, UIDNEXT, UIDs, flags, keywords, dates and sizes.
func TestPosternTakesOverDovecotMaildir(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{AutoCreate: true})
	const user = "bob@example.org"
	for i := 1; i <= 5; i++ {
		d.DeliverLMTP(t, "sender@example.net", user, fmt.Sprintf("From: x@example.net\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i))
	}
	c := imapLogin(t, d, user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store(t, c, 1, imap.StoreFlagsAdd, imap.FlagSeen, "$Label1")
	store(t, c, 3, imap.StoreFlagsAdd, imap.FlagFlagged, imap.FlagDraft, "Urgent")
	store(t, c, 4, imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := c.UIDExpunge(imap.UIDSetNum(4)).Close(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, "Archive", "Subject: old\r\n\r\nx\r\n", []imap.Flag{imap.FlagSeen}, time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC))
	dv, dav := dovecotView(t, c, "INBOX"), dovecotView(t, c, "Archive")
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	s, err := maildir.Open(d.Root, maildir.Options{Hostname: "postern.test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sameView(t, "INBOX taken over", dv, posternView(t, maildir.FolderOf(t, s, user, "INBOX")))
	sameView(t, "Archive taken over", dav, posternView(t, maildir.FolderOf(t, s, user, "Archive")))
	if len(dv.msgs) != 4 {
		t.Errorf("Dovecot shows %d messages, want 4", len(dv.msgs))
	}
}
