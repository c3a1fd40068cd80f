package imapd

import (
	"errors"
	"log/slog"

	imap "github.com/emersion/go-imap/v2"

	"postern/accounts"
	"postern/maildir"
)

// replyError turns a store error into the one IMAP reply a client sees
// (RFC 5530 response codes). Unknown errors become NO [SERVERBUG] and are
// logged with their detail under an error id the reply carries too; the
// client gets no internals.
func replyError(log *slog.Logger, op string, err error) error {
	if err == nil {
		return nil
	}
	var imapErr *imap.Error
	if errors.As(err, &imapErr) {
		return imapErr
	}
	no := func(code imap.ResponseCode, text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
	}
	switch {
	case errors.Is(err, maildir.ErrNotFound):
		return no(imap.ResponseCodeNonExistent, "No such mailbox or message")
	case errors.Is(err, maildir.ErrExists):
		return no(imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, maildir.ErrBadName):
		return no(imap.ResponseCodeCannot, "Mailbox name not allowed")
	case errors.Is(err, maildir.ErrOverQuota):
		return no(imap.ResponseCodeOverQuota, "Quota exceeded")
	case errors.Is(err, maildir.ErrNoSpace):
		return no(imap.ResponseCodeLimit, "Server storage is full, try again later")
	}
	id := accounts.NewErrorID()
	log.Error("store error", "op", op, "error_id", id, "err", err)
	return no(imap.ResponseCodeServerBug, "Internal error, logged on the server as error "+id)
}
