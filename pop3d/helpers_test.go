package pop3d

import (
	"crypto/tls"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir"
)

// testEnv is a running POP3 server over a fresh store and accounts
// directory, listening on 127.0.0.1 for plain (110-style) and implicit
// TLS (995-style) connections.
type testEnv struct {
	t        testing.TB
	store    *maildir.Store
	accts    *accounts.Directory
	srv      *Server
	addr     string // plain, STLS offered
	tlsAddr  string // implicit TLS
	caFile   string // PEM of the server certificate, for external clients
	clientTC *tls.Config
	serverTC *tls.Config // what the server presents
	logs     *testkit.SyncBuffer
	logger   *slog.Logger
	root     string // the store's root directory
}

// newEnv starts a server with cfg and the users anna and bob.
func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	return newEnvAt(t, cfg, "")
}

// newEnvAt is newEnv with the store rooted at root ("" for a new
// temporary directory), so a Dovecot can serve the same Maildirs.
func newEnvAt(t testing.TB, cfg Config, root string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	if root == "" {
		root = filepath.Join(dir, "mail")
	}
	acctDir := filepath.Join(dir, "accounts")
	testkit.WritePasswd(t, filepath.Join(acctDir, accounts.UsersFile), testkit.Passwd())
	logs := &testkit.SyncBuffer{}
	logger := testkit.DebugLogger(logs)
	accts, err := accounts.Open(acctDir, accounts.Options{Domains: []string{"example.org"}, ReloadInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accts.Close() })
	store, err := maildir.Open(root, maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	caFile, _ := testkit.WriteCert(t, dir)
	serverTC := testkit.ServerTLS()
	srv := New(Options{
		Store:     store,
		Accounts:  accts,
		TLSConfig: serverTC,
		Hostname:  "pop.example.org",
		Logger:    logger,
		Config:    cfg,
	})
	serving := testkit.NewServing(t, ErrServerClosed, logs, func() { srv.Shutdown(t.Context()) })
	addr, tlsAddr := serving.Serve(srv.Serve), serving.Serve(srv.ServeTLS)
	return &testEnv{
		t: t, store: store, accts: accts, srv: srv,
		addr: addr, tlsAddr: tlsAddr, caFile: caFile,
		clientTC: testkit.ClientTLS(),
		serverTC: serverTC,
		logs:     logs, logger: logger, root: root,
	}
}

// inbox returns user's INBOX folder.
func (e *testEnv) inbox(user string) *maildir.Folder {
	e.t.Helper()
	a, err := e.store.Account(user)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := a.Folder("INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// deliver appends messages (CRLF line ends) to user's INBOX and returns
// their UIDs.
func (e *testEnv) deliver(user string, msgs ...string) []uint32 {
	e.t.Helper()
	f := e.inbox(user)
	var uids []uint32
	for _, m := range msgs {
		msg, err := f.Append(strings.NewReader(m), nil, time.Now(), nil)
		if err != nil {
			e.t.Fatal(err)
		}
		uids = append(uids, msg.UID)
	}
	return uids
}

// uids lists the UIDs in user's INBOX.
func (e *testEnv) uids(user string) []uint32 {
	e.t.Helper()
	msgs, _, err := e.inbox(user).Messages()
	if err != nil {
		e.t.Fatal(err)
	}
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	return uids
}

// testMessage returns a small distinct message.
func testMessage(i int) string {
	return "From: sender@example.net\r\nTo: anna@example.org\r\nSubject: message " + itoa(i) +
		"\r\nMessage-ID: <" + itoa(i) + "@example.net>\r\n\r\nBody of message " + itoa(i) + ".\r\n"
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// popClient drives a POP3 session line by line, like a transcript.
type popClient struct{ *testkit.Conn }

// dial connects to the plain port and reads the greeting.
func (e *testEnv) dial() *popClient {
	e.t.Helper()
	return e.greet(net.Dial("tcp", e.addr))
}

// dialTLS connects to the implicit-TLS port and reads the greeting.
func (e *testEnv) dialTLS() *popClient {
	e.t.Helper()
	return e.greet(tls.Dial("tcp", e.tlsAddr, e.clientTC))
}

// greet wraps a new connection in a client and reads the greeting.
func (e *testEnv) greet(nc net.Conn, err error) *popClient {
	e.t.Helper()
	c := &popClient{testkit.NewConn(e.t, nc, err)}
	c.Expect("+OK ")
	return c
}

// login connects over implicit TLS and logs in as user.
func (e *testEnv) login(user, pass string) *popClient {
	e.t.Helper()
	c := e.dialTLS()
	c.Do("USER "+user, "+OK")
	c.Do("PASS "+pass, "+OK Logged in")
	return c
}

// stls upgrades a plain session.
func (c *popClient) stls(cfg *tls.Config) {
	c.T.Helper()
	c.Do("STLS", "+OK")
	c.UpgradeTLS(cfg)
}

// body reads a multi-line body up to the "." line and returns it with
// dot-stuffing undone, exactly as sent (CRLFs kept).
func (c *popClient) body() string {
	c.T.Helper()
	var b strings.Builder
	for {
		l := c.Line()
		if l == "." {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, "."))
		b.WriteString("\r\n")
	}
}

// multi sends a command expecting +OK and a multi-line body.
func (c *popClient) multi(cmd string) string {
	c.T.Helper()
	c.Do(cmd, "+OK")
	return c.body()
}

// closed checks that the server closed the connection.
func (c *popClient) closed() {
	c.T.Helper()
	c.NC.SetReadDeadline(time.Now().Add(30 * time.Second))
	if l, err := c.R.ReadString('\n'); err == nil {
		c.T.Fatalf("connection still open, got %q", l)
	}
}
