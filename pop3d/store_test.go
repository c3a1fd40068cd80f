package pop3d

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/accounts/connguard"
	"postern/accounts/testkit"
	"postern/imapd"
	"postern/maildir"
)

// storeFile returns the path of the Maildir file of message m of user's
// INBOX (in new/ or cur/), found by its key as another program would.
func (e *testEnv) storeFile(user string, m maildir.Message) string {
	e.t.Helper()
	local, domain, _ := strings.Cut(user, "@")
	dir := filepath.Join(e.root, domain, local)
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, ent := range ents {
			if strings.HasPrefix(ent.Name(), m.Key) {
				return filepath.Join(dir, sub, ent.Name())
			}
		}
	}
	e.t.Fatalf("no file for key %s under %s", m.Key, dir)
	return ""
}

// diskMessages lists user's INBOX as a second Store opened on the same
// root reads it from disk, bypassing the server's Store and its memory.
func (e *testEnv) diskMessages(user string) []maildir.Message {
	e.t.Helper()
	other, err := maildir.Open(e.root, maildir.Options{WatchInterval: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	defer other.Close()
	a, err := other.Account(user)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := a.Folder("INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, _, err := f.Messages()
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

// wSize returns the ",W=" virtual size in a Maildir file name, or -1.
func wSize(name string) int64 {
	base, _, _ := strings.Cut(filepath.Base(name), ":")
	for _, f := range strings.Split(base, ",")[1:] {
		if v, ok := strings.CutPrefix(f, "W="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// TestSizesAndSeenOnDisk: LIST sizes count CRLF (also for a message that
// arrived with bare LF line ends), equal the octets RETR sends and the
// W= size in the Maildir file name; RETR leaves \Seen in the file name
// (the "S" info letter), visible to a second Store opened on the disk.
func TestSizesAndSeenOnDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	lf := "Subject: bare LF\n\nline one\n.dot line\nline three\n"
	crlf := testMessage(2)
	for _, m := range []string{lf, crlf} {
		if _, err := e.store.Deliver(t.Context(), strings.NewReader(m), []maildir.Target{{User: testkit.AnnaUser}}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _, err := e.inbox(testkit.AnnaUser).Messages()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("INBOX: %v, %v", msgs, err)
	}
	wantOctets := []int{len(strings.ReplaceAll(lf, "\n", "\r\n")), len(crlf)}

	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", fmt.Sprintf("+OK 2 %d", wantOctets[0]+wantOctets[1]))
	for i, m := range msgs {
		n := i + 1
		c.Do(fmt.Sprintf("LIST %d", n), fmt.Sprintf("+OK %d %d", n, wantOctets[i]))
		if w := wSize(e.storeFile(testkit.AnnaUser, m)); w != int64(wantOctets[i]) {
			t.Errorf("message %d: W=%d in %s, LIST says %d", n, w, e.storeFile(testkit.AnnaUser, m), wantOctets[i])
		}
		c.Do(fmt.Sprintf("RETR %d", n), fmt.Sprintf("+OK %d octets", wantOctets[i]))
		if got := c.body(); len(got) != wantOctets[i] {
			t.Errorf("RETR %d sent %d octets, LIST said %d", n, len(got), wantOctets[i])
		}
	}
	c.Do("QUIT", "+OK Bye, 0 messages removed")
	c.closed()

	for _, m := range msgs {
		name := e.storeFile(testkit.AnnaUser, m)
		if _, info, _ := strings.Cut(filepath.Base(name), ":"); !strings.HasPrefix(info, "2,") || !strings.Contains(info[2:], "S") {
			t.Errorf("after RETR the file %s lacks the S flag", name)
		}
	}
	for _, m := range e.diskMessages(testkit.AnnaUser) {
		if !slices.Contains(m.Flags, maildir.FlagSeen) {
			t.Errorf("a fresh Store sees UID %d with flags %v, want \\Seen", m.UID, m.Flags)
		}
	}
}

// TestIdleTimeoutRemovesNothing: a logged-in session silent for
// Config.IdleTimeout is closed with -ERR, its DELE marks are dropped and
// the maildrop lock is released.
func TestIdleTimeoutRemovesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{IdleTimeout: 400 * time.Millisecond})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("DELE 1", "+OK")
	start := time.Now()
	c.Expect("-ERR Disconnected for inactivity")
	c.closed()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids) {
		t.Fatalf("UIDs after timeout = %v, want %v", got, uids)
	}
	c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", "+OK 2 ")
	c.Do("QUIT", "+OK")
}

// TestDefaultIdleTimeout: the default is RFC 1939's ten minutes.
func TestDefaultIdleTimeout(t *testing.T) {
	t.Parallel()
	if got := (Config{}).withDefaults().IdleTimeout; got != 10*time.Minute {
		t.Fatalf("default IdleTimeout = %v", got)
	}
	if got := DefaultConfig().IdleTimeout; got != 10*time.Minute {
		t.Fatalf("DefaultConfig().IdleTimeout = %v", got)
	}
}

// startIMAP starts Postern's IMAP server on e's store and accounts and
// returns its implicit-TLS address.
func (e *testEnv) startIMAP() string {
	e.t.Helper()
	srv := imapd.New(imapd.Options{
		Store:     e.store,
		Accounts:  e.accts,
		TLSConfig: e.serverTC.Clone(),
		Hostname:  "imap.example.org",
		Logger:    e.logger,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTLS(ln)
	}()
	e.t.Cleanup(func() {
		srv.Shutdown(e.t.Context())
		<-done
	})
	return ln.Addr().String()
}

// TestIMAPCoexistence: an IMAP session in IDLE on INBOX receives the two
// EXPUNGEs of a POP3 DELE+QUIT; an IMAP expunge during a POP3 session
// leaves the POP3 numbering alone and RETR of that message fails cleanly.
func TestIMAPCoexistence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2), testMessage(3), testMessage(4))
	imapAddr := e.startIMAP()

	var mu sync.Mutex
	var expunged []uint32
	gotExpunge := make(chan struct{}, 10)
	ic, err := imapclient.DialTLS(imapAddr, &imapclient.Options{
		TLSConfig: e.clientTC,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Expunge: func(seq uint32) {
				mu.Lock()
				expunged = append(expunged, seq)
				mu.Unlock()
				gotExpunge <- struct{}{}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(testkit.AnnaUser, testkit.AnnaPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := ic.Idle()
	if err != nil {
		t.Fatal(err)
	}

	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("DELE 1", "+OK")
	c.Do("DELE 3", "+OK")
	c.Do("QUIT", "+OK Bye, 2 messages removed")
	for range 2 {
		select {
		case <-gotExpunge:
		case <-time.After(20 * time.Second):
			t.Fatalf("IMAP IDLE got %v EXPUNGEs, want 2", expunged)
		}
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	// Sequence numbers of UIDs 1 and 3 in a 4-message mailbox, in either
	// order: 3 then 1, or 1 then 2.
	if !slices.Equal(expunged, []uint32{1, 2}) && !slices.Equal(expunged, []uint32{3, 1}) {
		t.Errorf("EXPUNGE sequence numbers %v", expunged)
	}
	mu.Unlock()

	// Now uids[1] and uids[3] remain. POP3 opens, IMAP expunges the first.
	c = e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("STAT", "+OK 2 ")
	if err := ic.Store(imap.UIDSetNum(imap.UID(uids[1])), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := ic.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	c.Do("STAT", "+OK 2 ")
	c.Do("RETR 1", "-ERR Message was removed by another session")
	c.Do("RETR 2", "+OK")
	if got := c.body(); got != testMessage(4) {
		t.Errorf("RETR 2 = %q", got)
	}
	c.Do("UIDL 2", fmt.Sprintf("+OK 2 "+uidlFormat, uids[3], e.inbox(testkit.AnnaUser).UIDValidity()))
	c.Do("QUIT", "+OK")
	if got := e.uids(testkit.AnnaUser); !slices.Equal(got, uids[3:]) {
		t.Fatalf("UIDs at the end = %v, want %v", got, uids[3:])
	}
}

// TestMaxConnections: a connection beyond Config.MaxConnections is told
// "-ERR [SYS/TEMP]" and closed; once a slot is free it is served again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Limits: connguard.Limits{MaxConnections: 1}})
	first := e.dial()
	second, err := net.Dial("tcp", e.addr)
	c := &popClient{testkit.NewConn(t, second, err)}
	c.Expect("-ERR [SYS/TEMP] Too many connections")
	c.closed()
	first.Do("QUIT", "+OK")
	first.closed()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := net.Dial("tcp", e.addr)
		c = &popClient{testkit.NewConn(t, nc, err)}
		if l := c.Line(); strings.HasPrefix(l, "+OK") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after the first session ended: %q", l)
		}
	}
	c.Do("QUIT", "+OK")
}

// TestUIDLStableAcrossRestart: a new server and Store on the same Maildir
// show the same UIDLs, and a message delivered after a deletion gets a
// UIDL never shown before.
func TestUIDLStableAcrossRestart(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "mail")
	first := newEnvAt(t, Config{}, root)
	first.deliver(testkit.AnnaUser, testMessage(1), testMessage(2), testMessage(3))
	c := first.login(testkit.AnnaUser, testkit.AnnaPass)
	before := c.multi("UIDL")
	c.Do("DELE 3", "+OK")
	c.Do("QUIT", "+OK Bye, 1 messages removed")
	if err := first.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	second := newEnvAt(t, Config{}, root)
	second.deliver(testkit.AnnaUser, testMessage(4))
	c = second.login(testkit.AnnaUser, testkit.AnnaPass)
	after := c.multi("UIDL")
	c.Do("QUIT", "+OK")
	old := strings.Split(strings.TrimSuffix(before, "\r\n"), "\r\n")
	now := strings.Split(strings.TrimSuffix(after, "\r\n"), "\r\n")
	if len(now) != 3 || now[0] != old[0] || now[1] != old[1] {
		t.Fatalf("UIDL before restart %q, after %q", before, after)
	}
	_, newUIDL, _ := strings.Cut(now[2], " ")
	for _, l := range old {
		if _, u, _ := strings.Cut(l, " "); u == newUIDL {
			t.Fatalf("new message got the UIDL %s of a deleted one", u)
		}
	}
}
