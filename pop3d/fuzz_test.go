package pop3d

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/maildir"
)

// FuzzParseCommand checks that any line parses without panicking and that
// accepted verbs are upper-case keywords of at most four letters.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"STAT", "list 1", "TOP 1 0", "PASS a b c", "AUTH PLAIN =", "\x00", "RETR 1\xff", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.verb) == 0 || len(cmd.verb) > maxVerbLength || strings.ToUpper(cmd.verb) != cmd.verb {
			t.Fatalf("parseCommand(%q) verb %q", line, cmd.verb)
		}
	})
}

// FuzzSession plays a fuzzed script of command lines against a logged-in
// session over a maildrop of three messages. Invariants: no panic, the
// session ends, and the maildrop changes only if the script sent QUIT.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"STAT\r\nLIST\r\nUIDL\r\nQUIT\r\n",
		"RETR 1\r\nTOP 2 0\r\nTOP 3 99999999999999999999999\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"DELE 1\r\nDELE 1\r\nRETR 1\r\nLIST 1\r\nUIDL 4\r\nNOOP\r\n",
		"CAPA\r\nUSER x\r\nPASS y\r\nSTLS\r\nAUTH\r\nTOP 1 -1\r\n",
		"\x00\xff\r\n\n\n" + strings.Repeat("A", 300) + "\r\nQUIT\r\n",
		"list\nretr 3\nquit\n",
	} {
		f.Add([]byte(s))
	}
	store, err := maildir.Open(f.TempDir(), maildir.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	srv := New(Options{
		Store:  store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: Config{IdleTimeout: 10 * time.Second, MaxErrors: 1000},
	})
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, script []byte) {
		user := fmt.Sprintf("u%d@example.org", seq.Add(1))
		acct, err := store.Account(user)
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := acct.Folder("INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := inbox.Append(strings.NewReader(testMessage(i)), nil, time.Now(), nil); err != nil {
				t.Fatal(err)
			}
		}
		drop, err := openMaildrop(store, user, false)
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		c := newConn(srv, server, false)
		c.user, c.drop, c.state = user, drop, stateTransaction
		srv.lockUser(user, c)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		var out bytes.Buffer
		read := make(chan struct{})
		go func() {
			defer close(read)
			io.Copy(&out, client)
		}()
		client.SetWriteDeadline(time.Now().Add(10 * time.Second))
		client.Write(script)
		client.Close()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("session did not end")
		}
		<-read
		msgs, _, err := inbox.Messages()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 && !bytes.Contains(bytes.ToUpper(script), []byte("QUIT")) {
			t.Fatalf("maildrop changed without QUIT: %d messages\n%s", len(msgs), out.Bytes())
		}
	})
}
