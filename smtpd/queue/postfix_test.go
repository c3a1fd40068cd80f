package queue

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"postern/accounts/testkit"
	"postern/smtpd/queue/postfixtest"
)

// A queued message reaches a real Postfix over STARTTLS, with its header
// intact and a DKIM signature that verifies against the key in the test
// DNS.
func TestDeliverToPostfix(t *testing.T) {
	t.Parallel()
	pf := postfixtest.Start(t, postfixtest.Options{Domains: []string{"pf.test"}})
	data := t.TempDir()
	d := newTestDNS(t)
	_, name, txt, err := GenerateDKIMKey(data, "sender.test", "s1", "rsa")
	if err != nil {
		t.Fatal(err)
	}
	d.add(t, "pf.test. MX 10 mx.pf.test.", "mx.pf.test. A 127.0.0.1", name+". TXT "+QuoteTXT(txt))
	q := testQueue(t, data, d, portOf(pf.Addr), nil, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@pf.test", "carol@pf.test"}, testMessage("anna@sender.test", "bob@pf.test", "to-postfix"))
	deadline := time.Now().Add(30 * time.Second)
	for len(pf.Delivered()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Postfix stored %d messages; its log:\n%s", len(pf.Delivered()), pf.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	testkit.WaitFor(t, "queue to empty", func() bool { return queueEmpty(data) })
	for _, m := range pf.Delivered() {
		if !bytes.Contains(m, []byte("Subject: to-postfix\n")) || !bytes.Contains(m, []byte("Message-ID: <to-postfix@sender.test>")) {
			t.Fatalf("header not intact:\n%s", m)
		}
		if !bytes.Contains(m, []byte("(using TLS")) || !bytes.Contains(m, []byte("from out.sender.test")) {
			t.Fatalf("Received header shows no TLS or wrong EHLO:\n%s", m)
		}
		crlf := bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(crlf), &dkim.VerifyOptions{LookupTXT: d.lookupTXT})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Fatalf("DKIM at Postfix: %v %+v\n%s", err, vs, m)
		}
	}
	if !strings.Contains(pf.Log(), "postfix/smtpd") {
		t.Logf("postfix log:\n%s", pf.Log())
	}
}

// Postfix as smarthost on a submission-style port that demands AUTH:
// with credentials the message is relayed (over verified TLS); without
// them it stays deferred with Postfix's refusal as the reason.
func TestSmarthostPostfixAuth(t *testing.T) {
	t.Parallel()
	pf := postfixtest.Start(t, postfixtest.Options{Domains: []string{"pf.test"}, Auth: true})
	for _, tc := range []struct {
		name, user string
	}{{"with credentials", "relayuser"}, {"without credentials", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			d := newTestDNS(t)
			q := testQueue(t, data, d, "1", nil, func(c *Config) {
				c.Smarthost = Smarthost{Address: pf.AuthAddr, Username: tc.user, Password: "s3cret", CAFile: pf.CertFile}
			})
			enqueue(t, q, "anna@sender.test", []string{"dave@pf.test"}, testMessage("anna@sender.test", "dave@pf.test", "via-"+tc.name))
			if tc.user != "" {
				deadline := time.Now().Add(30 * time.Second)
				for len(pf.Delivered()) == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("not relayed; postfix log:\n%s", pf.Log())
					}
					time.Sleep(50 * time.Millisecond)
				}
				testkit.WaitFor(t, "queue to empty", func() bool { return queueEmpty(data) })
				if m := pf.Delivered()[0]; !bytes.Contains(m, []byte("with ESMTPSA")) {
					t.Fatalf("no authenticated relay in Received:\n%s", m)
				}
				return
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				l, _ := List(data)
				if len(l) == 1 && l[0].Rcpts[0].State == StateDeferred && strings.Contains(l[0].Rcpts[0].LastError, "554 5.7.1") {
					break
				}
				if time.Now().After(deadline) {
					if len(l) == 1 {
						t.Logf("recipient: %+v", *l[0].Rcpts[0])
					}
					t.Fatalf("not deferred with Postfix's reason (%d queued)", len(l))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
