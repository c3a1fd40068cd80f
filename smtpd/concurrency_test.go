package smtpd

import (
	"fmt"
	"sync"
	"testing"

	"postern/accounts/testkit"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sendOne sends one message over an open go-smtp client.
func sendOne(c *smtp.Client, from string, rcpts []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("MAIL: %w", err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return fmt.Errorf("RCPT %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

// Many MX and submission sessions at once, several messages each, to
// overlapping recipients: every message arrives exactly once per
// recipient (run with -race).
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const mxConns, subConns, perConn = 6, 3, 10
	var wg sync.WaitGroup
	errs := make(chan error, mxConns+subConns)
	for i := range mxConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.mxAddr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range perConn {
				subj := fmt.Sprintf("mx-%d-%d", i, j)
				if err := sendOne(c, "sender@example.net", []string{testkit.AnnaUser, testkit.BobUser}, testMessage("sender@example.net", subj)); err != nil {
					errs <- fmt.Errorf("%s: %w", subj, err)
					return
				}
			}
			c.Quit()
		}()
	}
	for i := range subConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.DialTLS(e.subsAddr, e.clientTC.Clone())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Auth(sasl.NewPlainClient("", testkit.BobUser, testkit.BobPass)); err != nil {
				errs <- err
				return
			}
			for j := range perConn {
				subj := fmt.Sprintf("sub-%d-%d", i, j)
				if err := sendOne(c, testkit.BobUser, []string{testkit.AnnaUser}, testMessage(testkit.BobUser, subj)); err != nil {
					errs <- fmt.Errorf("%s: %w", subj, err)
					return
				}
			}
			c.Quit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	count := func(user string) map[string]int {
		m := map[string]int{}
		for _, msg := range e.inbox(user) {
			m[subjectOf(msg)]++
		}
		return m
	}
	anna, bob := count(testkit.AnnaUser), count(testkit.BobUser)
	if len(anna) != (mxConns+subConns)*perConn || len(bob) != mxConns*perConn {
		t.Errorf("anna has %d distinct messages, bob %d", len(anna), len(bob))
	}
	for s, n := range anna {
		if n != 1 {
			t.Errorf("anna has %d copies of %s", n, s)
		}
	}
}
