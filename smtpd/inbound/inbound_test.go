package inbound_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"postern/smtpd/inbound"
	"postern/smtpd/inbound/inboundtest"
)

var client = netip.MustParseAddr("127.0.0.1")

// world publishes the test domains' records.
func world(t *testing.T) *inboundtest.World {
	w := inboundtest.Start(t)
	w.TXT(t, "pass.example", "v=spf1 ip4:127.0.0.0/8 -all")
	w.TXT(t, "fail.example", "v=spf1 ip4:192.0.2.1 -all")
	w.TXT(t, "soft.example", "v=spf1 ~all")
	w.DNS.Add(t, "none.example. A 192.0.2.9")
	w.TXT(t, "syntax.example", "v=spf1 frob:x -all")
	w.TXT(t, "helo.example", "v=spf1 a:helo.example -all")
	w.DNS.Add(t, "helo.example. A 127.0.0.1")
	for i := 0; i < 12; i++ {
		w.TXT(t, fmt.Sprintf("l%d.loop.example", i), fmt.Sprintf("v=spf1 include:l%d.loop.example -all", i+1))
	}
	w.AddKey(t, "dk.example", "sel")
	w.AddKey(t, "other.example", "s2")
	w.TXT(t, "_dmarc.dk.example", "v=DMARC1; p=reject")
	w.TXT(t, "_dmarc.pass.example", "v=DMARC1; p=reject")
	w.TXT(t, "_dmarc.strict.example", "v=DMARC1; p=reject; aspf=s; adkim=s")
	w.TXT(t, "strict.example", "v=spf1 ip4:127.0.0.1 -all")
	w.TXT(t, "_dmarc.sp.example", "v=DMARC1; p=none; sp=quarantine")
	w.TXT(t, "_dmarc.pct.example", "v=DMARC1; p=reject; pct=10")
	w.TXT(t, "_dmarc.bad.example", "v=DMARC1; p=frob")
	return w
}

func message(from string) string {
	return "From: <" + from + ">\r\nTo: anna@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"
}

