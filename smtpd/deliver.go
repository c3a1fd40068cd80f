package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"postern/accounts"
	"postern/maildir"
	"postern/smtpd/queue"
)

// message is one accepted message on its way to delivery.
type message struct {
	id       string // queue id, in the Received header and the logs
	from     string
	rcpts    []recipient
	body     *spool
	received time.Time
	added    string // headers added on submission (Date, Message-ID), or Authentication-Results on port 25
	// Set by verifySender (verify.go) on port 25: the folder to deliver
	// to ("" = INBOX) and the header block replacing the first headerLen
	// bytes (forged Authentication-Results removed; nil = unchanged).
	folder    string
	header    []byte
	headerLen int64
	stripped  int
}

// checkQuota refuses a recipient whose mailbox is already full, at RCPT
// time, so that the sender retries that recipient only.
func (s *session) checkQuota(user string) error {
	maxBytes, maxMsgs := s.srv.opts.Accounts.Quota(user)
	if maxBytes <= 0 && maxMsgs <= 0 {
		return nil
	}
	acct, err := s.srv.opts.Store.Account(user)
	if err != nil {
		return err
	}
	bytes, msgs := acct.Usage()
	if (maxBytes > 0 && bytes >= maxBytes) || (maxMsgs > 0 && msgs >= maxMsgs) {
		return maildir.ErrOverQuota
	}
	return nil
}

// deliver stores msg for its local recipients and queues it for its remote
// ones, and returns nil only when every copy is durable.
//
// SMTP (unlike LMTP) has one reply to DATA for all recipients. When some
// local deliveries fail temporarily (a full mailbox) while others
// succeeded, neither answer is right on its own: 250 would lose the failed
// copies, 4xx would make the sender retry everyone and duplicate the
// delivered ones. So the failed recipients are handed to the outbound
// queue, which retries local deliveries like remote ones and bounces at
// expiry, and the reply is 250 once that is durable. Only when nothing was
// delivered (or the queue is missing or fails) is the reply a temporary
// error for the whole message: then duplicates are preferred to loss.
func (s *session) deliver(ctx context.Context, log *slog.Logger, msg *message) error {
	users, remote := msg.targets()
	trace := s.received(msg) + msg.added
	var failed []string
	var firstErr error
	delivered := 0
	if len(users) > 0 {
		content := io.MultiReader(strings.NewReader(returnPath(msg.from)+trace), msg.content())
		errs, err := storeLocal(ctx, s.srv.opts.Store, content, users, msg.folder)
		if err != nil {
			// Nothing written: the per-target errors (a full mailbox)
			// say more than the global one.
			for _, e := range errs {
				firstErr = cmpErr(firstErr, e)
			}
			if firstErr == nil {
				firstErr = err
			}
			return reply(log, "delivery", firstErr)
		}
		for i, e := range errs {
			if e != nil {
				log.Warn("delivery to a recipient failed", "to", users[i], "err", e)
				failed = append(failed, users[i])
				firstErr = cmpErr(firstErr, e)
				continue
			}
			delivered++
		}
	}
	if len(failed) > 0 && delivered == 0 && len(remote) == 0 {
		return reply(log, "delivery", firstErr)
	}
	if len(failed) > 0 {
		if err := s.enqueue(ctx, log, msg, failed, returnPath(msg.from)+trace); err != nil {
			log.Error("retry of failed local recipients could not be queued; asking the sender to retry all",
				"delivered", delivered, "err", err)
			return reply(log, "delivery", firstErr)
		}
		log.Info("local recipients queued for retry", "rcpts", failed)
	}
	if len(remote) > 0 {
		if err := s.enqueue(ctx, log, msg, remote, trace); err != nil {
			return reply(log, "queue", err)
		}
	}
	log.Info("message accepted", "from", msg.from, "local", delivered, "queued", len(failed)+len(remote),
		"bytes", msg.body.size)
	return nil
}

// storeLocal stores content, trace headers included, in folder ("" =
// INBOX; created when missing) of every user: the one place where a message for local accounts is
// written, for a message just received (deliver) and for one the queue
// retries (LocalDelivery). The results are those of (*maildir.Store).Deliver:
// one error per user, and a global error when nothing was written.
func storeLocal(ctx context.Context, store *maildir.Store, content io.Reader, users []string, folder string) ([]error, error) {
	if folder != "" {
		ensureFolder(store, users, folder) // verify.go
	}
	targets := make([]maildir.Target, len(users))
	for i, u := range users {
		targets[i] = maildir.Target{User: u, Folder: folder}
	}
	return store.Deliver(ctx, content, targets)
}

// LocalDelivery is the local store as the outbound queue needs it
// (queue.Local). Through it the queue retries the local recipients that
// deliver handed over (their mailbox was full when the message came in)
// and puts bounces and delay notices for local senders into their INBOX,
// with the same code that stores a message received over SMTP. The
// message it is given already carries its trace headers.
type LocalDelivery struct {
	// Accounts resolves addresses to local accounts.
	Accounts *accounts.Directory
	// Store receives the messages.
	Store *maildir.Store
}

var _ queue.Local = LocalDelivery{}

// LocalUser returns the account that receives mail for addr (the first
// one, for an alias with several), and false when addr is not local.
func (l LocalDelivery) LocalUser(addr string) (string, bool) {
	res, err := l.Accounts.Resolve(addr)
	if err != nil || len(res.Local) == 0 {
		return "", false
	}
	return res.Local[0].User, true
}

// DeliverLocal stores msg in the INBOX of user and returns nil only once
// it is durable. A full mailbox is an error the queue retries.
func (l LocalDelivery) DeliverLocal(ctx context.Context, user string, msg io.Reader) error {
	errs, err := storeLocal(ctx, l.Store, msg, []string{user}, "")
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return fmt.Errorf("deliver to %s: %w", user, err)
	}
	return nil
}

// enqueue hands msg with the header prefix to the outbound queue for rcpts.
func (s *session) enqueue(ctx context.Context, log *slog.Logger, msg *message, rcpts []string, prefix string) error {
	q := s.srv.opts.Queue
	if q == nil {
		return replyNoQueue
	}
	id, err := q.Enqueue(ctx, msg.from, rcpts, io.MultiReader(strings.NewReader(prefix), msg.content()))
	if err != nil {
		return err
	}
	log.Info("queued", "queue_id", id, "rcpts", len(rcpts))
	return nil
}

// cmpErr keeps the first error, preferring a quota error (it names the
// recipient's problem, not the server's).
func cmpErr(have, e error) error {
	if e == nil {
		return have
	}
	if have == nil || (errors.Is(e, maildir.ErrOverQuota) && !errors.Is(have, maildir.ErrOverQuota)) {
		return e
	}
	return have
}

// targets returns the distinct local users and remote addresses of msg,
// in RCPT order.
func (m *message) targets() (users, remote []string) {
	seen := map[string]bool{}
	for _, r := range m.rcpts {
		for _, l := range r.local {
			if !seen[l.User] {
				seen[l.User] = true
				users = append(users, l.User)
			}
		}
		for _, a := range r.remote {
			if !seen["\x00"+a] {
				seen["\x00"+a] = true
				remote = append(remote, a)
			}
		}
	}
	return users, remote
}
