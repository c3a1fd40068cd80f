// Package inboundtest sets up DNS for sender verification tests: a real
// DNS server on loopback (smtpd/queue/dnstest) with SPF, DKIM and DMARC
// records, DKIM keys made in the test, and a signer for them.
package inboundtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"postern/smtpd/queue/dnstest"
)

// World is a DNS server and the DKIM keys published in it.
type World struct {
	// DNS serves the records.
	DNS  *dnstest.Server
	keys map[string]ed25519.PrivateKey // selector._domainkey.domain
}

// Start runs a DNS server until the test ends.
func Start(t testing.TB) *World {
	t.Helper()
	return &World{DNS: dnstest.Start(t), keys: map[string]ed25519.PrivateKey{}}
}

// Resolver returns a resolver that asks only the World's server.
func (w *World) Resolver() *net.Resolver { return w.DNS.Resolver() }

// TXT publishes a TXT record for name (a FQDN without the final dot).
func (w *World) TXT(t testing.TB, name, text string) {
	t.Helper()
	w.DNS.Add(t, name+`. TXT "`+strings.ReplaceAll(text, `"`, `\"`)+`"`)
}

// AddKey makes an Ed25519 DKIM key and publishes it at
// selector._domainkey.domain.
func (w *World) AddKey(t testing.TB, domain, selector string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w.keys[selector+"._domainkey."+domain] = priv
	w.TXT(t, selector+"._domainkey."+domain, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
}

// Sign returns msg (CRLF line ends) with a DKIM-Signature by the key of
// domain and selector (AddKey) prepended.
func (w *World) Sign(t testing.TB, msg, domain, selector string) string {
	t.Helper()
	key := w.keys[selector+"._domainkey."+domain]
	if key == nil {
		t.Fatalf("no key %s._domainkey.%s", selector, domain)
	}
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Silent returns a resolver whose server never answers: every lookup
// runs until its deadline (a temperror).
func Silent(t testing.TB) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}
