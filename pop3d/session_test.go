package pop3d

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/connguard"
	"postern/accounts/testkit"
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
	c.Do("USER "+testkit.AnnaUser, "-ERR [AUTH] Plaintext authentication disallowed")
	c.Do("PASS "+testkit.AnnaPass, "-ERR [AUTH] Plaintext authentication disallowed")
	c.Do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "-ERR [AUTH] Plaintext authentication disallowed")
	if got := c.multi("AUTH"); got != "" {
		t.Errorf("AUTH before TLS lists %q", got)
	}

	c.stls(e.clientTC)
	capa = c.multi("CAPA")
	if !strings.Contains(capa, "USER\r\n") || !strings.Contains(capa, "SASL PLAIN\r\n") || strings.Contains(capa, "STLS") {
		t.Errorf("CAPA after STLS:\n%s", capa)
	}
	c.Do("STLS", "-ERR Already using TLS")
	c.Do("USER "+testkit.AnnaUser, "+OK")
	c.Do("PASS "+testkit.AnnaPass, "+OK Logged in, 0 messages (0 octets)")
	capa = c.multi("CAPA")
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") {
		t.Errorf("CAPA in TRANSACTION offers login:\n%s", capa)
	}
	c.Do("QUIT", "+OK Bye")
	c.closed()
}

func TestMaildropTranscript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2), testMessage(3))
	v := e.inbox(testkit.AnnaUser).UIDValidity()
	size := func(i int) int { return len(testMessage(i)) }
	total := size(1) + size(2) + size(3)

	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", fmt.Sprintf("+OK 3 %d", total))
	if got, want := c.multi("LIST"), fmt.Sprintf("1 %d\r\n2 %d\r\n3 %d\r\n", size(1), size(2), size(3)); got != want {
		t.Errorf("LIST = %q, want %q", got, want)
	}
	c.Do("LIST 2", fmt.Sprintf("+OK 2 %d", size(2)))
	wantUIDL := ""
	for i, u := range uids {
		wantUIDL += fmt.Sprintf("%d "+uidlFormat+"\r\n", i+1, u, v)
	}
	if got := c.multi("UIDL"); got != wantUIDL {
		t.Errorf("UIDL = %q, want %q", got, wantUIDL)
	}
	c.Do("UIDL 3", fmt.Sprintf("+OK 3 "+uidlFormat, uids[2], v))
	c.Do("RETR 1", fmt.Sprintf("+OK %d octets", size(1)))
	if got := c.body(); got != testMessage(1) {
		t.Errorf("RETR 1 = %q, want %q", got, testMessage(1))
	}
	c.Do("DELE 1", "+OK Message 1 deleted")
	c.Do("DELE 1", "-ERR Message 1 already deleted")
	c.Do("RETR 1", "-ERR Message 1 already deleted")
	c.Do("LIST 1", "-ERR Message 1 already deleted")
	c.Do("STAT", fmt.Sprintf("+OK 2 %d", size(2)+size(3)))
	c.Do("RSET", fmt.Sprintf("+OK Maildrop has 3 messages (%d octets)", total))
	c.Do("DELE 2", "+OK")
	c.Do("DELE 3", "+OK")
	if got := c.multi("LIST"); got != fmt.Sprintf("1 %d\r\n", size(1)) {
		t.Errorf("LIST after DELE = %q", got)
	}
	c.Do("NOOP", "+OK")
	// Nothing is removed before QUIT.
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs before QUIT = %v, want %v", got, uids)
	}
	c.Do("QUIT", "+OK Bye, 2 messages removed")
	c.closed()
	// +OK came after the expunge: the store already lacks them.
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids[:1]) {
		t.Fatalf("UIDs after QUIT = %v, want %v", got, uids[:1])
	}
	if got := e.diskMessages(testkit.AnnaUser); len(got) != 1 || got[0].UID != uids[0] {
		t.Fatalf("on disk after QUIT: %+v, want only UID %d", got, uids[0])
	}
	c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", fmt.Sprintf("+OK 1 %d", size(1)))
	c.Do("UIDL 1", fmt.Sprintf("+OK 1 "+uidlFormat, uids[0], v))
	c.Do("QUIT", "+OK Bye, 0 messages removed")
}

func TestDroppedConnectionRemovesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("DELE 1", "+OK")
	c.Do("DELE 2", "+OK")
	c.NC.Close()
	// The lock is released when the server notices; then a new session
	// sees both messages.
	var c2 *popClient
	for deadline := time.Now().Add(10 * time.Second); ; {
		c2 = e.dialTLS()
		c2.Do("USER "+testkit.AnnaUser, "+OK")
		c2.Send("PASS " + testkit.AnnaPass + "\r\n")
		if l := c2.Line(); strings.HasPrefix(l, "+OK") {
			break
		} else if !strings.HasPrefix(l, "-ERR [IN-USE]") || time.Now().After(deadline) {
			t.Fatalf("login after drop: %q", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c2.Do("STAT", "+OK 2 ")
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs = %v, want %v", got, uids)
	}
}

func TestInUseAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(testkit.AnnaUser, testMessage(1))
	first := e.login(testkit.AnnaUser, testkit.AnnaPass)
	second := e.dialTLS()
	second.Do("USER "+testkit.AnnaUser, "+OK")
	start := time.Now()
	second.Do("PASS "+testkit.AnnaPass, "-ERR [IN-USE] Mailbox is locked by another POP3 session")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("IN-USE took %v", d)
	}
	// Another user is not affected.
	third := e.login(testkit.BobUser, testkit.BobPass)
	third.Do("QUIT", "+OK")
	first.Do("QUIT", "+OK")
	first.closed()
	second.Do("USER "+testkit.AnnaUser, "+OK")
	second.Do("PASS "+testkit.AnnaPass, "+OK Logged in, 1 messages")
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dialTLS()
	c.Do("PASS x", "-ERR Send USER first")
	c.Do("USER "+testkit.AnnaUser, "+OK")
	wrong := c.Do("PASS wrong-password", "-ERR [AUTH]")
	c.Do("USER nobody@example.org", "+OK")
	unknown := c.Do("PASS wrong-password", "-ERR [AUTH]")
	if wrong != unknown {
		t.Errorf("wrong password %q, unknown user %q: answers differ", wrong, unknown)
	}
	c.Do("AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism")
	c.Do("AUTH PLAIN", "+ ")
	c.Do("*", "-ERR Authentication cancelled")
	c.Do("STAT", "-ERR STAT not allowed in the AUTHORIZATION state")
}

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(testkit.AnnaUser, testMessage(1))
	// Initial response (RFC 5034 §4).
	c := e.dialTLS()
	c.Do("AUTH PLAIN AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "+OK Logged in, 1 messages")
	c.Do("QUIT", "+OK")
	c.closed() // the maildrop lock is released before the socket closes
	// Continuation.
	c = e.dialTLS()
	c.Do("AUTH PLAIN", "+ ")
	c.Do("AGFubmFAZXhhbXBsZS5vcmcAYW5uYS1zZWNyZXQtMQ==", "+OK Logged in, 1 messages")
	c.Do("USER x", "-ERR USER not allowed in the TRANSACTION state")
	c.Do("QUIT", "+OK")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxErrors: 100})
	e.deliver(testkit.AnnaUser, testMessage(1))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
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
		c.Do(tt.send, tt.want)
	}
	// A huge TOP count sends the whole message.
	c.Do("TOP 1 184467440737095516150", "+OK")
	if got := c.body(); got != testMessage(1) {
		t.Errorf("TOP 1 huge = %q", got)
	}
	c.Do("QUIT", "+OK")
}

func TestTooManyErrorsCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxErrors: 3})
	c := e.dial()
	c.Do("FOO", "-ERR Unknown command")
	c.Do("BAR", "-ERR Unknown command")
	c.Do("BAZ", "-ERR Unknown command")
	c.Expect("-ERR Too many errors")
	c.closed()
}

func TestCrossProtocolCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dial()
	c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.closed()
}

