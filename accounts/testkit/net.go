package testkit

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Listen returns a listener on 127.0.0.1 with a port of the system's
// choice, closed when the test ends. Pass it straight to the server under
// test: the port stays held, so no other test can take it.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Only for a separate process that must bind the port itself (Dovecot,
// Postfix, Pebble, the postern binary): another program may take the port
// in between, so in-process servers get a Listen listener instead. It
// never returns the same port twice in one test binary, so the ports of
// one configuration differ even when the system hands a closed port out
// again at once.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testkit: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatal("testkit: no port free that was not handed out before")
	return 0
}

// handedOut holds the ports FreePort returned.
var handedOut sync.Map

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return Loopback(FreePort(t))
}

// Loopback returns "127.0.0.1:port".
func Loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Timeouts of Conn's reads and writes: generous, since only failures wait
// that long.
const (
	ConnWriteTimeout = 10 * time.Second
	ConnReadTimeout  = 30 * time.Second
)

// Conn is a client connection a test drives line by line, like a
// transcript. Protocol tests wrap it with their reply syntax.
type Conn struct {
	// T is the test the connection fails.
	T testing.TB
	// NC is the connection (a *tls.Conn after UpgradeTLS).
	NC net.Conn
	// R reads from NC.
	R *bufio.Reader
	// Reply reads one whole reply for Expect, lines joined by "\n"; nil
	// means one Line (for protocols whose replies are one line).
	Reply func() string
}

// NewConn wraps nc, the result of a dial that returned err (a dial error
// fails the test), and closes it when the test ends.
func NewConn(t testing.TB, nc net.Conn, err error) *Conn {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{T: t, NC: nc, R: bufio.NewReader(nc)}
}

// Send writes s as it is.
func (c *Conn) Send(s string) {
	c.T.Helper()
	c.NC.SetWriteDeadline(time.Now().Add(ConnWriteTimeout))
	if _, err := io.WriteString(c.NC, s); err != nil {
		c.T.Fatal(err)
	}
}

// Line reads one line and returns it without its CRLF; a line that does
// not end in CRLF fails the test.
func (c *Conn) Line() string {
	c.T.Helper()
	c.NC.SetReadDeadline(time.Now().Add(ConnReadTimeout))
	l, err := c.R.ReadString('\n')
	if err != nil {
		c.T.Fatalf("reading reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.T.Fatalf("reply line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// UpgradeTLS runs a TLS client handshake with cfg over the connection
// (after the protocol's STARTTLS) and reads and writes through TLS from
// then on.
func (c *Conn) UpgradeTLS(cfg *tls.Config) {
	c.T.Helper()
	tc := tls.Client(c.NC, cfg)
	if err := tc.Handshake(); err != nil {
		c.T.Fatal(err)
	}
	c.NC, c.R = tc, bufio.NewReader(tc)
}

// Expect reads one reply (with Reply, or one Line when Reply is nil) and
// fails the test unless its last line starts with prefix; it returns the
// reply.
func (c *Conn) Expect(prefix string) string {
	c.T.Helper()
	read := c.Reply
	if read == nil {
		read = c.Line
	}
	r := read()
	if last := r[strings.LastIndexByte(r, '\n')+1:]; !strings.HasPrefix(last, prefix) {
		c.T.Fatalf("got %q, want a reply starting with %q", r, prefix)
	}
	return r
}

// Do sends the command line cmd (CRLF added) and Expects a reply
// starting with prefix.
func (c *Conn) Do(cmd, prefix string) string {
	c.T.Helper()
	c.Send(cmd + "\r\n")
	return c.Expect(prefix)
}

// DialFrom connects to addr from the loopback source address src (any of
// 127.0.0.0/8, e.g. "127.0.3.1"), so that one test can play several
// distinct clients: Linux routes the whole /8 to the loopback interface.
func DialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return d.Dial("tcp", addr)
}
