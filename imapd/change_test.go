package imapd

import (
	"bufio"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/connguard"
	"postern/accounts/testkit"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestStoreCopyExpungeAppend(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"), msg("b", "2"), msg("c", "3"))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// STORE reports the new flags; .SILENT reports nothing.
	got, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Work"}}, nil).Collect()
	if err != nil || len(got) != 1 || !slices.Contains(got[0].Flags, imap.FlagFlagged) || !slices.Contains(got[0].Flags, "$Work") {
		t.Fatalf("STORE +FLAGS: %v %+v", err, got)
	}
	got, err = c.Store(imap.SeqSetNum(2, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	if err != nil || len(got) != 0 {
		t.Fatalf("STORE .SILENT: %v, %d responses", err, len(got))
	}
	fl := e.folder(testkit.AnnaUser, "INBOX")
	msgs, _, _ := fl.Messages()
	if !slices.Contains(msgs[1].Flags, `\Deleted`) {
		t.Fatalf("store not persisted: %+v", msgs[1])
	}

	// COPY to a missing folder: TRYCREATE; then COPYUID.
	_, err = c.Copy(imap.SeqSetNum(1), "Nope").Wait()
	if err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Fatalf("COPY to missing folder: %v", err)
	}
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cd.UIDValidity == 0 || cd.SourceUIDs.String() != "1:2" || cd.DestUIDs.String() != "1:2" {
		t.Fatalf("COPYUID %+v", cd)
	}

	// UID EXPUNGE removes only the named deleted message; EXPUNGE the rest.
	exp, err := c.UIDExpunge(imap.UIDSetNum(3)).Collect()
	if err != nil || !slices.Equal(exp, []uint32{3}) {
		t.Fatalf("UID EXPUNGE 3: %v %v", err, exp)
	}
	exp, err = c.Expunge().Collect()
	if err != nil || !slices.Equal(exp, []uint32{2}) {
		t.Fatalf("EXPUNGE: %v %v", err, exp)
	}

	// APPEND with flags and date.
	date := time.Date(2025, 12, 24, 18, 30, 0, 0, time.UTC)
	body := msg("appended", "hello")
	ac := c.Append("Archive", int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen, imap.FlagDraft}, Time: date})
	ac.Write([]byte(body))
	ac.Close()
	ad, err := ac.Wait()
	if err != nil || ad.UID != 3 || ad.UIDValidity == 0 {
		t.Fatalf("APPENDUID: %v %+v", err, ad)
	}
	arch := e.folder(testkit.AnnaUser, "Archive")
	am, _, _ := arch.Messages()
	last := am[len(am)-1]
	if !last.Date.Equal(date) || !slices.Contains(last.Flags, `\Draft`) || !slices.Contains(last.Flags, `\Seen`) {
		t.Fatalf("appended message %+v", last)
	}
	// APPEND over the limit is refused before the literal is read.
	big := c.Append("Archive", DefaultMaxMessageBytes+1, nil)
	big.Close()
	if _, err := big.Wait(); err == nil {
		t.Fatal("APPEND over APPENDLIMIT accepted")
	}
}

