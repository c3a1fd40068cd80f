package smtpd

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// relaxPort25Defences returns cfg with the port 25 defences it leaves
// unset raised out of reach: the other tests send many messages and
// errors from 127.0.0.1. Tests of the defences set them.
func relaxPort25Defences(cfg Config) Config {
	for _, p := range []*int{&cfg.MaxConnectionsPerMinute, &cfg.MaxMessagesPerMinute, &cfg.MaxRecipientsPerMinute,
		&cfg.MaxUnknownRecipients, &cfg.MaxProtocolErrors} {
		if *p == 0 {
			*p = MaxPerMinute
		}
	}
	return cfg
}

// dialMX connects to the MX from the loopback address src; it does not
// read the greeting.
func (e *testEnv) dialMX(src string) *client {
	e.t.Helper()
	nc, err := testkit.DialFrom(src, e.mxAddr)
	return newClient(e.t, nc, err)
}

// A flood of connections from one address gets 421 4.7.0 before the
// greeting once over max_connections_per_minute, one address's network
// once over five times that; another network is served all along.
func TestRateLimitConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxConnectionsPerMinute: 3}})
	for range 3 {
		c := e.dialMX("127.0.4.1")
		c.Expect("220 ")
		c.Do("QUIT", "221 ")
	}
	c := e.dialMX("127.0.4.1")
	c.Expect("421 4.7.0 mx.example.org Too many connections from your address")
	if !c.closed() {
		t.Error("connection over the rate still open")
	}
	e.dialMX("127.0.5.1").Expect("220 ")

	// Five addresses of 127.0.6.0/24 use up the network's 15.
	for a := 1; a <= 5; a++ {
		for range 3 {
			e.dialMX(fmt.Sprintf("127.0.6.%d", a)).Expect("220 ")
		}
	}
	e.dialMX("127.0.6.9").Expect("421 4.7.0 mx.example.org Too many connections from your network")
	e.dialMX("127.0.7.1").Expect("220 ")

	for _, want := range []string{`msg="rate limited"`, "limit=connections_per_minute", "source=127.0.4.1",
		"scope=address", "scope=network", "source=127.0.6.9", "max=15"} {
		if !e.logs.Contains(want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// MAIL over max_messages_per_minute gets 451 4.7.1 and the session goes
// on; another address is served.
func TestRateLimitMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxMessagesPerMinute: 2}})
	c := e.dialMX("127.0.4.1")
	c.Expect("220 ")
	c.Do("EHLO client.example.net", "250 ")
	for range 2 {
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		c.Do("RSET", "250 ")
	}
	c.Do("MAIL FROM:<sender@example.net>", "451 4.7.1 Too many messages from your address")
	c.Do("MAIL FROM:<sender@example.net>", "451 4.7.1")
	c.Do("NOOP", "250 ")

	o := e.dialMX("127.0.5.1")
	o.Expect("220 ")
	o.Do("EHLO other.example.net", "250 ")
	o.Do("MAIL FROM:<sender@example.net>", "250 ")
	o.Do("RCPT TO:<anna@example.org>", "250 ")
	o.Do("DATA", "354 ")
	o.Send(testMessage("sender@example.net", "served") + ".\r\n")
	o.Expect("250 ")

	// Two refusals within 10 s: one line; the next counts the other.
	if n := strings.Count(e.logs.String(), "limit=messages_per_minute"); n != 1 {
		t.Errorf("%d log lines for two refusals within 10 s, want 1", n)
	}
}

// RCPT over max_recipients_per_minute gets 451 4.7.1; the recipients
// accepted before are delivered.
func TestRateLimitRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxRecipientsPerMinute: 3}})
	c := e.dialMX("127.0.4.1")
	c.Expect("220 ")
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	for i := range 3 {
		c.Do(fmt.Sprintf("RCPT TO:<anna+%d@example.org>", i), "250 ")
	}
	c.Do("RCPT TO:<bob@example.org>", "451 4.7.1 Too many recipients from your address")
	c.Do("DATA", "354 ")
	c.Send(testMessage("sender@example.net", "three") + ".\r\n")
	c.Expect("250 ")
	if n := len(e.inbox(testkit.AnnaUser)); n != 1 {
		t.Errorf("anna has %d messages, want 1", n)
	}

	o := e.dialMX("127.0.5.1")
	o.Expect("220 ")
	o.Do("EHLO other.example.net", "250 ")
	o.Do("MAIL FROM:<sender@example.net>", "250 ")
	o.Do("RCPT TO:<bob@example.org>", "250 ")
	if !e.logs.Contains("limit=recipients_per_minute") {
		t.Error("refusal not logged")
	}
}

