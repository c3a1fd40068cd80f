package smtpd

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"postern/smtpd/queue/dnstest"
)

// The query names of RFC 5782 section 2.1 (IPv4) and 2.4 (IPv6).
func TestDNSBLName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ip, want string }{
		{"192.0.2.99", "99.2.0.192.bl.test."},
		{"::ffff:192.0.2.99", "99.2.0.192.bl.test."},
		{"2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test."},
	} {
		if got := dnsblName(netip.MustParseAddr(tt.ip), "bl.test"); got != tt.want {
			t.Errorf("dnsblName(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
	d := newDNSBL(Config{DNSBLZones: []string{"bl.test"}})
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "fd00::1", "fe80::1", "0.0.0.0"} {
		if d.wanted(netip.MustParseAddr(ip)) {
			t.Errorf("%s would be looked up", ip)
		}
	}
	if !d.wanted(netip.MustParseAddr("192.0.2.1")) || newDNSBL(Config{}).wanted(netip.MustParseAddr("192.0.2.1")) {
		t.Error("public address not looked up, or looked up with no zones")
	}
}

// blocklistEnv starts an MX whose blocklist zone bl.test is served by a
// real DNS server listing 127.0.3.3 (loopback lookups allowed for the
// test), or by resolver when set.
func blocklistEnv(t *testing.T, cfg Config, resolver *net.Resolver) *testEnv {
	t.Helper()
	if resolver == nil {
		dns := dnstest.Start(t)
		dns.Add(t, "3.3.0.127.bl.test. A 127.0.0.2", "4.3.0.127.err.test. A 127.255.255.254")
		resolver = dns.Resolver()
	}
	cfg.DNSBLZones = append(cfg.DNSBLZones, "bl.test")
	e := newEnv(t, envOptions{cfg: cfg})
	e.mx.defences.dnsbl.override.Store(&dnsblOverride{resolver: resolver, loopback: true})
	return e
}

// A listed client gets 554 5.7.1 with the zone instead of the greeting
// and is disconnected; an unlisted one is served.
func TestDNSBLListed(t *testing.T) {
	t.Parallel()
	e := blocklistEnv(t, Config{DNSBLZones: []string{"err.test"}}, nil)
	c := e.dialMX("127.0.3.3")
	c.Expect("554 5.7.1 Service unavailable; client [127.0.3.3] blocked using bl.test")
	if !c.closed() {
		t.Error("listed client still connected")
	}
	// 127.0.3.4 gets an error code from err.test: let through, logged.
	c = e.dialMX("127.0.3.4")
	c.Expect("220 ")
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	for _, want := range []string{`msg="connection refused"`, "limit=dnsbl", "source=127.0.3.3", "zone=bl.test",
		"dnsbl lookup failed", "unexpected answer"} {
		if !e.logs.Contains(want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// A zone whose server never answers delays the greeting by
// dnsbl_timeout, then lets the client in (and logs the failure).
func TestDNSBLTimeout(t *testing.T) {
	t.Parallel()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", silent.LocalAddr().String())
	}}
	// A write_timeout shorter than the wait: the greeting still goes out.
	e := blocklistEnv(t, Config{DNSBLTimeout: 500 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}, r)
	began := time.Now()
	c := e.dialMX("127.0.3.3")
	c.Expect("220 ")
	if d := time.Since(began); d < 400*time.Millisecond || d > 5*time.Second {
		t.Errorf("greeting after %v, want about the 500 ms timeout", d)
	}
	c.Do("EHLO client.example.net", "250 ")
	if !e.logs.Contains("dnsbl lookup failed") {
		t.Error("timeout not logged")
	}
}

// allow_addresses skips the blocklists and the rate limits;
// allow_sender_domains skips the message and recipient rates.
func TestAllowlist(t *testing.T) {
	t.Parallel()
	e := blocklistEnv(t, Config{AllowAddresses: []string{"127.0.3.0/24"}, AllowSenderDomains: []string{"partner.example"},
		MaxConnectionsPerMinute: 1, MaxMessagesPerMinute: 1, MaxRecipientsPerMinute: 1, MaxUnknownRecipients: 1}, nil)
	for range 3 {
		c := e.dialMX("127.0.3.3")
		c.Expect("220 ")
		c.Do("EHLO client.example.net", "250 ")
		for range 3 {
			c.Do("MAIL FROM:<sender@example.net>", "250 ")
			c.Do("RCPT TO:<anna@example.org>", "250 ")
			c.Do("RCPT TO:<nobody1@example.org>", "550 ")
			c.Do("RCPT TO:<nobody2@example.org>", "550 ")
			c.Do("RSET", "250 ")
		}
		c.Do("QUIT", "221 ")
	}
	if !e.mx.AllowedAddress(netip.MustParseAddr("127.0.3.3")) || e.sub.AllowedAddress(netip.MustParseAddr("127.0.3.3")) {
		t.Error("AllowedAddress")
	}

	// From elsewhere, only the partner's messages skip the rates.
	c := e.dialMX("127.0.8.1")
	c.Expect("220 ")
	c.Do("EHLO client.example.net", "250 ")
	for range 3 {
		c.Do("MAIL FROM:<news@partner.example>", "250 ")
		c.Do("RCPT TO:<anna@example.org>", "250 ")
		c.Do("RCPT TO:<bob@example.org>", "250 ")
		c.Do("RSET", "250 ")
	}
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<bob@example.org>", "451 4.7.1")
	c.Do("RSET", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "451 4.7.1")
	e.dialMX("127.0.8.1").Expect("421 4.7.0")
}