// TestMoveOneOfTwo: a MOVE of one message out of two leaves the client
// with exactly one message: one EXPUNGE, not two (the bug of go-imap's
// in-memory example).
func TestMoveOneOfTwo(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"), msg("b", "2"))
	var expunges []uint32
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { expunges = append(expunges, seq) },
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	md, err := c.Move(imap.SeqSetNum(1), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.SourceUIDs.String() != "1" || md.DestUIDs.String() != "1" {
		t.Errorf("COPYUID of MOVE %+v", md)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(expunges, []uint32{1}) {
		t.Fatalf("EXPUNGEs after MOVE: %v, want [1]", expunges)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 || msgs[0].SeqNum != 1 {
		t.Fatalf("after MOVE: %v %+v", err, msgs)
	}
	st, err := c.Status("Trash", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 1 {
		t.Fatalf("Trash status %v %+v", err, st)
	}
}

func TestMailboxCommands(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)

	if err := c.Create("Projects/Blue", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Receipts", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Ünïcode ✓", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a/../b", "..", "/etc", "x//y", strings.Repeat("n", 300)} {
		if err := c.Create(bad, nil).Wait(); err == nil {
			t.Errorf("CREATE %q succeeded", bad)
		}
	}
	if _, err := c.Select("Does/Not/Exist", nil).Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("SELECT missing folder: %v", err)
	}
	if err := c.Subscribe("Projects/Blue").Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnSubscribed: true, ReturnChildren: true, ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		attrs[l.Mailbox] = l.Attrs
	}
	if !slices.Contains(attrs["Projects"], imap.MailboxAttrHasChildren) ||
		!slices.Contains(attrs["Projects/Blue"], imap.MailboxAttrSubscribed) ||
		!slices.Contains(attrs["Receipts"], imap.MailboxAttrArchive) ||
		attrs["Ünïcode ✓"] == nil {
		t.Fatalf("LIST attrs %v", attrs)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil || len(subs) == 0 || !slices.ContainsFunc(subs, func(l *imap.ListData) bool { return l.Mailbox == "Projects/Blue" }) {
		t.Fatalf("LIST (SUBSCRIBED): %v %+v", err, subs)
	}
	su, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil || slices.ContainsFunc(su, func(l *imap.ListData) bool { return l.Mailbox == "Projects" }) {
		t.Fatalf("LIST (SPECIAL-USE): %v %+v", err, su)
	}
	if err := c.Unsubscribe("Projects/Blue").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("Projects", "Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status("Work/Blue", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		t.Fatalf("renamed subfolder: %v", err)
	}
	// RENAME INBOX moves its messages and leaves INBOX empty.
	if err := c.Rename("INBOX", "Old Inbox", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"INBOX": 0, "Old Inbox": 1} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true}).Wait()
		if err != nil || *st.NumMessages != want {
			t.Errorf("STATUS %s: %v %+v", name, err, st)
		}
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	if err := c.Delete("Work/Blue").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Work/Blue").Wait(); err == nil {
		t.Error("DELETE of a deleted folder succeeded")
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Fatalf("NAMESPACE %v %+v", err, ns)
	}
}

func TestSearchCommand(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("hello world", "apples"), msg("other", "bananas"), msg("third", "apples again"))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	sd, err := c.Search(&imap.SearchCriteria{Body: []string{"APPLES"}}, nil).Wait()
	if err != nil || !slices.Equal(sd.AllSeqNums(), []uint32{1, 3}) {
		t.Fatalf("SEARCH BODY: %v %v", err, sd)
	}
	sd, err = c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, &imap.SearchOptions{ReturnCount: true, ReturnMin: true}).Wait()
	if err != nil || sd.Count != 1 || sd.Min != 2 {
		t.Fatalf("UID SEARCH FLAGGED: %v %+v", err, sd)
	}
	// SEARCHRES (imapclient cannot send SAVE): save, then FETCH $.
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a1 SELECT INBOX")
	r.cmd("a2 SEARCH RETURN (SAVE) SUBJECT third")
	if out := r.cmd("a3 FETCH $ (UID)"); !strings.Contains(out, "* 3 FETCH (UID 3)") || strings.Contains(out, "* 1 FETCH") {
		t.Fatalf("FETCH $:\n%s", out)
	}
}

// TestModifiedUTF7Names: a client without UTF8=ACCEPT sends and gets
// modified UTF-7; the store sees UTF-8.
func TestModifiedUTF7Names(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	if out := r.cmd(`u1 CREATE "&AMQ-rger/Stra&AN8-e"`); !strings.Contains(out, "u1 OK") {
		t.Fatalf("CREATE: %s", out)
	}
	if out := r.cmd(`u2 LIST "" "*"`); !strings.Contains(out, `"&AMQ-rger/Stra&AN8-e"`) {
		t.Fatalf("LIST: %s", out)
	}
	a, err := e.store.Account(testkit.AnnaUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Folder("Ärger/Straße"); err != nil {
		t.Fatalf("store folder: %v", err)
	}
}

// TestMaxConns: over the process-wide limit a plain connection gets BYE
// and an implicit-TLS one is closed (there is no plain text to answer in,
// and a handshake only to refuse would cost a flood's CPU).
func TestMaxConns(t *testing.T) {
	e := newEnv(t, Config{Limits: connguard.Limits{MaxConnections: 1}})
	e.raw(t)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "* BYE [UNAVAILABLE]") {
		t.Fatalf("second connection got %q, want BYE", line)
	}
	if _, err := tls.Dial("tcp", e.tlsAddr, e.clientTC); err == nil {
		t.Fatal("implicit-TLS connection over the limit: handshake succeeded")
	}
}
