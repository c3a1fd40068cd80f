package smtpd

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir"
	"postern/smtpd/queue"
)

// envOptions tunes newEnv.
type envOptions struct {
	cfg      Config
	noTLS    bool
	withQ    bool // open an outbound queue (never run: messages stay queued)
	aliases  string
	throttle accounts.ThrottleConfig
	quiet    bool // log at Info level to nowhere (benchmarks)
}

// testEnv is a running MX and submission server over a fresh store and
// accounts directory (users anna and bob, domain example.org).
type testEnv struct {
	t        testing.TB
	dir      string
	store    *maildir.Store
	accts    *accounts.Directory
	queue    *queue.Queue
	mx       *Server
	sub      *Server
	mxAddr   string // port 25 style
	subAddr  string // 587 style (STARTTLS)
	subsAddr string // 465 style (implicit TLS)
	caFile   string
	clientTC *tls.Config
	logs     *testkit.SyncBuffer
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	dir := t.TempDir()
	acctDir := filepath.Join(dir, "accounts")
	testkit.WritePasswd(t, filepath.Join(acctDir, accounts.UsersFile), testkit.Passwd())
	if o.aliases != "" {
		if err := os.WriteFile(filepath.Join(acctDir, accounts.AliasesFile), []byte(o.aliases), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testkit.SyncBuffer{}
	logger := testkit.DebugLogger(logs)
	if o.quiet {
		logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	accts, err := accounts.Open(acctDir, accounts.Options{Domains: []string{"example.org"}, ReloadInterval: -1,
		Logger: logger, Throttle: o.throttle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accts.Close() })
	store, err := maildir.Open(filepath.Join(dir, "mail"), maildir.Options{Quota: accts.Quota, WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var q *queue.Queue
	if o.withQ {
		qc := queue.DefaultConfig()
		qc.Hostname = "mx.example.org"
		q, err = queue.Open(dir, qc, queue.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
	}

	caFile, _ := testkit.WriteCert(t, dir)
	o.cfg = relaxPort25Defences(o.cfg) // ratelimit_test.go
	if o.cfg.VerifySenders == nil {
		off := false // sender verification needs a test DNS (verify_test.go)
		o.cfg.VerifySenders = &off
	}
	opts := Options{Store: store, Accounts: accts, Hostname: "mx.example.org", Logger: logger, Config: o.cfg, Queue: q}
	if !o.noTLS {
		opts.TLSConfig = testkit.ServerTLS()
	}
	e := &testEnv{t: t, dir: dir, store: store, accts: accts, queue: q, caFile: caFile,
		clientTC: testkit.ClientTLS(), logs: logs}
	e.mx = NewMX(opts)
	e.sub = NewSubmission(opts)
	serving := testkit.NewServing(t, ErrServerClosed, logs, func() {
		e.mx.Shutdown(t.Context())
		e.sub.Shutdown(t.Context())
	})
	e.mxAddr = serving.Serve(e.mx.Serve)
	e.subAddr = serving.Serve(e.sub.Serve)
	if !o.noTLS {
		e.subsAddr = serving.Serve(e.sub.ServeTLS)
	}
	return e
}

// folder returns the messages of a user's folder, oldest first (none
// when the folder does not exist).
func (e *testEnv) folder(user, name string) []string {
	e.t.Helper()
	a, err := e.store.Account(user)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := a.Folder(name)
	if err != nil {
		return nil
	}
	if err := f.Rescan(); err != nil {
		e.t.Fatal(err)
	}
	msgs, _, err := f.Messages()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		rc, _, err := f.Open(m.UID)
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// inbox returns the messages of user's INBOX, oldest first.
func (e *testEnv) inbox(user string) []string {
	e.t.Helper()
	return e.folder(user, "INBOX")
}

// queued returns the envelopes in the outbound queue.
func (e *testEnv) queued() []*queue.Envelope {
	e.t.Helper()
	envs, err := queue.List(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return envs
}

// client drives an SMTP session line by line, like a transcript.
type client struct{ *testkit.Conn }

// newClient wraps a new connection (see testkit.NewConn) in a client
// that reads whole SMTP replies.
func newClient(t testing.TB, nc net.Conn, err error) *client {
	t.Helper()
	c := &client{testkit.NewConn(t, nc, err)}
	c.Reply = c.reply
	return c
}

// dial connects to addr and reads the greeting.
func (e *testEnv) dial(addr string) *client {
	e.t.Helper()
	nc, err := net.Dial("tcp", addr)
	return e.greet(nc, err)
}

// mxToAnna opens a port 25 session with a transaction from
// sender@example.net to anna@example.org started (EHLO, MAIL, RCPT).
func (e *testEnv) mxToAnna() *client {
	e.t.Helper()
	c := e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	return c
}

// dialTLS connects to the implicit-TLS submission port.
func (e *testEnv) dialTLS() *client {
	e.t.Helper()
	nc, err := tls.Dial("tcp", e.subsAddr, e.clientTC)
	return e.greet(nc, err)
}

// greet wraps a new connection in a client and reads the greeting.
func (e *testEnv) greet(nc net.Conn, err error) *client {
	e.t.Helper()
	c := newClient(e.t, nc, err)
	c.Expect("220 ")
	return c
}

// reply reads one whole (possibly multi-line) reply, lines joined by "\n".
func (c *client) reply() string {
	c.T.Helper()
	c.NC.SetReadDeadline(time.Now().Add(30 * time.Second))
	var lines []string
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			c.T.Fatalf("reading reply: %v (got %q after %q)", err, l, lines)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// starttls upgrades the session and says EHLO again.
func (c *client) starttls(cfg *tls.Config) {
	c.T.Helper()
	c.Do("STARTTLS", "220 ")
	c.UpgradeTLS(cfg)
	c.Do("EHLO client.example.net", "250 ")
}

// closed reports whether the server closed the connection (EOF or reset)
// within a few seconds, ignoring any reply lines before that.
func (c *client) closed() bool {
	c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.R)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// testMessage returns a small message (CRLF line ends).
func testMessage(from, subject string) string {
	return "From: " + from + "\r\nTo: anna@example.org\r\nSubject: " + subject +
		"\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <" + subject + "@example.net>\r\n\r\nHello.\r\n"
}

// stripTrace removes the header lines Postern prepends (Return-Path,
// Received with its continuation lines, and added Date/Message-ID up to
// addedLines of them) and returns the rest.
func stripTrace(t testing.TB, msg string) string {
	t.Helper()
	if !strings.HasPrefix(msg, "Return-Path: <") {
		t.Fatalf("message does not start with Return-Path: %q", msg)
	}
	msg = msg[strings.Index(msg, "\r\n")+2:]
	if !strings.HasPrefix(msg, "Received: from ") {
		t.Fatalf("no Received header after Return-Path: %q", msg)
	}
	msg = msg[strings.Index(msg, "\r\n")+2:]
	for strings.HasPrefix(msg, "\t") {
		msg = msg[strings.Index(msg, "\r\n")+2:]
	}
	return msg
}
