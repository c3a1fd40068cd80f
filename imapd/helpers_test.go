package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir"
)

// testEnv is a running IMAP server over a fresh store and accounts
// directory, listening on 127.0.0.1 for plain (143-style, STARTTLS) and
// implicit-TLS (993-style) connections.
type testEnv struct {
	t        testing.TB
	dir      string
	store    *maildir.Store
	accts    *accounts.Directory
	srv      *Server
	addr     string
	tlsAddr  string
	caFile   string
	clientTC *tls.Config
	logs     *testkit.SyncBuffer
}

// newEnv starts a server with cfg and the users anna and bob.
func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	dir := t.TempDir()
	acctDir := filepath.Join(dir, "accounts")
	testkit.WritePasswd(t, filepath.Join(acctDir, accounts.UsersFile), testkit.Passwd())
	logs := &testkit.SyncBuffer{}
	logger := testkit.DebugLogger(logs)
	accts, err := accounts.Open(acctDir, accounts.Options{Domains: []string{"example.org"}, ReloadInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accts.Close() })
	store, err := maildir.Open(filepath.Join(dir, "mail"), maildir.Options{Logger: logger, WatchInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	caFile, _ := testkit.WriteCert(t, dir)

	srv := New(Options{
		Store:     store,
		Accounts:  accts,
		TLSConfig: testkit.ServerTLS(),
		Hostname:  "imap.example.org",
		Logger:    logger,
		Config:    cfg,
	})
	serving := testkit.NewServing(t, ErrServerClosed, logs, func() {
		if err := srv.Shutdown(shutdownCtx(t)); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	addr, tlsAddr := serving.Serve(srv.Serve), serving.Serve(srv.ServeTLS)
	return &testEnv{
		t: t, dir: dir, store: store, accts: accts, srv: srv,
		addr: addr, tlsAddr: tlsAddr, caFile: caFile,
		clientTC: testkit.ClientTLS(),
		logs:     logs,
	}
}

// folder returns user's folder name.
func (e *testEnv) folder(user, name string) *maildir.Folder {
	e.t.Helper()
	a, err := e.store.Account(user)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := a.Folder(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// put appends messages (CRLF line ends) to user's folder and returns
// their UIDs.
func (e *testEnv) put(user, name string, msgs ...string) []uint32 {
	e.t.Helper()
	f := e.folder(user, name)
	var uids []uint32
	for _, m := range msgs {
		msg, err := f.Append(strings.NewReader(m), nil, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), nil)
		if err != nil {
			e.t.Fatal(err)
		}
		uids = append(uids, msg.UID)
	}
	return uids
}

// login opens an implicit-TLS client session for user.
func (e *testEnv) login(user, pass string, opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = e.clientTC
	c, err := imapclient.DialTLS(e.tlsAddr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// msg builds a small CRLF message.
func msg(subject, body string) string {
	return "From: Carol <carol@example.net>\r\nTo: anna@example.org\r\nSubject: " + subject +
		"\r\nDate: Sun, 01 Mar 2026 12:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
		"@example.net>\r\n\r\n" + body + "\r\n"
}

// plainClient is a SASL PLAIN client for AUTHENTICATE.
func plainClient(user, pass string) sasl.Client { return sasl.NewPlainClient("", user, pass) }

// shutdownCtx bounds a test server's Shutdown.
func shutdownCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is an implicit-TLS connection driven line by line, for what
// imapclient cannot send.
type rawConn struct {
	t  testing.TB
	c  *tls.Conn
	br *bufio.Reader
}

// raw dials the implicit-TLS port and reads the greeting.
func (e *testEnv) raw(t testing.TB) *rawConn {
	t.Helper()
	c, err := tls.Dial("tcp", e.tlsAddr, e.clientTC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	if line := r.line(); !strings.HasPrefix(line, "* OK") {
		t.Fatalf("greeting %q", line)
	}
	return r
}

// line reads one line (5 s deadline).
func (r *rawConn) line() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, s)
	}
	return s
}

// send writes s plus CRLF.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a tagged command and returns everything up to and including
// its tagged reply.
func (r *rawConn) cmd(s string) string {
	r.t.Helper()
	r.send(s)
	return r.until(strings.Fields(s)[0] + " ")
}

// until reads lines until one starts with prefix.
func (r *rawConn) until(prefix string) string {
	r.t.Helper()
	var out strings.Builder
	for {
		l := r.line()
		out.WriteString(l)
		if strings.HasPrefix(l, prefix) {
			return out.String()
		}
	}
}

func (r *rawConn) login(user, pass string) {
	r.t.Helper()
	if out := r.cmd("l0 LOGIN " + user + " " + pass); !strings.Contains(out, "l0 OK") {
		r.t.Fatalf("LOGIN: %s", out)
	}
}
