package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"

	"github.com/emersion/go-message"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
)

// A message for two recipients of one domain goes through one transaction
// to the MX, over STARTTLS, with our EHLO name, DKIM-signed with a key
// whose public half is published in the test DNS.
func TestDeliverToMXSignedOverTLS(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", true, nil)
	_, name, txt, err := GenerateDKIMKey(data, "sender.test", "s1", "rsa")
	if err != nil {
		t.Fatal(err)
	}
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1", name+". TXT "+QuoteTXT(txt))
	q := testQueue(t, data, d, portOf(rcv.addr), nil, nil)

	enqueue(t, q, "anna@sender.test", []string{"bob@a.test", "carol@A.test"}, testMessage("anna@sender.test", "bob@a.test", "hello"))
	testkit.WaitFor(t, "delivery", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })

	m := rcv.messages()[0]
	if m.helo != "out.sender.test" || !m.tls || m.from != "anna@sender.test" || len(m.rcpts) != 2 {
		t.Fatalf("received helo=%q tls=%v from=%q rcpts=%v", m.helo, m.tls, m.from, m.rcpts)
	}
	if !bytes.Contains(m.data, []byte("\r\nSubject: hello\r\n")) {
		t.Fatalf("headers not intact:\n%s", m.data)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.data), &dkim.VerifyOptions{LookupTXT: d.lookupTXT})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "sender.test" {
		t.Fatalf("DKIM verification: %v %+v", err, vs)
	}
}

// With an RSA and an Ed25519 key the message carries two signatures and
// both verify.
func TestDKIMDualSignature(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	for _, k := range []struct{ sel, algo string }{{"r1", "rsa"}, {"e1", "ed25519"}} {
		_, name, txt, err := GenerateDKIMKey(data, "sender.test", k.sel, k.algo)
		if err != nil {
			t.Fatal(err)
		}
		d.add(t, name+". TXT "+QuoteTXT(txt))
	}
	q := &Queue{dkimDir: filepath.Join(data, "dkim")}
	msg := []byte(testMessage("anna@sender.test", "bob@a.test", "two"))
	sigs, err := q.sign("anna@sender.test", msg)
	if err != nil {
		t.Fatal(err)
	}
	signed := append(sigs, msg...)
	if !bytes.HasPrefix(signed, []byte("DKIM-Signature: a=rsa-sha256")) {
		t.Fatalf("RSA signature not first:\n%s", signed)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: d.lookupTXT})
	if err != nil || len(vs) != 2 || vs[0].Err != nil || vs[1].Err != nil {
		t.Fatalf("verification: %v %+v", err, vs)
	}
	if !bytes.Contains(sigs, []byte("h=From:Subject:Date:To:Message-ID;")) {
		t.Fatalf("signed header list:\n%s", sigs)
	}
	st, err := os.Stat(filepath.Join(data, "dkim", "sender.test", "e1.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
}

// A 4xx answer defers the recipient; the retry delivers it, exactly once.
func TestTemporaryFailureRetriedAndDeliveredOnce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", true, func(r *receiver) {
		r.rcptHook = func(to string, n int) error {
			if n == 1 {
				return errTemp
			}
			return nil
		}
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	q := testQueue(t, data, d, portOf(rcv.addr), nil, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "retry"))
	testkit.WaitFor(t, "delivery after retry", func() bool { return queueEmpty(data) })
	if got := rcv.messages(); len(got) != 1 {
		t.Fatalf("delivered %d times, want 1", len(got))
	}
}

// A 5xx answer bounces: the DSN lands in the local sender's INBOX, from
// MAILER-DAEMON, as multipart/report with the remote reply quoted and the
// original header attached.
func TestPermanentFailureBouncesToLocalSender(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", true, func(r *receiver) {
		r.rcptHook = func(string, int) error { return errNoUser }
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
	enqueue(t, q, "anna@sender.test", []string{"nobody@a.test"}, testMessage("anna@sender.test", "nobody@a.test", "lost"))
	testkit.WaitFor(t, "bounce", func() bool { return len(box.of("anna@sender.test")) == 1 && queueEmpty(data) })

	dsn := string(box.of("anna@sender.test")[0])
	for _, want := range []string{
		"From: Mail Delivery System <MAILER-DAEMON@out.sender.test>",
		"Content-Type: multipart/report; report-type=delivery-status;",
		"Final-Recipient: rfc822; nobody@a.test",
		"Action: failed",
		"Status: 5.1.1",
		"Remote-MTA: dns; mx.a.test",
		"550 5.1.1 No such user here",
		"Content-Type: text/rfc822-headers",
		"Subject: lost",
	} {
		if !strings.Contains(dsn, want) {
			t.Errorf("bounce lacks %q:\n%s", want, dsn)
		}
	}
	if len(rcv.messages()) != 0 {
		t.Fatal("rejected message was recorded as received")
	}
	// The structure as a MIME parser sees it (RFC 3462, RFC 3464).
	ent, err := message.Read(strings.NewReader(dsn))
	if err != nil {
		t.Fatal(err)
	}
	mr := ent.MultipartReader()
	if mr == nil {
		t.Fatal("bounce is not multipart")
	}
	var types []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		ct, _, _ := p.Header.ContentType()
		types = append(types, ct)
	}
	if strings.Join(types, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts: %v", types)
	}
}