func TestSTLSRejectsPipelinedPlaintext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	c := e.dial()
	c.Send("STLS\r\nUSER injected\r\n")
	c.Expect("-ERR Commands pipelined after STLS")
	c.closed()
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	c := e.dialTLS()
	c.Send("USER " + testkit.AnnaUser + "\r\nPASS " + testkit.AnnaPass + "\r\nSTAT\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n")
	c.Expect("+OK")
	c.Expect("+OK Logged in")
	c.Expect("+OK 2 ")
	c.Expect("+OK")
	if got := c.body(); got != testMessage(1) {
		t.Errorf("RETR 1 = %q", got)
	}
	c.Expect("+OK")
	if got := c.body(); got != testMessage(2) {
		t.Errorf("RETR 2 = %q", got)
	}
	c.Expect("+OK Bye")
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
	uids := e.deliver(testkit.AnnaUser, msgs...)
	f := e.inbox(testkit.AnnaUser)
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
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
		c.Do(fmt.Sprintf("LIST %d", n), fmt.Sprintf("+OK %d %d", n, len(stored)))
		c.Do(fmt.Sprintf("RETR %d", n), fmt.Sprintf("+OK %d octets", len(stored)))
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
	c.Do("QUIT", "+OK")
}

func TestRetrSetsSeenTopDoesNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.multi("RETR 1")
	c.multi("TOP 2 0")
	c.Do("NOOP", "+OK") // the server flushed \Seen before reading NOOP
	msgs, _, err := e.inbox(testkit.AnnaUser).Messages()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(msgs[0].Flags, `\Seen`) || slices.Contains(msgs[1].Flags, `\Seen`) {
		t.Errorf("flags after RETR 1, TOP 2: %v, %v", msgs[0].Flags, msgs[1].Flags)
	}
	c.Do("QUIT", "+OK")
}

func TestHouseholdDeleteHidesFromPOP3Only(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Household: true})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("DELE 1", "+OK")
	c.Do("QUIT", "+OK Bye, 1 messages removed")
	c.closed() // the maildrop lock is released before the socket closes
	// Still in the mailbox for IMAP, with the keyword.
	msgs, _, err := e.inbox(testkit.AnnaUser).Messages()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !slices.Contains(msgs[0].Flags, "$POP3Deleted") {
		t.Fatalf("after household DELE: %+v", msgs)
	}
	// Gone for POP3.
	c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", fmt.Sprintf("+OK 1 %d", len(testMessage(2))))
	c.Do("UIDL 1", fmt.Sprintf("+OK 1 %08x", uids[1]))
	c.Do("QUIT", "+OK")
}

func TestExpungedByOtherSessionDuringPOP3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2), testMessage(3))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	// An IMAP client expunges message 2 while the POP3 session is open.
	if _, err := e.inbox(testkit.AnnaUser).Expunge([]uint32{uids[1]}, nil); err != nil {
		t.Fatal(err)
	}
	c.Do("STAT", "+OK 3 ") // the snapshot keeps its numbering
	c.Do("RETR 2", "-ERR Message was removed by another session")
	c.Do("RETR 3", "+OK")
	if got := c.body(); got != testMessage(3) {
		t.Errorf("RETR 3 = %q", got)
	}
	c.Do("DELE 2", "+OK")
	c.Do("DELE 3", "+OK")
	c.Do("QUIT", "+OK")
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids[:1]) {
		t.Fatalf("UIDs = %v, want %v", got, uids[:1])
	}
}

func TestLoginTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Limits: connguard.Limits{LoginCommandTimeout: 300 * time.Millisecond}})
	c := e.dial()
	c.Expect("-ERR Disconnected for inactivity")
	c.closed()
}

func TestShutdownEndsSessionsWithoutUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("DELE 1", "+OK")
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(t.Context()) }()
	c.Expect("-ERR [SYS/TEMP] Server shutting down")
	c.closed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs = %v, want %v", got, uids)
	}
}

// A client that logs in again the moment it reads QUIT's +OK finds the
// maildrop free: the lock is released before the reply.
func TestLoginRightAfterQuit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for i := range 10 {
		e.deliver(testkit.AnnaUser, testMessage(i))
	}
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	for i := range 20 {
		if i%2 == 0 {
			c.Do("DELE 1", "+OK")
		}
		c.Do("QUIT", "+OK Bye")
		c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	}
	c.Do("QUIT", "+OK Bye")
}
