package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The SMTP client side that the smtp and queue modes share: dialling,
// sending one message, the message body, and the connection workers.

// sendEach sends messages 0..f.n-1 over f.c connections, message i on
// connection i mod f.c, until deadline. Each connection is dialled with
// queueDial when it is first needed and again after a failure; send sends
// message i on it. A failed dial or send counts in errs (the first error
// is kept) and drops the connection.
func sendEach(f queueFlags, deadline time.Time, send func(c *smtp.Client, i int) error) (errs int, firstErr error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < f.c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Quit()
				}
			}()
			for i := w; i < f.n && time.Now().Before(deadline); i += f.c {
				var err error
				if c == nil {
					c, err = queueDial(f)
				}
				if err == nil {
					err = send(c, i)
				}
				if err == nil {
					continue
				}
				mu.Lock()
				errs++
				firstErr = cmp(firstErr, err)
				mu.Unlock()
				if c != nil {
					c.Close()
					c = nil
				}
			}
		}(w)
	}
	wg.Wait()
	return errs, firstErr
}

// cmp returns first, or err when there is no first error yet.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// queueDial connects, optionally with TLS, and authenticates.
func queueDial(f queueFlags) (*smtp.Client, error) {
	host, _, _ := net.SplitHostPort(f.addr)
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: f.insecure}
	var c *smtp.Client
	var err error
	switch {
	case f.tls:
		c, err = smtp.DialTLS(f.addr, cfg)
	case f.starttls:
		c, err = smtp.DialStartTLS(f.addr, cfg)
	default:
		c, err = smtp.Dial(f.addr)
	}
	if err != nil {
		return nil, err
	}
	c.CommandTimeout = time.Minute
	if err := c.Hello("mailbench.localhost"); err != nil {
		c.Close()
		return nil, err
	}
	if f.user != "" {
		if err := c.Auth(sasl.NewPlainClient("", f.user, f.pass)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// queueSend sends one message from from to rcpt on c.
func queueSend(c *smtp.Client, from, rcpt string, body []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// benchBody is a message of about size bytes whose X-Mailbench-ID header
// lets the sink match it to its submission.
func benchBody(from, to, id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: mailbench %s\r\nMessage-ID: <%s@mailbench.localhost>\r\nX-Mailbench-ID: %s\r\nDate: %s\r\n\r\n",
		from, to, id, id, id, time.Now().Format(time.RFC1123Z))
	line := strings.Repeat("m", 76) + "\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return b.Bytes()
}