// One transaction, three answers: accepted, rejected, deferred-then-
// accepted. One bounce names only the rejected recipient.
func TestMixedRecipientOutcomes(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.rcptHook = func(to string, n int) error {
			switch {
			case strings.HasPrefix(to, "no@"):
				return errNoUser
			case strings.HasPrefix(to, "later@") && n == 1:
				return errTemp
			}
			return nil
		}
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
	enqueue(t, q, "anna@sender.test", []string{"yes@a.test", "no@a.test", "later@a.test"}, testMessage("anna@sender.test", "yes@a.test", "mixed"))
	testkit.WaitFor(t, "all outcomes", func() bool { return queueEmpty(data) })

	got := rcv.messages()
	if len(got) != 2 || strings.Join(got[0].rcpts, ",") != "yes@a.test" || strings.Join(got[1].rcpts, ",") != "later@a.test" {
		t.Fatalf("transactions: %+v", got)
	}
	if got[0].tls {
		t.Fatal("TLS reported without STARTTLS")
	}
	b := box.of("anna@sender.test")
	if len(b) != 1 || !strings.Contains(string(b[0]), "Final-Recipient: rfc822; no@a.test") ||
		strings.Contains(string(b[0]), "Final-Recipient: rfc822; later@a.test") ||
		strings.Contains(string(b[0]), "Final-Recipient: rfc822; yes@a.test") {
		t.Fatalf("bounces: %q", b)
	}
}

// The first MX accepts TCP and never answers: after the command timeout
// the second MX is tried and takes the message.
func TestSilentMXTimesOutAndNextMXIsTried(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", true, nil)
	blackhole(t, "127.0.0.2:"+portOf(rcv.addr))
	d.add(t, "a.test. MX 10 silent.a.test.", "a.test. MX 20 good.a.test.",
		"silent.a.test. A 127.0.0.2", "good.a.test. A 127.0.0.1")
	q := testQueue(t, data, d, portOf(rcv.addr), nil, func(c *Config) { c.CommandTimeout = Duration(time.Second) })
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "fallback"))
	testkit.WaitFor(t, "delivery via second MX", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
}

// Routing failures that are final bounce at once with the matching status;
// a domain with only an address record is its own MX.
func TestRoutingOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, domain, status string
		records              []string
		delivered            bool
	}{
		{"null MX", "null.test", "Status: 5.1.10", []string{"null.test. MX 0 ."}, false},
		{"no MX, no address", "nowhere.test", "Status: 5.1.2", []string{"other.test. A 127.0.0.1"}, false},
		{"implicit MX", "plain.test", "", []string{"plain.test. A 127.0.0.1"}, true},
		{"IDNA domain", "bücher.test", "", []string{"xn--bcher-kva.test. MX 5 mx.xn--bcher-kva.test.", "mx.xn--bcher-kva.test. A 127.0.0.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			d := newTestDNS(t)
			rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {})
			rcv.srv.EnableSMTPUTF8 = true
			d.add(t, tc.records...)
			box := &inbox{localDomain: "sender.test"}
			q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
			enqueue(t, q, "anna@sender.test", []string{"x@" + tc.domain}, testMessage("anna@sender.test", "x@a.test", "route"))
			testkit.WaitFor(t, "outcome", func() bool { return queueEmpty(data) })
			if tc.delivered {
				if len(rcv.messages()) != 1 {
					t.Fatalf("not delivered")
				}
				return
			}
			b := box.of("anna@sender.test")
			if len(b) != 1 || !strings.Contains(string(b[0]), tc.status) {
				t.Fatalf("bounce: %q", b)
			}
		})
	}
}

