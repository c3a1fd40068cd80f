package connguard

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// echoServer serves ln with a line echo ("> line") after a greeting; it
// calls onLine for each line (to log in, say) and returns its address.
func echoServer(t *testing.T, ln net.Listener, onLine func(net.Conn, string)) string {
	t.Helper()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, "hello\r\n"); err != nil {
					return
				}
				r := bufio.NewReader(c)
				for {
					c.SetReadDeadline(time.Now().Add(time.Hour))
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if onLine != nil {
						onLine(c, strings.TrimSpace(line))
					}
					if _, err := io.WriteString(c, "> "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func newGuard(t *testing.T, l Limits, noLogin bool) (*Guard, *testkit.SyncBuffer) {
	var logs testkit.SyncBuffer
	l = l.WithDefaults(DefaultLimits(50))
	return New(Options{Proto: "test", Limits: l, NoLogin: noLogin, Logger: testkit.DebugLogger(&logs)}), &logs
}

func refusal(r Reason) []byte { return []byte("BYE " + string(r) + "\r\n") }

// dial connects from src and returns the first line.
func dial(t *testing.T, src, addr string) (net.Conn, string) {
	t.Helper()
	c, err := testkit.DialFrom(src, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return c, strings.TrimSpace(line)
}

func TestPerIPAndPerNetworkLimits(t *testing.T) {
	g, logs := newGuard(t, Limits{MaxConnections: 20, MaxConnectionsPerIP: 3, MaxConnectionsPerNetwork: 5}, false)
	addr := echoServer(t, g.Listener(testkit.Listen(t), refusal), nil)
	for i := 0; i < 3; i++ {
		if _, l := dial(t, "127.0.0.2", addr); l != "hello" {
			t.Fatalf("connection %d from 127.0.0.2: %q", i, l)
		}
	}
	if _, l := dial(t, "127.0.0.2", addr); l != "BYE per_ip" {
		t.Fatalf("4th connection from one address: %q", l)
	}
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		if _, l := dial(t, src, addr); l != "hello" {
			t.Fatalf("from %s: %q", src, l)
		}
	}
	if _, l := dial(t, "127.0.0.5", addr); l != "BYE per_network" {
		t.Fatalf("6th connection from one /24: %q", l)
	}
	// Another network is served.
	if _, l := dial(t, "127.0.1.9", addr); l != "hello" {
		t.Fatalf("from another network: %q", l)
	}
	if !logs.Contains("limit=per_ip") || !logs.Contains("source=127.0.0.2") || !logs.Contains("limit=per_network") {
		t.Fatalf("refusals not logged:\n%s", logs)
	}
	if s := g.Stats(); s.Refused[PerIP] != 1 || s.Refused[PerNetwork] != 1 || s.Open != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTotalKeepsRoomForOtherNetworks(t *testing.T) {
	l := Limits{MaxConnections: 6, MaxConnectionsPerIP: 5, MaxConnectionsPerNetwork: 5}
	if err := l.WithDefaults(DefaultLimits(6)).Validate(); err != nil {
		t.Fatal(err)
	}
	g, _ := newGuard(t, l, false)
	addr := echoServer(t, g.Listener(testkit.Listen(t), refusal), nil)
	for i := 0; i < 8; i++ {
		dial(t, "127.0.0.2", addr)
	}
	if _, l := dial(t, "127.0.2.1", addr); l != "hello" {
		t.Fatalf("another network after a flood: %q", l)
	}
	if _, l := dial(t, "127.0.3.1", addr); l != "BYE total" {
		t.Fatalf("over the total: %q", l)
	}
	bad := Limits{MaxConnections: 5, MaxConnectionsPerIP: 5, MaxConnectionsPerNetwork: 5}.WithDefaults(DefaultLimits(5))
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "max_connections_per_network") {
		t.Fatalf("per-network limit equal to the total accepted: %v", err)
	}
}

func TestLoggedInLeavesPerIPCount(t *testing.T) {
	g, _ := newGuard(t, Limits{MaxConnections: 20, MaxConnectionsPerIP: 2, MaxConnectionsPerNetwork: 5}, false)
	addr := echoServer(t, g.Listener(testkit.Listen(t), refusal), func(c net.Conn, line string) {
		if line == "LOGIN" {
			LoggedIn(c)
		}
	})
	for i := 0; i < 6; i++ {
		c, l := dial(t, "127.0.0.2", addr)
		if l != "hello" {
			t.Fatalf("connection %d: %q", i, l)
		}
		io.WriteString(c, "LOGIN\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if s := g.Stats(); s.Open != 6 {
		t.Fatalf("open %d", s.Open)
	}
	dial(t, "127.0.0.2", addr)
	if _, l := dial(t, "127.0.0.2", addr); l != "hello" {
		t.Fatalf("second unauthenticated connection: %q", l)
	}
	if _, l := dial(t, "127.0.0.2", addr); l != "BYE per_ip" {
		t.Fatalf("third unauthenticated connection: %q", l)
	}
}

// A server that sets a long read deadline before login still has its
// reads cut at LoginCommandTimeout, and at LoginLifetime in all.
func TestPreLoginDeadlines(t *testing.T) {
	g, _ := newGuard(t, Limits{LoginCommandTimeout: 300 * time.Millisecond, LoginLifetime: 900 * time.Millisecond}, false)
	ln := g.Listener(testkit.Listen(t), refusal)
	type result struct {
		lines int
		after time.Duration
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		start := time.Now()
		r := bufio.NewReader(c)
		n := 0
		for {
			c.SetReadDeadline(time.Now().Add(time.Hour))
			if _, err := r.ReadString('\n'); err != nil {
				res <- result{n, time.Since(start)}
				return
			}
			n++
		}
	}()
	c, err := testkit.DialFrom("127.0.0.2", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A command every 200 ms keeps it within the command timeout; the
	// lifetime ends it.
	for i := 0; i < 8; i++ {
		io.WriteString(c, "NOOP\r\n")
		time.Sleep(200 * time.Millisecond)
	}
	r := <-res
	if r.after < 800*time.Millisecond || r.after > 1500*time.Millisecond || r.lines < 3 {
		t.Fatalf("pre-login connection ended after %v and %d lines, want about 900 ms", r.after, r.lines)
	}
	// Silence ends it at the command timeout.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		start := time.Now()
		c.SetReadDeadline(time.Time{})
		_, err = c.Read(make([]byte, 1))
		res <- result{0, time.Since(start)}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read ended by %v", err)
		}
	}()
	c2, err := testkit.DialFrom("127.0.0.3", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if r := <-res; r.after < 250*time.Millisecond || r.after > 800*time.Millisecond {
		t.Fatalf("silent pre-login connection ended after %v, want about 300 ms", r.after)
	}
}

// stall opens n connections from src that never speak.
func stall(t *testing.T, n int, src, addr string) []net.Conn {
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := testkit.DialFrom(src, addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// Stalled implicit-TLS handshakes hold no protocol slot, do not delay
// another client's handshake, and are closed at the timeout.
func TestTLSListenerStalledHandshakes(t *testing.T) {
	g, logs := newGuard(t, Limits{MaxConnections: 200, MaxConnectionsPerIP: 100, MaxConnectionsPerNetwork: 150, TLSHandshakeTimeout: 700 * time.Millisecond}, false)
	raw := testkit.Listen(t)
	ln := g.TLSListener(g.Listener(raw, nil), testkit.ServerTLS())
	addr := echoServer(t, ln, nil)
	stalled := stall(t, 100, "127.0.0.2", addr)
	start := time.Now()
	cfg := testkit.ClientTLS()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.5.1")}, Timeout: 5 * time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || line != "hello\r\n" {
		t.Fatalf("greeting %q, %v", line, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("legitimate TLS client served after %v behind 100 stalled handshakes", d)
	}
	// The stalled ones are closed at the timeout.
	var wg sync.WaitGroup
	for _, c := range stalled {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
		}(c)
	}
	wg.Wait()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stalled handshakes closed after %v", d)
	}
	testkit.WaitFor(t, "counts released", func() bool { return g.Stats().Open == 1 })
	if g.Stats().TLSFailed != 100 || !logs.Contains("tls handshake failed") {
		t.Fatalf("failed handshakes: %d", g.Stats().TLSFailed)
	}
}

// A STARTTLS-style handshake over a Guard connection: a client that
// sends its ClientHello and stops is cut at TLSHandshakeTimeout although
// the protocol code set a long deadline.
func TestStartTLSHandshakeBounded(t *testing.T) {
	g, _ := newGuard(t, Limits{TLSHandshakeTimeout: 500 * time.Millisecond}, true)
	ln := g.Listener(testkit.Listen(t), refusal)
	cfg := g.TLSConfig(testkit.ServerTLS())
	done := make(chan time.Duration, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Hour))
		start := time.Now()
		tls.Server(c, cfg).Handshake()
		done <- time.Since(start)
	}()
	c, err := testkit.DialFrom("127.0.0.2", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A client whose handshake stops after the ClientHello: it never
	// reads or answers the server's flight.
	go tls.Client(&stopAfterWrite{Conn: c}, testkit.ClientTLS()).Handshake()
	select {
	case d := <-done:
		if d > 2*time.Second {
			t.Fatalf("stalled handshake ended after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stalled STARTTLS handshake not cut")
	}
}

// stopAfterWrite writes once (the ClientHello) and then blocks reads
// forever.
type stopAfterWrite struct {
	net.Conn
}

func (s *stopAfterWrite) Read(p []byte) (int, error) { select {} }

// Sources are IPv4 addresses and IPv6 /64s; networks IPv4 /24s and IPv6
// /48s.
func TestKeys(t *testing.T) {
	tests := []struct{ addr, src, network string }{
		{"192.0.2.1:25", "192.0.2.1/32", "192.0.2.0/24"},
		{"[::ffff:192.0.2.1]:25", "192.0.2.1/32", "192.0.2.0/24"},
		{"[2001:db8:1:2:3:4:5:6]:25", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"[2001:db8:1:2::9]:2525", "2001:db8:1:2::/64", "2001:db8:1::/48"},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.addr)
		src, network, ok := Keys(net.TCPAddrFromAddrPort(ap))
		if !ok || src.String() != tt.src || network.String() != tt.network {
			t.Errorf("Keys(%s) = %s, %s, %v; want %s, %s", tt.addr, src, network, ok, tt.src, tt.network)
		}
	}
	if _, _, ok := Keys(&net.UnixAddr{Name: "/x", Net: "unix"}); ok {
		t.Error("a unix address has keys")
	}
}

// Before login a connection may send LoginInputBytes; the read past it
// fails and closes the connection. After login there is no bound.
func TestLoginInputBytes(t *testing.T) {
	g, logs := newGuard(t, Limits{}, false)
	ln := g.Listener(testkit.Listen(t), refusal)
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 2)
	serve := func(login bool) {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if login {
			LoggedIn(c)
		}
		n, err := io.Copy(io.Discard, c)
		res <- result{int(n), err}
	}
	for _, login := range []bool{false, true} {
		go serve(login)
		c, err := testkit.DialFrom("127.0.0.2", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c.Write(make([]byte, 3*LoginInputBytes))
			c.Close()
		}()
		r := <-res
		switch {
		case !login && (r.n != LoginInputBytes || !errors.Is(r.err, ErrLoginInput)):
			t.Errorf("before login: read %d bytes, %v; want %d, ErrLoginInput", r.n, r.err, LoginInputBytes)
		case login && (r.n != 3*LoginInputBytes || r.err != nil):
			t.Errorf("after login: read %d bytes, %v", r.n, r.err)
		}
	}
	if !logs.Contains("too much input before login") || g.Stats().InputClosed != 1 {
		t.Errorf("not logged or counted: %d\n%s", g.Stats().InputClosed, logs)
	}
}

// The bytes of an implicit-TLS handshake do not count as input before
// login; what comes after it does, from zero.
func TestLoginInputAfterImplicitTLS(t *testing.T) {
	g, _ := newGuard(t, Limits{}, false)
	ln := g.TLSListener(g.TLSPendingListener(testkit.Listen(t)), testkit.ServerTLS())
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	tc, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), testkit.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// Whatever the handshake took, the application data gets its own
	// budget: the server decrypts the records that fit in it whole.
	go tc.Write(make([]byte, 3*LoginInputBytesTLS))
	n := <-done
	if n < LoginInputBytesTLS/2 || n > LoginInputBytesTLS {
		t.Fatalf("server read %d bytes of application data before closing, want %d to %d", n, LoginInputBytesTLS/2, LoginInputBytesTLS)
	}
}
