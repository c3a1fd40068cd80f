package smtpd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"postern/accounts/connguard"
	"postern/accounts/testkit"
	"postern/smtpd/queue"
)

// Oversized messages get 552 5.3.4: announced with SIZE, or found while
// reading DATA or BDAT; the session stays in sync.
func TestLimitsOversize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxMessageBytes: 10000}})
	c := e.dial(e.mxAddr)
	if ehlo := c.Do("EHLO client.example.net", "250 "); !strings.Contains(ehlo, "SIZE 10000") {
		t.Errorf("EHLO does not advertise SIZE 10000:\n%s", ehlo)
	}
	c.Do("MAIL FROM:<sender@example.net> SIZE=20000", "552 5.3.4")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("DATA", "354 ")
	big := "From: sender@example.net\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 200)
	c.Send(big + ".\r\n")
	c.Expect("552 5.3.4")
	c.Do("NOOP", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(big), big))
	c.Expect("552 5.3.4")
	c.Do("NOOP", "250 ")
	if n := len(e.inbox(testkit.AnnaUser)); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

// More recipients than max_recipients get 452 4.5.3; the first 100 are
// all delivered.
func TestLimitsRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxRecipients: 5}}) // raised to 100
	c := e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	for i := range 100 {
		c.Do(fmt.Sprintf("RCPT TO:<anna+%d@example.org>", i), "250 ")
	}
	c.Do("RCPT TO:<bob@example.org>", "452 4.5.3")
	c.Do("DATA", "354 ")
	c.Send(testMessage("sender@example.net", "many") + ".\r\n")
	c.Expect("250 ")
	if n := len(e.inbox(testkit.AnnaUser)); n != 1 {
		t.Errorf("anna got %d copies, want 1 (recipients are deduplicated)", n)
	}
}

// A 64 KiB line ends the connection with 500 5.4.0, as a command or inside
// DATA, and nothing is delivered.
func TestLimitsLongLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// 64 KiB: far over the limit, yet small enough to sit in the socket
	// buffers at once, so the write is not cut by the server's close
	// (which resets a connection with unread input).
	line := strings.Repeat("a", 64<<10)
	c := e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.Send("NOOP " + line + "\r\n")
	c.Expect("500 5.4.0")
	if !c.closed() {
		t.Error("connection still open after a 64 KiB command line")
	}

	c = e.dial(e.mxAddr)
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send("Subject: long\r\n\r\n" + line + "\r\n.\r\n")
	c.Expect("500 5.4.0")
	if !c.closed() {
		t.Error("connection still open after a 64 KiB data line")
	}
	if n := len(e.inbox(testkit.AnnaUser)); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

// A client that stops in the middle of DATA, or of a BDAT chunk, is
// disconnected after the data timeout, and nothing is delivered.
func TestLimitsStalledData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{DataTimeout: queue.Duration(300 * time.Millisecond)}})
	for _, start := range []string{"DATA\r\n", "BDAT 1000 LAST\r\n"} {
		c := e.mxToAnna()
		c.Send(start + "From: sender@example.net\r\n\r\nhalf a mess")
		began := time.Now()
		if !c.closed() {
			t.Fatalf("%q: connection still open 5 s after the client stalled", start)
		}
		if d := time.Since(began); d > 3*time.Second {
			t.Errorf("%q: closed after %v, want about the 300 ms data timeout", start, d)
		}
	}
	if n := len(e.inbox(testkit.AnnaUser)); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