// A message whose header needs SMTPUTF8 bounces with a clear reason when
// the receiver does not offer it.
func TestSMTPUTF8RequiredButNotOffered(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, nil)
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "Grüße"))
	testkit.WaitFor(t, "bounce", func() bool { return len(box.of("anna@sender.test")) == 1 })
	if dsn := string(box.of("anna@sender.test")[0]); !strings.Contains(dsn, "needs SMTPUTF8") || !strings.Contains(dsn, "Status: 5.6.7") {
		t.Fatalf("bounce:\n%s", dsn)
	}
}

// A bounce is never bounced: a failing message with the null sender is
// simply removed; and a remote sender's bounce is queued with the null
// sender toward it.
func TestNeverBounceABounce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.rcptHook = func(to string, _ int) error {
			if strings.HasPrefix(to, "no@") || strings.HasPrefix(to, "remote@") {
				return errNoUser
			}
			return nil
		}
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	q := testQueue(t, data, d, portOf(rcv.addr), &inbox{localDomain: "sender.test"}, nil)
	// remote@a.test sends (say, via an alias forward) to no@a.test: the
	// bounce goes to remote@a.test with MAIL FROM:<>, is rejected, and
	// then dropped without a second bounce.
	enqueue(t, q, "remote@a.test", []string{"no@a.test"}, testMessage("remote@a.test", "no@a.test", "loop"))
	testkit.WaitFor(t, "both messages finished", func() bool { return queueEmpty(data) })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.attempts["no@a.test"] != 1 || rcv.attempts["remote@a.test"] != 1 {
		t.Fatalf("attempts: %v", rcv.attempts)
	}
}

// Messages queued while no queue runs are delivered after the next Open:
// the queue resumes from its files.
func TestRestartResumes(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, nil)
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	cfg := DefaultConfig()
	q1, err := Open(data, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := enqueue(t, q1, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "resume"))
	// An interrupted submission leaves a message without envelope: it
	// was never acknowledged and must not be sent.
	if err := os.WriteFile(filepath.Join(data, "queue", "zzz.msg"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	testQueue(t, data, d, portOf(rcv.addr), nil, nil)
	testkit.WaitFor(t, "delivery after restart", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
	if !strings.Contains(string(rcv.messages()[0].data), "Subject: resume") {
		t.Fatalf("wrong message delivered for %s", id)
	}
}

// Operator requests: drop bounces with "deleted by administrator"; flush
// retries a deferred message at once.
func TestDropAndFlush(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	var allow = make(chan struct{})
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.rcptHook = func(to string, n int) error {
			select {
			case <-allow:
				return nil
			default:
				return errTemp
			}
		}
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, func(c *Config) { c.Retry = []Duration{Duration(time.Hour)} })
	dropID := enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "drop"))
	flushID := enqueue(t, q, "anna@sender.test", []string{"carol@a.test"}, testMessage("anna@sender.test", "carol@a.test", "flush"))
	testkit.WaitFor(t, "first attempts", func() bool {
		l, _ := List(data)
		n := 0
		for _, e := range l {
			if e.Rcpts[0].State == StateDeferred {
				n++
			}
		}
		return n == 2
	})
	if err := RequestDrop(data, dropID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "drop bounce", func() bool { return len(box.of("anna@sender.test")) == 1 })
	if dsn := string(box.of("anna@sender.test")[0]); !strings.Contains(dsn, "deleted by administrator") {
		t.Fatalf("bounce:\n%s", dsn)
	}
	close(allow)
	if err := RequestFlush(data, flushID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "flushed delivery", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
	if err := RequestDrop(data, "nosuchid"); err == nil {
		t.Fatal("dropping an unknown id succeeded")
	}
}

// The smarthost demands AUTH over TLS: with credentials the message is
// relayed; without them it stays deferred with the reason recorded.
func TestSmarthostAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, user string
		delivered  bool
	}{{"with credentials", "relayuser", true}, {"without credentials", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			d := newTestDNS(t)
			rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) { r.user, r.pass = "relayuser", "s3cret" })
			rcv.srv.TLSConfig = testkit.ServerTLS()
			ca, _ := testkit.WriteCert(t, t.TempDir())
			q := testQueue(t, data, d, "1", nil, func(c *Config) {
				c.Smarthost = Smarthost{Address: net.JoinHostPort("127.0.0.1", portOf(rcv.addr)), Username: tc.user, Password: "s3cret", CAFile: ca}
			})
			enqueue(t, q, "anna@sender.test", []string{"bob@anywhere.test"}, testMessage("anna@sender.test", "bob@anywhere.test", "relay"))
			if tc.delivered {
				testkit.WaitFor(t, "relayed", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
				if !rcv.messages()[0].tls {
					t.Fatal("relayed without TLS")
				}
				return
			}
			testkit.WaitFor(t, "deferred with reason", func() bool {
				l, _ := List(data)
				return len(l) == 1 && l[0].Rcpts[0].State == StateDeferred && strings.Contains(l[0].Rcpts[0].LastError, "MAIL FROM: 502 5.7.0 Please authenticate first")
			})
		})
	}
}

