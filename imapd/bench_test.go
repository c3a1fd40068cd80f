package imapd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const benchMessages = 10_000

// newBenchEnv starts a server whose INBOX holds benchMessages messages
// of about 2 KiB. Files are written straight into new/ and picked up by
// one Rescan, as another program's delivery would be.
func newBenchEnv(b *testing.B) *testEnv {
	b.Helper()
	e := newEnv(b, Config{})
	f := e.folder(annaUser, "INBOX")
	dir := filepath.Join(e.dir, "mail", "example.org", "anna", "new")
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 30)
	for i := range benchMessages {
		m := msg(fmt.Sprintf("bench %d", i), body)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("1700000000.M%dP1.bench", i)), []byte(m), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Rescan(); err != nil {
		b.Fatal(err)
	}
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) != benchMessages {
		b.Fatalf("bench folder: %v, %d messages", err, len(msgs))
	}
	return e
}

// BenchmarkFetch10k measures UID FETCH 1:* (UID FLAGS) and
// UID FETCH 1:* BODY.PEEK[] over a 10,000-message folder through the
// server (TLS, go-imap client), each beside a reference that reads the
// same data from maildir directly in the same run.
func BenchmarkFetch10k(b *testing.B) {
	e := newBenchEnv(b)
	c := e.login(annaUser, annaPass, nil)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	f := e.folder(annaUser, "INBOX")
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}

	b.Run("imap-uid-flags", func(b *testing.B) {
		for b.Loop() {
			n := drain(b, c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}))
			if n != benchMessages {
				b.Fatalf("%d messages", n)
			}
		}
	})
	b.Run("maildir-messages", func(b *testing.B) {
		for b.Loop() {
			msgs, _, err := f.Messages()
			if err != nil || len(msgs) != benchMessages {
				b.Fatal(err)
			}
		}
	})
	b.Run("imap-body-peek", func(b *testing.B) {
		for b.Loop() {
			n := drain(b, c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}))
			if n != benchMessages {
				b.Fatalf("%d messages", n)
			}
		}
	})
	b.Run("maildir-read-all", func(b *testing.B) {
		msgs, _, _ := f.Messages()
		for b.Loop() {
			for _, m := range msgs {
				rc, _, err := f.Open(m.UID)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
	})
}

// drain reads every FETCH response, consuming body literals.
func drain(b *testing.B, cmd *imapclient.FetchCommand) int {
	n := 0
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		for {
			item := m.Next()
			if item == nil {
				break
			}
			if bs, ok := item.(imapclient.FetchItemDataBodySection); ok {
				io.Copy(io.Discard, bs.Literal)
			}
		}
		n++
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	return n
}
