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

	"postern/accounts/testkit"
	"postern/maildir/dovecottest"
)

const benchMessages = 10_000

// newBenchEnv starts a server whose INBOX holds benchMessages messages
// of about 2 KiB. Files are written straight into new/ and picked up by
// one Rescan, as another program's delivery would be.
func newBenchEnv(b *testing.B) *testEnv {
	b.Helper()
	e := newEnv(b, Config{})
	f := e.folder(testkit.AnnaUser, "INBOX")
	writeBenchMessages(b, filepath.Join(e.dir, "mail", "example.org", "anna", "new"))
	if err := f.Rescan(); err != nil {
		b.Fatal(err)
	}
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) != benchMessages {
		b.Fatalf("bench folder: %v, %d messages", err, len(msgs))
	}
	return e
}

// writeBenchMessages writes benchMessages messages of about 2 KiB into
// a Maildir's new/ directory.
func writeBenchMessages(b *testing.B, newDir string) {
	b.Helper()
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 30)
	for i := range benchMessages {
		m := msg(fmt.Sprintf("bench %d", i), body)
		if err := os.WriteFile(filepath.Join(newDir, fmt.Sprintf("1700000000.M%dP1.bench", i)), []byte(m), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetch10k measures SELECT, UID FETCH 1:* (UID FLAGS),
// (ENVELOPE RFC822.SIZE) and BODY.PEEK[] over a 10,000-message INBOX,
// through Postern and, in the same run, through Debian's Dovecot serving
// its own Maildir of the same messages (indexes warm; skipped when Dovecot
// is not installed), both over STARTTLS with the same go-imap client. The
// maildir/ sub-benchmarks read the same data from the store directly.
func BenchmarkFetch10k(b *testing.B) {
	e := newBenchEnv(b)
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.clientTC})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testkit.AnnaUser, testkit.AnnaPass).Wait(); err != nil {
		b.Fatal(err)
	}
	b.Run("postern", func(b *testing.B) { benchSteps(b, fetchSteps(c)) })

	f := e.folder(testkit.AnnaUser, "INBOX")
	b.Run("maildir/messages", func(b *testing.B) {
		for b.Loop() {
			msgs, _, err := f.Messages()
			if err != nil || len(msgs) != benchMessages {
				b.Fatal(err)
			}
		}
	})
	b.Run("maildir/read-all", func(b *testing.B) {
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

	b.Run("dovecot", func(b *testing.B) {
		testkit.RequireTool(b, "dovecot", "/usr/sbin/dovecot")
		d := dovecottest.Start(b, dovecottest.Options{TLS: true})
		newDir := filepath.Join(d.Maildir(testkit.AnnaUser), "new")
		for _, sub := range []string{"new", "cur", "tmp"} {
			os.MkdirAll(filepath.Join(d.Maildir(testkit.AnnaUser), sub), 0o700)
		}
		writeBenchMessages(b, newDir)
		d.Chown()
		dcTLS := testkit.ClientTLS() // Dovecot presents the kit's certificate
		dcTLS.ServerName = "127.0.0.1"
		dc, err := imapclient.DialStartTLS(d.IMAPAddr, &imapclient.Options{TLSConfig: dcTLS})
		if err != nil {
			b.Fatal(err)
		}
		defer dc.Close()
		if err := dc.Login(testkit.AnnaUser, d.Password).Wait(); err != nil {
			b.Fatal(err)
		}
		steps := fetchSteps(dc)
		for _, st := range steps { // warm Dovecot's indexes and caches
			st.fn()
		}
		benchSteps(b, steps)
	})
}

// step is one measured command.
type step struct {
	name string
	fn   func()
}

// benchSteps runs every step as a sub-benchmark.
func benchSteps(b *testing.B, steps []step) {
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			for b.Loop() {
				st.fn()
			}
		})
	}
}

// fetchSteps are the commands of the speed target on c: SELECT
// and three UID FETCH 1:* variants. A failure panics (they run inside
// benchmarks and outside).
func fetchSteps(c *imapclient.Client) []step {
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	steps := []step{{"select", func() {
		sd, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil || sd.NumMessages != benchMessages {
			panic(fmt.Sprintf("select: %v %+v", err, sd))
		}
	}}}
	for _, f := range []struct {
		name string
		opts *imap.FetchOptions
	}{
		{"uid-flags", &imap.FetchOptions{UID: true, Flags: true}},
		{"envelope-size", &imap.FetchOptions{UID: true, Envelope: true, RFC822Size: true}},
		{"body-peek", &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}},
	} {
		steps = append(steps, step{f.name, func() {
			if n := drain(c.Fetch(all, f.opts)); n != benchMessages {
				panic(fmt.Sprintf("%s: %d messages", f.name, n))
			}
		}})
	}
	steps[0].fn() // the FETCH steps need a selected mailbox when run alone
	return steps
}

// drain reads every FETCH response, consuming body literals.
func drain(cmd *imapclient.FetchCommand) int {
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
		panic(err)
	}
	return n
}