// The smarthost's certificate must verify: an unknown CA defers.
func TestSmarthostRequiresVerifiedTLS(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", true, nil)
	q := testQueue(t, data, d, "1", nil, func(c *Config) {
		c.Smarthost = Smarthost{Address: rcv.addr}
	})
	enqueue(t, q, "anna@sender.test", []string{"bob@anywhere.test"}, testMessage("anna@sender.test", "bob@anywhere.test", "relay"))
	testkit.WaitFor(t, "deferred", func() bool {
		l, _ := List(data)
		return len(l) == 1 && l[0].Rcpts[0].State == StateDeferred && l[0].Rcpts[0].Attempts >= 1
	})
	if len(rcv.messages()) != 0 {
		t.Fatal("delivered over unverified TLS to a smarthost")
	}
}

// An oversized submission is refused with go-smtp's own 552 error.
func TestEnqueueTooLarge(t *testing.T) {
	t.Parallel()
	q, err := Open(t.TempDir(), Config{MaxMessageBytes: 10}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Enqueue(context.Background(), "a@b.test", []string{"c@d.test"}, strings.NewReader("Subject: way too long\r\n\r\n"))
	if err != smtp.ErrDataTooLarge {
		t.Fatalf("err = %v", err)
	}
}

// STARTTLS is offered but the handshake fails: opportunistic delivery
// falls back to plaintext on a new connection; with require_tls the
// recipient is deferred instead.
func TestBrokenSTARTTLS(t *testing.T) {
	t.Parallel()
	for _, requireTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "opportunistic", true: "required"}[requireTLS], func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			d := newTestDNS(t)
			rcv := newReceiver(t, "127.0.0.1:0", false, nil)
			rcv.srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return nil, errors.New("no certificate today")
			}}
			d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
			q := testQueue(t, data, d, portOf(rcv.addr), nil, func(c *Config) { c.RequireTLS = requireTLS })
			enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "tls"))
			if !requireTLS {
				testkit.WaitFor(t, "plaintext delivery", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
				if rcv.messages()[0].tls {
					t.Fatal("TLS reported")
				}
				return
			}
			testkit.WaitFor(t, "deferral", func() bool {
				l, _ := List(data)
				return len(l) == 1 && l[0].Rcpts[0].State == StateDeferred && strings.Contains(l[0].Rcpts[0].LastError, "TLS is required")
			})
			if len(rcv.messages()) != 0 {
				t.Fatal("delivered without TLS although required")
			}
		})
	}
}

// SIZE and SMTPUTF8 are honoured: a message over the receiver's SIZE
// bounces with 5.3.4 before any data is sent; a message that needs
// SMTPUTF8 goes to a server that offers it.
func TestSizeAndSMTPUTF8Honoured(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, nil)
	rcv.srv.MaxMessageBytes = 400
	rcv.srv.EnableSMTPUTF8 = true
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "big")+strings.Repeat("x", 500)+"\r\n")
	enqueue(t, q, "anna@sender.test", []string{"jöran@a.test"}, testMessage("anna@sender.test", "jöran@a.test", "Grüße"))
	testkit.WaitFor(t, "both finished", func() bool { return queueEmpty(data) && len(box.of("anna@sender.test")) == 1 })
	if dsn := string(box.of("anna@sender.test")[0]); !strings.Contains(dsn, "Status: 5.3.4") || !strings.Contains(dsn, "exceeds") {
		t.Fatalf("bounce:\n%s", dsn)
	}
	got := rcv.messages()
	if len(got) != 1 || got[0].rcpts[0] != "jöran@a.test" {
		t.Fatalf("received %+v", got)
	}
}

// A recipient that keeps failing temporarily bounces once its lifetime
// is over, with status 5.4.7 and the last error quoted.
func TestExpiryBounces(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.rcptHook = func(string, int) error { return errTemp }
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, func(c *Config) {
		c.Lifetime = Duration(300 * time.Millisecond)
		c.Retry = []Duration{Duration(100 * time.Millisecond)}
	})
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "expire"))
	testkit.WaitFor(t, "expiry bounce", func() bool { return len(box.of("anna@sender.test")) == 1 && queueEmpty(data) })
	dsn := string(box.of("anna@sender.test")[0])
	for _, want := range []string{"Status: 5.4.7", "delivery time expired after", "451 4.3.0 Try again later"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("bounce lacks %q:\n%s", want, dsn)
		}
	}
}

