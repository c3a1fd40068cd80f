package smtpd

import (
	"bufio"
	"bytes"
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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postern/accounts"
	"postern/maildir"
	"postern/smtpd/queue"
)

// Test users and their passwords.
const (
	annaUser = "anna@example.org"
	annaPass = "anna-secret-1"
	bobUser  = "bob@example.org"
	bobPass  = "bob-secret-22"
)

// hashes caches the bcrypt hashes of the test passwords (computed once).
var hashes = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for u, p := range map[string]string{annaUser: annaPass, bobUser: bobPass} {
		// The lowest bcrypt cost keeps logins fast under -race; the
		// directory checks whatever cost a stored hash has.
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		m[u] = accounts.SchemePrefix + "$2y$" + strings.TrimPrefix(string(h), "$2a$")
	}
	return m
})

// testCert is a self-signed certificate for 127.0.0.1/localhost (its own
// CA), generated once.
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
})

// syncBuffer is a bytes.Buffer safe for concurrent writers (the log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
	logs     *syncBuffer
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	dir := t.TempDir()
	acctDir := filepath.Join(dir, "accounts")
	os.MkdirAll(acctDir, 0o700)
	h := hashes()
	users := annaUser + ":" + h[annaUser] + "::::::\n" + bobUser + ":" + h[bobUser] + "::::::\n"
	if err := os.WriteFile(filepath.Join(acctDir, accounts.UsersFile), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.aliases != "" {
		if err := os.WriteFile(filepath.Join(acctDir, accounts.AliasesFile), []byte(o.aliases), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
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

	cert, certPEM := testCert()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, certPEM, 0o600)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	opts := Options{Store: store, Accounts: accts, Hostname: "mx.example.org", Logger: logger, Config: o.cfg, Queue: q}
	if !o.noTLS {
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	e := &testEnv{t: t, dir: dir, store: store, accts: accts, queue: q, caFile: caFile,
		clientTC: &tls.Config{RootCAs: pool, ServerName: "localhost"}, logs: logs}
	e.mx = NewMX(opts)
	e.sub = NewSubmission(opts)
	served := make(chan error, 3)
	n := 0
	serve := func(fn func(net.Listener) error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n++
		go func() { served <- fn(ln) }()
		return ln.Addr().String()
	}
	e.mxAddr = serve(e.mx.Serve)
	e.subAddr = serve(e.sub.Serve)
	if !o.noTLS {
		e.subsAddr = serve(e.sub.ServeTLS)
	}
	t.Cleanup(func() {
		e.mx.Shutdown(t.Context())
		e.sub.Shutdown(t.Context())
		for range n {
			if err := <-served; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// inbox returns the messages of user's INBOX, oldest first.
func (e *testEnv) inbox(user string) []string {
	e.t.Helper()
	a, err := e.store.Account(user)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := a.Folder("INBOX")
	if err != nil {
		e.t.Fatal(err)
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
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
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
	c.do("EHLO client.example.net", "250 ")
	c.do("MAIL FROM:<sender@example.net>", "250 ")
	c.do("RCPT TO:<anna@example.org>", "250 ")
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
	if err != nil {
		e.t.Fatal(err)
	}
	c := &client{t: e.t, nc: nc, r: newReader(nc)}
	e.t.Cleanup(func() { nc.Close() })
	c.expect("220 ")
	return c
}

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one whole (possibly multi-line) reply, lines joined by "\n".
func (c *client) reply() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (got %q after %q)", err, l, lines)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads one reply and checks the prefix of its last line.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	last := r[strings.LastIndexByte(r, '\n')+1:]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("got %q, want a reply starting with %q", r, prefix)
	}
	return r
}

// do sends one command line and checks the reply's prefix.
func (c *client) do(cmd, prefix string) string {
	c.t.Helper()
	c.send(cmd + "\r\n")
	return c.expect(prefix)
}

// starttls upgrades the session and says EHLO again.
func (c *client) starttls(cfg *tls.Config) {
	c.t.Helper()
	c.do("STARTTLS", "220 ")
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
	c.do("EHLO client.example.net", "250 ")
}

// closed reports whether the server closed the connection (EOF or reset)
// within a few seconds, ignoring any reply lines before that.
func (c *client) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.r)
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
