package pop3d

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/accounts"
	"postern/maildir"
)

// Test users and their passwords.
const (
	annaUser = "anna@example.org"
	annaPass = "anna-secret-1"
	bobUser  = "bob@example.org"
	bobPass  = "bob-secret-22"
)

// testCert is a self-signed certificate for 127.0.0.1/localhost, shared
// by all tests (generated once, read-only afterwards).
var testCert = sync.OnceValues(func() (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
})

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
	logs     *syncBuffer
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
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	accts, err := accounts.Open(acctDir, accounts.Options{Domains: []string{"example.org"}, ReloadInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accts.Close() })
	for user, pass := range map[string]string{annaUser: annaPass, bobUser: bobPass} {
		if err := accts.AddUser(user, pass); err != nil {
			t.Fatal(err)
		}
	}
	store, err := maildir.Open(root, maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	cert, certPEM := testCert()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, certPEM, 0o600)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)

	serverTC := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv := New(Options{
		Store:     store,
		Accounts:  accts,
		TLSConfig: serverTC,
		Hostname:  "pop.example.org",
		Logger:    logger,
		Config:    cfg,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	go func() { served <- srv.ServeTLS(tln) }()
	t.Cleanup(func() {
		srv.Shutdown(t.Context())
		for range 2 {
			if err := <-served; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testEnv{
		t: t, store: store, accts: accts, srv: srv,
		addr: ln.Addr().String(), tlsAddr: tln.Addr().String(), caFile: caFile,
		clientTC: &tls.Config{RootCAs: pool, ServerName: "localhost"},
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
type popClient struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

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
	if err != nil {
		e.t.Fatal(err)
	}
	c := &popClient{t: e.t, nc: nc, r: bufio.NewReader(nc)}
	e.t.Cleanup(func() { nc.Close() })
	c.expect("+OK ")
	return c
}

// login connects over implicit TLS and logs in as user.
func (e *testEnv) login(user, pass string) *popClient {
	e.t.Helper()
	c := e.dialTLS()
	c.do("USER "+user, "+OK")
	c.do("PASS "+pass, "+OK Logged in")
	return c
}

// stls upgrades a plain session.
func (c *popClient) stls(cfg *tls.Config) {
	c.t.Helper()
	c.do("STLS", "+OK")
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

// send writes raw bytes.
func (c *popClient) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// line reads one reply line without CRLF.
func (c *popClient) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads one line and checks its prefix.
func (c *popClient) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("got %q, want a line starting with %q", l, prefix)
	}
	return l
}

// do sends a command and checks the first reply line's prefix.
func (c *popClient) do(cmd, want string) string {
	c.t.Helper()
	c.send(cmd + "\r\n")
	return c.expect(want)
}

// body reads a multi-line body up to the "." line and returns it with
// dot-stuffing undone, exactly as sent (CRLFs kept).
func (c *popClient) body() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		if l == "." {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, "."))
		b.WriteString("\r\n")
	}
}

// multi sends a command expecting +OK and a multi-line body.
func (c *popClient) multi(cmd string) string {
	c.t.Helper()
	c.do(cmd, "+OK")
	return c.body()
}

// closed checks that the server closed the connection.
func (c *popClient) closed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if l, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("connection still open, got %q", l)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// needTool returns the path of an external program, skipping the test
// when it is missing, or failing it when POSTERN_REQUIRE_TOOLS=1.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("POSTERN_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (POSTERN_REQUIRE_TOOLS=1) but not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}