func check(t *testing.T, v *inbound.Verifier, helo, mailFrom, msg string) *inbound.Result {
	t.Helper()
	res, err := v.Check(t.Context(), inbound.Input{IP: client, Helo: helo, MailFrom: mailFrom, Message: strings.NewReader(msg)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// SPF: each result of RFC 7208 section 2.6, for MAIL FROM and for HELO
// with the null sender.
func TestSPF(t *testing.T) {
	t.Parallel()
	w := world(t)
	v := &inbound.Verifier{Resolver: w.Resolver(), Timeout: 5 * time.Second}
	for _, tc := range []struct {
		helo, from string
		want       authres.ResultValue
	}{
		{"x.example", "a@pass.example", authres.ResultPass},
		{"x.example", "a@fail.example", authres.ResultFail},
		{"x.example", "a@soft.example", authres.ResultSoftFail},
		{"x.example", "a@none.example", authres.ResultNone},
		{"x.example", "a@syntax.example", authres.ResultPermError},
		{"x.example", "a@l0.loop.example", authres.ResultPermError}, // more than 10 lookups
		{"helo.example", "", authres.ResultPass},                    // null sender: HELO
	} {
		res := check(t, v, tc.helo, tc.from, message("a@none.example"))
		if res.SPF.Value != tc.want {
			t.Errorf("SPF(%q, %q) = %s (%v), want %s", tc.helo, tc.from, res.SPF.Value, res.SPF.Err, tc.want)
		}
	}
	// A server that does not answer in time.
	slow := &inbound.Verifier{Resolver: inboundtest.Silent(t), Timeout: 300 * time.Millisecond}
	start := time.Now()
	res := check(t, slow, "x.example", "a@pass.example", message("a@pass.example"))
	if res.SPF.Value != authres.ResultTempError || res.DMARC.Value != authres.ResultTempError {
		t.Errorf("silent DNS: spf=%s dmarc=%s, want temperror for both", res.SPF.Value, res.DMARC.Value)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent DNS took %v, want about the 300ms timeout", d)
	}
}

// DKIM: a good signature, a body changed after signing, one good and one
// bad signature, none.
func TestDKIM(t *testing.T) {
	t.Parallel()
	w := world(t)
	v := &inbound.Verifier{Resolver: w.Resolver(), Timeout: 5 * time.Second}
	good := w.Sign(t, message("a@dk.example"), "dk.example", "sel")
	tampered := strings.Replace(good, "Hello.", "Hello!", 1)
	two := w.Sign(t, tampered, "other.example", "s2") // other.example's signs the changed text: good; dk.example's: bad
	for _, tc := range []struct {
		name, msg string
		want      []string
	}{
		{"good", good, []string{"pass dk.example sel"}},
		{"body modified", tampered, []string{"fail dk.example sel"}},
		{"two signatures", two, []string{"pass other.example s2", "fail dk.example sel"}},
		{"none", message("a@dk.example"), nil},
	} {
		res := check(t, v, "x.example", "a@fail.example", tc.msg)
		var got []string
		for _, d := range res.DKIM {
			got = append(got, fmt.Sprintf("%s %s %s", d.Value, d.Domain, d.Selector))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: DKIM = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// DMARC: alignment (relaxed, strict), the organizational domain's record
// with sp=, pct= sampling, no record, a malformed record.
func TestDMARC(t *testing.T) {
	t.Parallel()
	w := world(t)
	in := func(b bool) func(int) bool { return func(int) bool { return b } }
	v := &inbound.Verifier{Resolver: w.Resolver(), Timeout: 5 * time.Second, Sample: in(true)}
	out := &inbound.Verifier{Resolver: w.Resolver(), Timeout: 5 * time.Second, Sample: in(false)}
	dk := w.Sign(t, message("a@news.dk.example"), "dk.example", "sel")
	for _, tc := range []struct {
		name     string
		v        *inbound.Verifier
		mailFrom string
		msg      string
		want     authres.ResultValue
		policy   inbound.Policy
	}{
		{"SPF aligned", v, "b@pass.example", message("a@pass.example"), authres.ResultPass, inbound.PolicyNone},
		{"SPF relaxed: subdomain From", v, "b@pass.example", message("a@news.pass.example"), authres.ResultPass, inbound.PolicyNone},
		{"SPF strict: subdomain From", v, "b@strict.example", message("a@news.strict.example"), authres.ResultFail, inbound.PolicyReject},
		{"SPF strict: same domain", v, "b@strict.example", message("a@strict.example"), authres.ResultPass, inbound.PolicyNone},
		{"SPF pass, not aligned", v, "b@pass.example", message("a@dk.example"), authres.ResultFail, inbound.PolicyReject},
		{"DKIM relaxed", v, "b@fail.example", dk, authres.ResultPass, inbound.PolicyNone},
		{"sp= for a subdomain", v, "b@fail.example", message("a@x.sp.example"), authres.ResultFail, inbound.PolicyQuarantine},
		{"p= for the domain itself", v, "b@fail.example", message("a@sp.example"), authres.ResultFail, inbound.PolicyNone},
		{"pct: sampled", v, "b@fail.example", message("a@pct.example"), authres.ResultFail, inbound.PolicyReject},
		{"pct: not sampled", out, "b@fail.example", message("a@pct.example"), authres.ResultFail, inbound.PolicyQuarantine},
		{"no record", v, "b@fail.example", message("a@none.example"), authres.ResultNone, inbound.PolicyNone},
		{"malformed record", v, "b@fail.example", message("a@bad.example"), authres.ResultPermError, inbound.PolicyNone},
		{"no From", v, "b@pass.example", "Subject: x\r\n\r\nx\r\n", authres.ResultPermError, inbound.PolicyNone},
	} {
		res := check(t, tc.v, "x.example", tc.mailFrom, tc.msg)
		if res.DMARC.Value != tc.want || res.DMARC.Policy != tc.policy {
			t.Errorf("%s: dmarc=%s policy=%s (%v), want %s %s", tc.name, res.DMARC.Value, res.DMARC.Policy,
				res.DMARC.Err, tc.want, tc.policy)
		}
	}
}

// The header: every result, one per line, with the authserv-id.
func TestHeader(t *testing.T) {
	t.Parallel()
	w := world(t)
	v := &inbound.Verifier{Resolver: w.Resolver(), Timeout: 5 * time.Second}
	res := check(t, v, "x.example", "b@dk.example", w.Sign(t, message("a@dk.example"), "dk.example", "sel"))
	want := "Authentication-Results: mx.example.org;\r\n\tspf=none smtp.mailfrom=b@dk.example;\r\n" +
		"\tdkim=pass header.d=dk.example header.s=sel;\r\n\tdmarc=pass header.from=dk.example\r\n"
	if got := res.Header("mx.example.org"); got != want {
		t.Errorf("header:\n%q\nwant\n%q", got, want)
	}
	res = check(t, v, "helo.example", "", message("a@none.example"))
	want = "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.helo=helo.example;\r\n" +
		"\tdkim=none;\r\n\tdmarc=none header.from=none.example\r\n"
	if got := res.Header("mx.example.org"); got != want {
		t.Errorf("header:\n%q\nwant\n%q", got, want)
	}
}

// Forged results claiming our authserv-id go, others stay byte for byte.
func TestStripForged(t *testing.T) {
	t.Parallel()
	block := "Received: from x\r\n" +
		"Authentication-Results: MX.example.org; dkim=pass\r\n" +
		"Authentication-Results: (comment) mx.example.org 1;\r\n\tspf=pass\r\n" +
		"Authentication-Results: mx.example.net; spf=fail\r\n" +
		"Authentication-Results: mx.example.org.evil; spf=pass\r\n" +
		"Subject: Authentication-Results: mx.example.org;\r\n\r\n"
	got, n := inbound.StripForged([]byte(block), "mx.example.org")
	want := "Received: from x\r\n" +
		"Authentication-Results: mx.example.net; spf=fail\r\n" +
		"Authentication-Results: mx.example.org.evil; spf=pass\r\n" +
		"Subject: Authentication-Results: mx.example.org;\r\n\r\n"
	if string(got) != want || n != 2 {
		t.Errorf("StripForged removed %d:\n%q\nwant 2:\n%q", n, got, want)
	}
	if got, n := inbound.StripForged([]byte("A: b\r\n\r\n"), "mx"); string(got) != "A: b\r\n\r\n" || n != 0 {
		t.Errorf("nothing to strip: %q %d", got, n)
	}
}