// Malformed commands get 5xx replies; after too many the connection is
// closed.
func TestLimitsMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct{ cmd, want string }{
		{"MAIL FROM:<sender@example.net>", "502 5.5.1"}, // before EHLO
		{"EHLO", "501 "},
		{"EHLO client.example.net", "250-Hello"},
		{"RCPT TO:<anna@example.org>", "502 5.5.1"}, // before MAIL
		{"DATA", "502 5.5.1"},
		{"MAIL FROM:sender@example.net>", "500 5.5.4"},
		{"MAIL FROM:<sender@example.net> FOO=BAR", "500 5.5.4"},
		{"MAIL FROM:<sender@example.net> BODY=BINARYMIME", "504 5.5.4"},
		{"MAIL FROM:<a b@example.net>", "501 5.5.2"},
		{"MAIL FROM:<sender@example.net>", "250 "},
		{"RCPT TO:anna", "501 5.5.2"},
		{"RCPT TO:<anna@example.org> NOTIFY=NEVER", "504 5.5.4"},
		{"VRFY anna", "252 "},
		{"EXPN staff", "502 5.5.1"},
		{"DATA now", "501 5.5.4"},
	}
	c := e.dial(e.mxAddr)
	for _, tt := range tests {
		if got := c.Do(tt.cmd, ""); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.cmd, got, tt.want)
		}
	}
	c = e.dial(e.mxAddr)
	for range 3 {
		c.Do("XYZZ", "500 5.5.2")
	}
	c.Send("XYZZ\r\n")
	c.Expect("500 5.5.2")
	c.Expect("500 5.5.1 Too many errors")
	if !c.closed() {
		t.Error("connection open after four bad commands")
	}
}

// 1,000 connections from one address: only max_connections_per_ip get a
// greeting, the rest 421 4.7.0, and another address is still served.
func TestLimitsConnectionsPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	greeted, refused := 0, 0
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for range 1000 {
		nc, err := net.Dial("tcp", e.mxAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 512)
		n, err := nc.Read(buf)
		switch line := string(buf[:n]); {
		case strings.HasPrefix(line, "220 "):
			greeted++
		case strings.HasPrefix(line, "421 4.7.0"):
			refused++
			nc.Close()
		default:
			t.Fatalf("connection %d: %q, %v", greeted+refused, line, err)
		}
	}
	if greeted != DefaultMaxConnectionsPerIP || refused != 1000-DefaultMaxConnectionsPerIP {
		t.Errorf("greeted %d, refused %d; want %d greeted", greeted, refused, DefaultMaxConnectionsPerIP)
	}
	// Another source address (127.0.0.2 is loopback too) is served.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	nc, err := d.Dial("tcp", e.mxAddr)
	c := e.greet(nc, err)
	c.Do("EHLO other.example.net", "250 ")
	// Closing one of the first connections frees a place.
	conns[0].Close()
	time.Sleep(200 * time.Millisecond)
	e.greet(net.Dial("tcp", e.mxAddr))
}

// The total cap holds across source addresses.
func TestLimitsConnectionsTotal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{Limits: connguard.Limits{MaxConnections: 3}}})
	for i := range 3 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i))}}
		nc, err := d.Dial("tcp", e.mxAddr)
		e.greet(nc, err)
	}
	nc, err := net.Dial("tcp", e.mxAddr)
	c := newClient(t, nc, err)
	c.Expect("421 4.7.0")
}

// Shutdown ends idle sessions with 421 at once, lets a message being
// received finish and be delivered, then returns.
func TestShutdownLetsDataFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	idle := e.dial(e.mxAddr)
	idle.Do("EHLO idle.example.net", "250 ")
	busy := e.dial(e.mxAddr)
	busy.Do("EHLO busy.example.net", "250 ")
	busy.Do("MAIL FROM:<sender@example.net>", "250 ")
	busy.Do("RCPT TO:<anna@example.org>", "250 ")
	busy.Do("DATA", "354 ")
	msg := testMessage("sender@example.net", "shutdown")
	busy.Send(msg[:20])
	time.Sleep(100 * time.Millisecond) // let the server enter Data
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { done <- e.mx.Shutdown(ctx) }()
	idle.Expect("421 ")
	if !idle.closed() {
		t.Error("idle session still open during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a message was being received", err)
	case <-time.After(200 * time.Millisecond):
	}
	busy.Send(msg[20:] + ".\r\n")
	busy.Expect("250 ")
	busy.Expect("421 ")
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := e.inbox(testkit.AnnaUser); len(got) != 1 {
		t.Errorf("anna has %d messages, want 1", len(got))
	}
	if _, err := net.DialTimeout("tcp", e.mxAddr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}