// A smarthost on implicit TLS (port 465 style) with AUTH.
func TestSmarthostImplicitTLS(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	l := tls.NewListener(testkit.Listen(t), testkit.ServerTLS())
	r := &receiver{attempts: map[string]int{}, user: "relayuser", pass: "s3cret"}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &recvSession{r: r, c: c}, nil }))
	r.srv.ReadTimeout, r.srv.WriteTimeout = 10*time.Second, 10*time.Second
	go r.srv.Serve(l)
	t.Cleanup(func() { r.srv.Close() })
	ca, _ := testkit.WriteCert(t, t.TempDir())
	q := testQueue(t, data, d, "1", nil, func(c *Config) {
		c.Smarthost = Smarthost{Address: l.Addr().String(), ImplicitTLS: true, Username: "relayuser", Password: "s3cret", CAFile: ca, Domains: []string{"far.test"}}
	})
	enqueue(t, q, "anna@sender.test", []string{"bob@far.test"}, testMessage("anna@sender.test", "bob@far.test", "465"))
	testkit.WaitFor(t, "relayed over implicit TLS", func() bool { return len(r.messages()) == 1 && queueEmpty(data) })
	if !r.messages()[0].tls {
		t.Fatal("not over TLS")
	}
}

// A message still deferred after warn_after gets one "delayed" DSN; when
// its lifetime ends, one failure bounce follows.
func TestDelayWarningThenBounce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.rcptHook = func(string, int) error { return errTemp }
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, func(c *Config) {
		c.WarnAfter = Duration(200 * time.Millisecond)
		c.Lifetime = Duration(time.Second)
		c.Retry = []Duration{Duration(100 * time.Millisecond)}
	})
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "slow"))
	testkit.WaitFor(t, "warning and bounce", func() bool { return len(box.of("anna@sender.test")) == 2 && queueEmpty(data) })
	got := box.of("anna@sender.test")
	warn, bounce := string(got[0]), string(got[1])
	for _, want := range []string{"Subject: Delayed Mail", "Action: delayed", "Status: 4.3.0", "Will-Retry-Until:", "451 4.3.0 Try again later"} {
		if !strings.Contains(warn, want) {
			t.Errorf("warning lacks %q:\n%s", want, warn)
		}
	}
	if !strings.Contains(bounce, "Action: failed") || strings.Contains(bounce, "Action: delayed") {
		t.Errorf("second notice is not the bounce:\n%s", bounce)
	}
}

// The first MX refuses service in its greeting (554): the next MX is
// tried and takes the message.
func TestRefusingGreetingTriesNextMX(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, nil)
	l, err := net.Listen("tcp", "127.0.0.2:"+portOf(rcv.addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("554 5.7.1 No SMTP service here\r\n"))
			c.Close()
		}
	}()
	d.add(t, "a.test. MX 10 refuse.a.test.", "a.test. MX 20 good.a.test.",
		"refuse.a.test. A 127.0.0.2", "good.a.test. A 127.0.0.1")
	q := testQueue(t, data, d, portOf(rcv.addr), nil, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "refused"))
	testkit.WaitFor(t, "delivery via second MX", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
}

// Recipients that are local accounts are stored directly, never sent to
// an MX, even when they arrive in the queue beside remote ones.
func TestLocalRecipientsBypassTheNetwork(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	rcv := newReceiver(t, "127.0.0.1:0", false, nil)
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1", "sender.test. MX 10 mx.a.test.")
	box := &inbox{localDomain: "sender.test"}
	q := testQueue(t, data, d, portOf(rcv.addr), box, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@a.test", "carl@sender.test"}, testMessage("anna@sender.test", "bob@a.test", "both"))
	testkit.WaitFor(t, "both deliveries", func() bool { return queueEmpty(data) })
	got := rcv.messages()
	if len(got) != 1 || strings.Join(got[0].rcpts, ",") != "bob@a.test" {
		t.Fatalf("network deliveries: %+v", got)
	}
	if m := box.of("carl@sender.test"); len(m) != 1 || !strings.Contains(string(m[0]), "Subject: both") {
		t.Fatalf("local mailbox: %q", m)
	}
}
