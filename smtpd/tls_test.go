package smtpd

import (
	"crypto/tls"
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// No TLS session tickets are issued on any SMTP listener: a client with a
// session cache has nothing cached after a full session, on 465 and after
// STARTTLS on 25 and 587; and the caller's tls.Config is left unchanged.
func TestNoSessionTickets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if e.mx.opts.TLSConfig.SessionTicketsDisabled {
		t.Error("the caller's tls.Config was modified")
	}
	check := func(name string, c *client, cache tls.ClientSessionCache) {
		t.Helper()
		c.Do("NOOP", "250 ")
		c.Do("QUIT", "221 ")
		if s, ok := cache.Get("localhost"); ok || s != nil {
			t.Errorf("%s: the server issued a session ticket", name)
		}
	}
	for _, tc := range []struct{ name, addr string }{{"port 25", e.mxAddr}, {"port 587", e.subAddr}} {
		cfg := e.clientTC.Clone()
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		c := e.dial(tc.addr)
		c.Do("EHLO client.example.net", "250 ")
		c.starttls(cfg)
		check(tc.name, c, cfg.ClientSessionCache)
	}
	cfg := e.clientTC.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	nc, err := tls.Dial("tcp", e.subsAddr, cfg)
	c := e.greet(nc, err)
	c.Do("EHLO client.example.net", "250 ")
	check("port 465", c, cfg.ClientSessionCache)
}

// Every log line of a session carries its id, remote address and user.
func TestLogAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.login(testkit.AnnaUser, testkit.AnnaPass)
	c.Do("MAIL FROM:<anna@example.org>", "250 ")
	c.Do("RCPT TO:<bob@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(testMessage("anna@example.org", "logs") + ".\r\n")
	c.Expect("250 ")
	c.Do("QUIT", "221 ")
	c.closed()
	var sessionLines int
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if !strings.Contains(l, "proto=submission") || strings.Contains(l, "msg=listening") || l == "" {
			continue
		}
		sessionLines++
		if !strings.Contains(l, " session=") || !strings.Contains(l, " remote=127.0.0.1:") || !strings.Contains(l, " user=") {
			t.Errorf("log line lacks session/remote/user: %s", l)
		}
		if strings.Contains(l, testkit.AnnaPass) || strings.Contains(l, "Hello.") {
			t.Errorf("log line leaks a password or the body: %s", l)
		}
	}
	if !strings.Contains(e.logs.String(), "user=anna@example.org") || sessionLines < 3 {
		t.Errorf("expected session lines with the user, got:\n%s", e.logs.String())
	}
}
