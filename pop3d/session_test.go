package pop3d

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCapaBeforeAndAfterTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dial()
	capa := c.multi("CAPA")
	for _, want := range []string{"STLS\r\n", "TOP\r\n", "UIDL\r\n", "RESP-CODES\r\n", "AUTH-RESP-CODE\r\n", "PIPELINING\r\n", "IMPLEMENTATION Postern\r\n"} {
		if !strings.Contains(capa, want) {
			t.Errorf("CAPA before TLS lacks %q:\n%s", want, capa)
		}
	}
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") {
		t.Errorf("CAPA before TLS offers credentials:\n%s", capa)
	}
	c.do("USER "+annaUser, "-ERR [AUTH] Plaintext authentication disallowed")
	c.do("PASS "+annaPass, "-ERR [AUTH] Plaintext authentication disallowed")
	c.do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "-ERR [AUTH] Plaintext authentication disallowed")
	if got := c.multi("AUTH"); got != "" {
		t.Errorf("AUTH before TLS lists %q", got)
	}

	c.stls(e.clientTC)
	capa = c.multi("CAPA")
	if !strings.Contains(capa, "USER\r\n") || !strings.Contains(capa, "SASL PLAIN\r\n") || strings.Contains(capa, "STLS") {
		t.Errorf("CAPA after STLS:\n%s", capa)
	}
	c.do("STLS", "-ERR Already using TLS")
	c.do("USER "+annaUser, "+OK")
	c.do("PASS "+annaPass, "+OK Logged in, 0 messages (0 octets)")
	capa = c.multi("CAPA")
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") {
		t.Errorf("CAPA in TRANSACTION offers login:\n%s", capa)
	}
	c.do("QUIT", "+OK Bye")
	c.closed()
}

func TestMaildropTranscript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(annaUser, testMessage(1), testMessage(2), testMessage(3))
	v := e.inbox(annaUser).UIDValidity()
	size := func(i int) int { return len(testMessage(i)) }
	total := size(1) + size(2) + size(3)

	c := e.login(annaUser, annaPass)
	c.do("STAT", fmt.Sprintf("+OK 3 %d", total))
	if got, want := c.multi("LIST"), fmt.Sprintf("1 %d\r\n2 %d\r\n3 %d\r\n", size(1), size(2), size(3)); got != want {
		t.Errorf("LIST = %q, want %q", got, want)
	}
	c.do("LIST 2", fmt.Sprintf("+OK 2 %d", size(2)))
	wantUIDL := ""
	for i, u := range uids {
		wantUIDL += fmt.Sprintf("%d "+uidlFormat+"\r\n", i+1, u, v)
	}
	if got := c.multi("UIDL"); got != wantUIDL {
		t.Errorf("UIDL = %q, want %q", got, wantUIDL)
	}
	c.do("UIDL 3", fmt.Sprintf("+OK 3 "+uidlFormat, uids[2], v))
	c.do("RETR 1", fmt.Sprintf("+OK %d octets", size(1)))
	if got := c.body(); got != testMessage(1) {
		t.Errorf("RETR 1 = %q, want %q", got, testMessage(1))
	}
	c.do("DELE 1", "+OK Message 1 deleted")
	c.do("DELE 1", "-ERR Message 1 already deleted")
	c.do("RETR 1", "-ERR Message 1 already deleted")
	c.do("LIST 1", "-ERR Message 1 already deleted")
	c.do("STAT", fmt.Sprintf("+OK 2 %d", size(2)+size(3)))
	c.do("RSET", fmt.Sprintf("+OK Maildrop has 3 messages (%d octets)", total))
	c.do("DELE 2", "+OK")
	c.do("DELE 3", "+OK")
	if got := c.multi("LIST"); got != fmt.Sprintf("1 %d\r\n", size(1)) {
		t.Errorf("LIST after DELE = %q", got)
	}
	c.do("NOOP", "+OK")
	// Nothing is removed before QUIT.
	if got := e.uids(annaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs before QUIT = %v, want %v", got, uids)
	}
	c.do("QUIT", "+OK Bye, 2 messages removed")
	c.closed()
	// +OK came after the expunge: the store already lacks them.
	if got := e.uids(annaUser); !slices.Equal(got, uids[:1]) {
		t.Fatalf("UIDs after QUIT = %v, want %v", got, uids[:1])
	}
	if got := e.diskMessages(annaUser); len(got) != 1 || got[0].UID != uids[0] {
		t.Fatalf("on disk after QUIT: %+v, want only UID %d", got, uids[0])
	}
	c = e.login(annaUser, annaPass)
	c.do("STAT", fmt.Sprintf("+OK 1 %d", size(1)))
	c.do("UIDL 1", fmt.Sprintf("+OK 1 "+uidlFormat, uids[0], v))
	c.do("QUIT", "+OK Bye, 0 messages removed")
}

func TestDroppedConnectionRemovesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(annaUser, testMessage(1), testMessage(2))
	c := e.login(annaUser, annaPass)
	c.do("DELE 1", "+OK")
	c.do("DELE 2", "+OK")
	c.nc.Close()
	// The lock is released when the server notices; then a new session
	// sees both messages.
	var c2 *popClient
	for deadline := time.Now().Add(10 * time.Second); ; {
		c2 = e.dialTLS()
		c2.do("USER "+annaUser, "+OK")
		c2.send("PASS " + annaPass + "\r\n")
		if l := c2.line(); strings.HasPrefix(l, "+OK") {
			break
		} else if !strings.HasPrefix(l, "-ERR [IN-USE]") || time.Now().After(deadline) {
			t.Fatalf("login after drop: %q", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c2.do("STAT", "+OK 2 ")
	if got := e.uids(annaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs = %v, want %v", got, uids)
	}
}

func TestInUseAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(annaUser, testMessage(1))
	first := e.login(annaUser, annaPass)
	second := e.dialTLS()
	second.do("USER "+annaUser, "+OK")
	start := time.Now()
	second.do("PASS "+annaPass, "-ERR [IN-USE] Mailbox is locked by another POP3 session")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("IN-USE took %v", d)
	}
	// Another user is not affected.
	third := e.login(bobUser, bobPass)
	third.do("QUIT", "+OK")
	first.do("QUIT", "+OK")
	first.closed()
	second.do("USER "+annaUser, "+OK")
	second.do("PASS "+annaPass, "+OK Logged in, 1 messages")
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dialTLS()
	c.do("PASS x", "-ERR Send USER first")
	c.do("USER "+annaUser, "+OK")
	wrong := c.do("PASS wrong-password", "-ERR [AUTH]")
	c.do("USER nobody@example.org", "+OK")
	unknown := c.do("PASS wrong-password", "-ERR [AUTH]")
	if wrong != unknown {
		t.Errorf("wrong password %q, unknown user %q: answers differ", wrong, unknown)
	}
	c.do("AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism")
	c.do("AUTH PLAIN", "+ ")
	c.do("*", "-ERR Authentication cancelled")
	c.do("STAT", "-ERR STAT not allowed in the AUTHORIZATION state")
}

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(annaUser, testMessage(1))
	// Initial response (RFC 5034 §4).
	c := e.dialTLS()
	c.do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "+OK Logged in, 1 messages")
	c.do("QUIT", "+OK")
	// Continuation.
	c = e.dialTLS()
	c.do("AUTH PLAIN", "+ ")
	c.do("AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "+OK Logged in, 1 messages")
	c.do("USER x", "-ERR USER not allowed in the TRANSACTION state")
	c.do("QUIT", "+OK")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxErrors: 100})
	e.deliver(annaUser, testMessage(1))
	c := e.login(annaUser, annaPass)
	for _, tt := range []struct{ send, want string }{
		{"XYZZY", "-ERR Unknown command"},
		{"RETRIEVE 1", "-ERR Unknown command"},
		{"RETR", "-ERR Syntax: RETR msg"},
		{"RETR 1 2", "-ERR Syntax: RETR msg"},
		{"LIST 1 2", "-ERR Syntax: LIST [msg]"},
		{"TOP 1", "-ERR Syntax: TOP msg lines"},
		{"RETR 0", "-ERR No such message"},
		{"RETR 2", "-ERR No such message"},
		{"RETR -1", "-ERR Invalid message number"},
		{"RETR 99999999999999999999", "-ERR Invalid message number"},
		{"DELE x", "-ERR Invalid message number"},
		{"TOP 1 -1", "-ERR Invalid line count"},
		{"TOP 1 x", "-ERR Invalid line count"},
		{"STLS", "-ERR STLS not allowed in the TRANSACTION state"},
		{"RETR 1\x00\x01\xff", "-ERR Invalid characters in command"},
		{"", "-ERR Empty command"},
		{"LIST " + strings.Repeat("1", 300), "-ERR Line too long (the limit is 255 octets)"},
		{strings.Repeat("\xfe", 20000), "-ERR Line too long"},
		{"NOOP", "+OK"},
	} {
		c.do(tt.send, tt.want)
	}
	// A huge TOP count sends the whole message.
	c.do("TOP 1 184467440737095516150", "+OK")
	if got := c.body(); got != testMessage(1) {
		t.Errorf("TOP 1 huge = %q", got)
	}
	c.do("QUIT", "+OK")
}

func TestTooManyErrorsCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxErrors: 3})
	c := e.dial()
	c.do("FOO", "-ERR Unknown command")
	c.do("BAR", "-ERR Unknown command")
	c.do("BAZ", "-ERR Unknown command")
	c.expect("-ERR Too many errors")
	c.closed()
}

func TestCrossProtocolCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dial()
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.closed()
}

func TestSTLSRejectsPipelinedPlaintext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dial()
	c.send("STLS\r\nUSER injected\r\n")
	c.expect("-ERR Commands pipelined after STLS")
	c.closed()
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(annaUser, testMessage(1), testMessage(2))
	c := e.dialTLS()
	c.send("USER " + annaUser + "\r\nPASS " + annaPass + "\r\nSTAT\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n")
	c.expect("+OK")
	c.expect("+OK Logged in")
	c.expect("+OK 2 ")
	c.expect("+OK")
	if got := c.body(); got != testMessage(1) {
		t.Errorf("RETR 1 = %q", got)
	}
	c.expect("+OK")
	if got := c.body(); got != testMessage(2) {
		t.Errorf("RETR 2 = %q", got)
	}
	c.expect("+OK Bye")
	c.closed()
}

func TestRetrAndTopByteExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	msgs := []string{
		"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n. \r\n",
		"Subject: no final newline\r\n\r\nlast line",
		"Subject: only header\r\n",
		".Strange: header with a dot\r\nX: y\r\n\r\nbody\r\n",
		"Subject: long line\r\n\r\n" + strings.Repeat("x", 100000) + "\r\n.\r\nend\r\n",
	}
	uids := e.deliver(annaUser, msgs...)
	f := e.inbox(annaUser)
	c := e.login(annaUser, annaPass)
	for i, uid := range uids {
		rc, m, err := f.Open(uid)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(stored)) != m.Size {
			t.Fatalf("store: %d bytes, Size %d", len(stored), m.Size)
		}
		n := i + 1
		c.do(fmt.Sprintf("LIST %d", n), fmt.Sprintf("+OK %d %d", n, len(stored)))
		c.do(fmt.Sprintf("RETR %d", n), fmt.Sprintf("+OK %d octets", len(stored)))
		want := string(stored)
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n" // the terminator needs a line of its own
		}
		if got := c.body(); got != want {
			t.Errorf("RETR %d differs from the store:\n got %.200q\nwant %.200q", n, got, want)
		}
		hdr, err := f.Header(uid)
		if err != nil {
			t.Fatal(err)
		}
		wantHdr := string(hdr)
		if !strings.HasSuffix(wantHdr, "\r\n") {
			wantHdr += "\r\n"
		}
		if got := c.multi(fmt.Sprintf("TOP %d 0", n)); got != wantHdr {
			t.Errorf("TOP %d 0 = %q, want the header block %q", n, got, wantHdr)
		}
	}
	if got := c.multi("TOP 1 2"); got != "Subject: dots\r\n\r\n.\r\n..\r\n" {
		t.Errorf("TOP 1 2 = %q", got)
	}
	c.do("QUIT", "+OK")
}

func TestRetrSetsSeenTopDoesNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(annaUser, testMessage(1), testMessage(2))
	c := e.login(annaUser, annaPass)
	c.multi("RETR 1")
	c.multi("TOP 2 0")
	c.do("NOOP", "+OK") // the server flushed \Seen before reading NOOP
	msgs, _, err := e.inbox(annaUser).Messages()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(msgs[0].Flags, `\Seen`) || slices.Contains(msgs[1].Flags, `\Seen`) {
		t.Errorf("flags after RETR 1, TOP 2: %v, %v", msgs[0].Flags, msgs[1].Flags)
	}
	c.do("QUIT", "+OK")
}

func TestHouseholdDeleteHidesFromPOP3Only(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Household: true})
	uids := e.deliver(annaUser, testMessage(1), testMessage(2))
	c := e.login(annaUser, annaPass)
	c.do("DELE 1", "+OK")
	c.do("QUIT", "+OK Bye, 1 messages removed")
	// Still in the mailbox for IMAP, with the keyword.
	msgs, _, err := e.inbox(annaUser).Messages()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !slices.Contains(msgs[0].Flags, "$POP3Deleted") {
		t.Fatalf("after household DELE: %+v", msgs)
	}
	// Gone for POP3.
	c = e.login(annaUser, annaPass)
	c.do("STAT", fmt.Sprintf("+OK 1 %d", len(testMessage(2))))
	c.do("UIDL 1", fmt.Sprintf("+OK 1 %08x", uids[1]))
	c.do("QUIT", "+OK")
}

func TestExpungedByOtherSessionDuringPOP3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(annaUser, testMessage(1), testMessage(2), testMessage(3))
	c := e.login(annaUser, annaPass)
	// An IMAP client expunges message 2 while the POP3 session is open.
	if _, err := e.inbox(annaUser).Expunge([]uint32{uids[1]}, nil); err != nil {
		t.Fatal(err)
	}
	c.do("STAT", "+OK 3 ") // the snapshot keeps its numbering
	c.do("RETR 2", "-ERR Message was removed by another session")
	c.do("RETR 3", "+OK")
	if got := c.body(); got != testMessage(3) {
		t.Errorf("RETR 3 = %q", got)
	}
	c.do("DELE 2", "+OK")
	c.do("DELE 3", "+OK")
	c.do("QUIT", "+OK")
	if got := e.uids(annaUser); !slices.Equal(got, uids[:1]) {
		t.Fatalf("UIDs = %v, want %v", got, uids[:1])
	}
}

func TestLoginTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{LoginTimeout: 300 * time.Millisecond})
	c := e.dial()
	c.expect("-ERR Disconnected for inactivity")
	c.closed()
}

func TestShutdownEndsSessionsWithoutUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(annaUser, testMessage(1))
	c := e.login(annaUser, annaPass)
	c.do("DELE 1", "+OK")
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(t.Context()) }()
	c.expect("-ERR [SYS/TEMP] Server shutting down")
	c.closed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := e.uids(annaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs = %v, want %v", got, uids)
	}
}
