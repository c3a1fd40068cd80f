package queue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/accounts/testkit"
	"postern/smtpd/queue/dnstest"
)

// testDNS is a dnstest.Server with the short names the tests use.
type testDNS struct {
	*dnstest.Server
	addr string
}

func newTestDNS(t testing.TB) *testDNS {
	s := dnstest.Start(t)
	return &testDNS{Server: s, addr: s.Addr}
}

func (d *testDNS) add(t testing.TB, lines ...string) { t.Helper(); d.Add(t, lines...) }

func (d *testDNS) lookupTXT(name string) ([]string, error) { return d.LookupTXT(name) }

// received is one message a test receiver accepted.
type received struct {
	helo  string
	tls   bool
	from  string
	rcpts []string
	data  []byte
}

// receiver is a scripted SMTP server built on go-smtp. Its hooks decide
// the reply to each RCPT and to the end of data.
type receiver struct {
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	got      []received
	rcptHook func(to string, attempt int) error // nil: accept
	dataHook func(attempt int) error            // nil: accept
	attempts map[string]int
	datas    int
	user     string // when set, AUTH PLAIN with user/pass is required
	pass     string
}

func newReceiver(t testing.TB, addr string, withTLS bool, configure func(*receiver)) *receiver {
	t.Helper()
	r := &receiver{attempts: map[string]int{}}
	if configure != nil {
		configure(r)
	}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &recvSession{r: r, c: c}, nil
	}))
	r.srv.Domain = "mx.test"
	r.srv.ReadTimeout, r.srv.WriteTimeout = 10*time.Second, 10*time.Second
	r.srv.MaxMessageBytes = 10 << 20
	r.srv.AllowInsecureAuth = false
	if withTLS {
		r.srv.TLSConfig = testkit.ServerTLS()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go r.srv.Serve(l)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *receiver) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type recvSession struct {
	r      *receiver
	c      *smtp.Conn
	authed bool
	from   string
	rcpts  []string
}

func (s *recvSession) AuthMechanisms() []string {
	if s.r.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *recvSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.r.user || pass != s.r.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *recvSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *recvSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	s.r.attempts[to]++
	n, hook := s.r.attempts[to], s.r.rcptHook
	s.r.mu.Unlock()
	if hook != nil {
		if err := hook(to, n); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *recvSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.datas++
	if s.r.dataHook != nil {
		if err := s.r.dataHook(s.r.datas); err != nil {
			return err
		}
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.got = append(s.r.got, received{helo: s.c.Hostname(), tls: isTLS, from: s.from, rcpts: s.rcpts, data: b})
	return nil
}

func (s *recvSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *recvSession) Logout() error { return nil }

// blackhole accepts TCP connections on addr and never says anything.
func blackhole(t testing.TB, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}

// inbox is a Local that keeps the messages delivered to each user in
// memory. Users are the addresses of localDomain.
type inbox struct {
	localDomain string
	mu          sync.Mutex
	msgs        map[string][][]byte
}

func (b *inbox) LocalUser(addr string) (string, bool) {
	if strings.HasSuffix(strings.ToLower(addr), "@"+b.localDomain) {
		return strings.ToLower(addr), true
	}
	return "", false
}

func (b *inbox) DeliverLocal(_ context.Context, user string, msg io.Reader) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.msgs == nil {
		b.msgs = map[string][][]byte{}
	}
	b.msgs[user] = append(b.msgs[user], data)
	return nil
}

func (b *inbox) of(user string) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.msgs[user]...)
}

// testQueue opens a queue in a fresh data directory with fast retries,
// pointed at the test DNS and the receiver's port, and runs it until the
// test ends.
func testQueue(t testing.TB, dataDir string, d *testDNS, port string, local Local, edit func(*Config)) *Queue {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hostname = "out.sender.test"
	cfg.Resolver = d.addr
	p, _ := net.LookupPort("tcp", port)
	cfg.MXPort = p
	cfg.Retry = []Duration{Duration(50 * time.Millisecond)}
	cfg.CommandTimeout = Duration(5 * time.Second)
	cfg.ConnectTimeout = Duration(5 * time.Second)
	if edit != nil {
		edit(&cfg)
	}
	q, err := Open(dataDir, cfg, Options{Logger: testLogger(t), Local: local})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return q
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("POSTERN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// queueEmpty reports whether the data directory's queue holds no message.
func queueEmpty(dataDir string) bool {
	m, _ := filepath.Glob(filepath.Join(dataDir, "queue", "*.json"))
	n, _ := filepath.Glob(filepath.Join(dataDir, "queue", "*.msg"))
	return len(m) == 0 && len(n) == 0
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func testMessage(from, to, subject string) string {
	return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject +
		"\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <" + subject + "@sender.test>\r\n\r\nHello.\r\n"
}

func enqueue(t testing.TB, q *Queue, from string, rcpts []string, msg string) string {
	t.Helper()
	id, err := q.Enqueue(context.Background(), from, rcpts, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
var errNoUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}

var _ = errors.New
var _ = bytes.Contains
