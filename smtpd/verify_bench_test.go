package smtpd

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts/testkit"
	"postern/smtpd/inbound/inboundtest"
)

// BenchmarkVerify4KiB measures messages/s of 4 KiB DKIM-signed messages
// accepted on port 25 over 8 connections with sender verification on
// (SPF pass, DKIM pass, DMARC pass; DNS answered by a local server) and,
// in the same iteration, with it off: the reference. It reports both
// rates and their ratio (verified/plain; issue 17's goal is at least
// 0.8).
func BenchmarkVerify4KiB(b *testing.B) {
	w := inboundtest.Start(b)
	w.AddKey(b, "dk.example", "sel")
	w.TXT(b, "_dmarc.dk.example", "v=DMARC1; p=reject")
	w.TXT(b, "dk.example", "v=spf1 ip4:127.0.0.0/8 -all")
	on, off := true, false
	verified := newEnv(b, envOptions{quiet: true, cfg: Config{VerifyConfig: VerifyConfig{VerifySenders: &on,
		DNSTimeout: 5 * time.Second, Resolver: w.Resolver()}}})
	plain := newEnv(b, envOptions{quiet: true, cfg: Config{VerifyConfig: VerifyConfig{VerifySenders: &off}}})
	head := "From: sender@dk.example\r\nTo: anna@example.org\r\nSubject: bench\r\n" +
		"Date: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <bench@dk.example>\r\n\r\n"
	line := strings.Repeat("x", 62) + "\r\n"
	msg := w.Sign(b, head+strings.Repeat(line, (4096-len(head))/len(line)), "dk.example", "sel")
	sender := func(e *testEnv) func(w, n int) error {
		clients := make([]*smtp.Client, benchConns)
		for i := range clients {
			c, err := smtp.Dial(e.mxAddr)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			if err := c.Hello("bench.dk.example"); err != nil {
				b.Fatal(err)
			}
			clients[i] = c
		}
		return func(w, n int) error {
			for range n {
				if err := sendOne(clients[w], "sender@dk.example", []string{testkit.AnnaUser}, msg); err != nil {
					return err
				}
			}
			return nil
		}
	}
	viaVerified, viaPlain := sender(verified), sender(plain)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	vRate := runConcurrently(b, viaVerified)
	pRate := runConcurrently(b, viaPlain)
	b.ReportMetric(vRate, "verified-msgs/s")
	b.ReportMetric(pRate, "plain-msgs/s")
	b.ReportMetric(vRate/pRate, "verified/plain")
}
