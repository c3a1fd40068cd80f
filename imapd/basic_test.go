package imapd

import (
	"strings"
	"testing"

	"postern/accounts/testkit"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestLoginOnlyUnderTLS(t *testing.T) {
	e := newEnv(t, Config{})
	c, err := imapclient.DialInsecure(e.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	caps := c.Caps()
	if !caps.Has(imap.CapLoginDisabled) || !caps.Has(imap.CapStartTLS) {
		t.Fatalf("plain caps %v: want LOGINDISABLED and STARTTLS", caps)
	}
	if err := c.Login(testkit.AnnaUser, testkit.AnnaPass).Wait(); err == nil {
		t.Fatal("LOGIN over plain text succeeded")
	}

	s, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.clientTC})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(testkit.AnnaUser, "wrong").Wait(); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := s.Login(testkit.AnnaUser, testkit.AnnaPass).Wait(); err != nil {
		t.Fatalf("LOGIN after STARTTLS: %v", err)
	}
	caps, err = s.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{imap.CapIMAP4rev2, imap.CapMove, imap.CapUIDPlus, imap.CapSpecialUse, imap.CapIdle, imap.Cap("APPENDLIMIT=52428800")} {
		if !caps.Has(want) {
			t.Errorf("caps %v lack %s", caps, want)
		}
	}

	a, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTC})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Authenticate(plainClient(testkit.AnnaUser, testkit.AnnaPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
}

func TestListSelectFetch(t *testing.T) {
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("one", "first body"), msg("two", "second body"))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)

	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, Size: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*imap.ListData{}
	for _, l := range list {
		names[l.Mailbox] = l
	}
	inbox := names["INBOX"]
	if inbox == nil || inbox.Status == nil || inbox.Status.NumMessages == nil || *inbox.Status.NumMessages != 2 {
		t.Fatalf("LIST RETURN (STATUS): %+v", inbox)
	}
	if *inbox.Status.Size != int64(len(msg("one", "first body"))+len(msg("two", "second body"))) {
		t.Errorf("STATUS SIZE %d", *inbox.Status.Size)
	}

	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 2 || sel.UIDValidity == 0 || sel.UIDNext != 3 {
		t.Fatalf("SELECT: %+v", sel)
	}
	body := &imap.FetchItemBodySection{Peek: true}
	part := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierText, Partial: &imap.SectionPartial{Offset: 0, Size: 5}}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{body, part},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.Envelope == nil || m.Envelope.Subject != "one" || m.Envelope.From[0].Addr() != "carol@example.net" {
		t.Errorf("ENVELOPE %+v", m.Envelope)
	}
	if got := string(m.FindBodySection(body)); got != msg("one", "first body") {
		t.Errorf("BODY.PEEK[] = %q", got)
	}
	if got := string(m.FindBodySection(part)); got != "first" {
		t.Errorf("BODY[TEXT]<0.5> = %q", got)
	}
	if m.RFC822Size != int64(len(msg("one", "first body"))) || m.InternalDate.Year() != 2026 {
		t.Errorf("size %d date %v", m.RFC822Size, m.InternalDate)
	}
	if _, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok {
		t.Errorf("BODYSTRUCTURE %T", m.BodyStructure)
	}
	for _, f := range m.Flags {
		if f == imap.FlagSeen {
			t.Errorf("PEEK set \\Seen")
		}
	}
	// BODY[TEXT] without PEEK sets \Seen and reports it.
	msgs, err = c.Fetch(imap.UIDSetNum(2), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("UID FETCH: %v %d", err, len(msgs))
	}
	if !strings.Contains(strings.Join(flagStrings(msgs[0].Flags), " "), `\Seen`) {
		t.Errorf("flags after BODY[TEXT]: %v", msgs[0].Flags)
	}
}

func flagStrings(fs []imap.Flag) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f))
	}
	return out
}
