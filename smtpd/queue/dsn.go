package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// bounce returns an RFC 3464 delivery status notification for the failed
// recipients to the sender: into the INBOX when the sender is local, else
// queued toward the sender with the null envelope sender (so it can never
// bounce itself).
func (q *Queue) bounce(ctx context.Context, env *Envelope, failed []*Recipient) error {
	return q.notify(ctx, env, failed, false)
}

// warn tells the sender that delivery to the deferred recipients is
// delayed and still being tried (an RFC 3464 "delayed" notification).
func (q *Queue) warn(ctx context.Context, env *Envelope, deferred []*Recipient) error {
	return q.notify(ctx, env, deferred, true)
}

// notify builds a DSN for rcpts and hands it to the sender.
func (q *Queue) notify(ctx context.Context, env *Envelope, rcpts []*Recipient, delayed bool) error {
	hdr, err := originalHeader(msgPath(q.dir, env.ID))
	if err != nil {
		return err
	}
	dsn := buildDSN(q.cfg.Hostname, env, rcpts, hdr, time.Now(), delayed, q.expiry(env))
	if q.local != nil {
		if user, ok := q.local.LocalUser(env.From); ok {
			if err := q.local.DeliverLocal(ctx, user, bytes.NewReader(dsn)); err != nil {
				return fmt.Errorf("queue: deliver bounce to %s: %w", user, err)
			}
			q.log.Info("bounce delivered", "id", env.ID, "user", user)
			return nil
		}
	}
	id, err := q.store(ctx, "", []string{env.From}, nil, dsn)
	if err != nil {
		return err
	}
	q.log.Info("bounce queued", "id", env.ID, "bounce_id", id)
	return nil
}

// originalHeader returns the header block of a queued message (at most
// maxHeaderBytesInDSN bytes, cut at a line end).
func originalHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("queue: read message for bounce: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHeaderBytesInDSN))
	if err != nil {
		return nil, fmt.Errorf("queue: read message for bounce: %w", err)
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return b[:i+2], nil
	}
	if i := bytes.LastIndex(b, []byte("\r\n")); i >= 0 {
		return b[:i+2], nil
	}
	return nil, nil
}

// buildDSN writes the multipart/report message (RFC 3462, RFC 3464): a
// human-readable part quoting each failure, the machine-readable
// message/delivery-status part, and the original header
// (text/rfc822-headers).
// With delayed, it is a warning: Action "delayed" with the retry deadline.
func buildDSN(hostname string, env *Envelope, failed []*Recipient, origHeader []byte, now time.Time, delayed bool, until time.Time) []byte {
	boundary := "=_" + newID(now)
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", hostname)
	w("To: <%s>", env.From)
	if delayed {
		w("Subject: Delayed Mail (still being retried)")
	} else {
		w("Subject: Undelivered Mail Returned to Sender")
	}
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.dsn@%s>", newID(now), hostname)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	w("This is the mail system at %s.", hostname)
	w("")
	if delayed {
		w("Your message (queued as %s on %s) could not be delivered yet", env.ID, env.Created.UTC().Format(time.RFC1123Z))
		w("to the following recipients. It is retried until %s; you need", until.UTC().Format(time.RFC1123Z))
		w("not send it again. You will hear from us again only if it fails.")
	} else {
		w("Your message (queued as %s on %s) could not be delivered", env.ID, env.Created.UTC().Format(time.RFC1123Z))
		w("to the following recipients:")
	}
	w("")
	for _, r := range failed {
		w("<%s>: %s", r.Addr, oneLine(r.LastError))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", hostname)
	w("X-Postern-Queue-ID: %s", env.ID)
	w("Arrival-Date: %s", env.Created.Format(time.RFC1123Z))
	for _, r := range failed {
		w("")
		w("Final-Recipient: rfc822; %s", r.Addr)
		if delayed {
			w("Action: delayed")
			w("Status: %s", delayedStatus(r.Status))
			w("Will-Retry-Until: %s", until.Format(time.RFC1123Z))
		} else {
			w("Action: failed")
			w("Status: %s", failedStatus(r.Status))
		}
		if r.Remote != "" {
			w("Remote-MTA: dns; %s", r.Remote)
			w("Diagnostic-Code: smtp; %s", oneLine(r.LastError))
		} else {
			w("Diagnostic-Code: x-postern; %s", oneLine(r.LastError))
		}
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	b.Write(origHeader)
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// failedStatus returns a class-5 status for a failed recipient (RFC 3464
// section 2.3.4: "failed" goes with a permanent status).
func failedStatus(s string) string {
	if s == "" {
		return "5.0.0"
	}
	if s[0] == '4' {
		return "5" + s[1:]
	}
	return s
}

// delayedStatus returns a class-4 status for a delayed recipient.
func delayedStatus(s string) string {
	if s == "" || s[0] != '4' {
		return "4.0.0"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