// A connection asking for more than max_unknown_recipients addresses
// that do not exist gets 421 4.7.0 and is closed, in plain text and
// under STARTTLS.
func TestDirectoryHarvest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxUnknownRecipients: 2}})
	for _, tls := range []bool{false, true} {
		c := e.dialMX("127.0.4.1")
		c.Expect("220 ")
		c.Do("EHLO client.example.net", "250 ")
		if tls {
			c.starttls(e.clientTC)
		}
		c.Do("MAIL FROM:<sender@example.net>", "250 ")
		c.Do("RCPT TO:<anna@example.org>", "250 ")
		c.Do("RCPT TO:<nobody1@example.org>", "550 5.1.1")
		c.Do("RCPT TO:<nobody2@example.org>", "550 5.1.1")
		c.Do("RCPT TO:<nobody3@example.org>", "421 4.7.0 mx.example.org Too many unknown recipients")
		if !c.closed() {
			t.Errorf("tls=%v: connection open after the harvest refusal", tls)
		}
	}
	if !e.logs.Contains(`msg="connection closed"`) || !e.logs.Contains("limit=unknown_recipients") {
		t.Errorf("harvest not logged:\n%s", e.logs)
	}
}

// max_protocol_errors replies to malformed or out-of-sequence commands,
// whether go-smtp or Postern gives them, close the connection with 421.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{MaxProtocolErrors: 3}})
	c := e.dialMX("127.0.4.1")
	c.Expect("220 ")
	c.Do("EHLO client.example.net", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "502 5.5.1") // before MAIL (go-smtp)
	c.Do("MAIL FROM:<a\x00b@example.net>", "501 ")  // control character (Postern)
	c.Do("MAIL FROM:<sender@example.net>", "250 ")  // a success does not reset the count
	c.Send("MAIL FROM:sender\r\n")                  // bad syntax (go-smtp)
	c.Expect("501 ")
	c.Expect("421 4.7.0 mx.example.org Too many protocol errors")
	if !c.closed() {
		t.Error("connection open after three protocol errors")
	}
	if !e.logs.Contains("limit=protocol_errors") {
		t.Error("not logged")
	}
	// Two errors leave the connection usable.
	c = e.dialMX("127.0.4.1")
	c.Expect("220 ")
	c.Do("XYZZ", "500 ")
	c.Do("DATA", "502 ")
	c.Do("EHLO client.example.net", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
}

// Token buckets: a burst of the limit, then refills at the limit per
// minute; the network bucket holds five times as much; the table never
// grows past its bound.
func TestRateTable(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	tb := newRateTable(rateMessages, 2)
	tb.now = func() time.Time { return now }
	src, network := netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("192.0.2.0/24")
	for i, want := range []string{"", "", "address"} {
		if got := tb.take(src, network); got != want {
			t.Fatalf("take %d: %q, want %q", i, got, want)
		}
	}
	now = now.Add(30 * time.Second) // one token back (2 per minute)
	if got := tb.take(src, network); got != "" {
		t.Fatalf("after 30 s: %q", got)
	}
	if got := tb.take(src, network); got != "address" {
		t.Fatalf("second after 30 s: %q", got)
	}
	tb = newRateTable(rateMessages, 2) // the network holds 10
	tb.now = func() time.Time { return now }
	for i := 1; i <= 5; i++ {
		s := netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/32", i))
		tb.take(s, network)
		tb.take(s, network)
	}
	if got := tb.take(netip.MustParsePrefix("192.0.2.9/32"), network); got != "network" {
		t.Fatalf("network after 10 of 10: %q", got)
	}

	tb = newRateTable(rateRecipients, 1)
	tb.maxKeys = 100
	tb.now = func() time.Time { return now }
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		s, _ := a.Prefix(32)
		n, _ := a.Prefix(24)
		tb.take(s, n)
	}
	if n := tb.size(); n > 200 {
		t.Errorf("table holds %d buckets, bound is 2×100", n)
	}
}

// Config validation names each bad port 25 key.
func TestPort25ConfigValidate(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.MaxMessagesPerMinute = -1
	c.DNSBLTimeout = time.Minute
	c.DNSBLZones = []string{"zen.spamhaus.org", "not a zone"}
	c.AllowAddresses = []string{"192.0.2.0/24", "2001:db8::/32", "192.0.2.300"}
	c.AllowSenderDomains = []string{"partner.example", "@x"}
	err := fmt.Sprint(c.Validate())
	for _, want := range []string{"max_messages_per_minute: must be between 1 and", "dnsbl_timeout: must be between 1s and 30s",
		`dnsbl_zones: "not a zone"`, `allow_addresses: "192.0.2.300"`, `allow_sender_domains: "@x"`} {
		if !strings.Contains(err, want) {
			t.Errorf("Validate() = %s\nlacks %s", err, want)
		}
	}
	if n := strings.Count(err, "\n"); n != 4 {
		t.Errorf("want 5 problems, got\n%s", err)
	}
	a := newAllowlist(Config{AllowAddresses: []string{"192.0.2.0/24", "2001:db8::1"}, AllowSenderDomains: []string{"Partner.Example."}})
	for _, tt := range []struct {
		ip   string
		want bool
	}{{"192.0.2.77", true}, {"192.0.3.1", false}, {"2001:db8::1", true}, {"2001:db8::2", false}, {"::ffff:192.0.2.1", true}} {
		if got := a.address(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("address(%s) = %v", tt.ip, got)
		}
	}
	if !a.senderDomain("someone@partner.example") || a.senderDomain("someone@sub.partner.example") || a.senderDomain("") {
		t.Error("sender domain matching")
	}
}
