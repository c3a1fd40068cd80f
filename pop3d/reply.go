package pop3d

import (
	"errors"
	"fmt"
	"io"

	"postern/accounts"
	"postern/maildir"
)

// respError is an error whose text the client may see, with an optional
// RFC 2449 §8 / RFC 3206 response code such as "IN-USE" or "AUTH".
type respError struct {
	code string
	text string
}

func (e *respError) Error() string {
	if e.code != "" {
		return "[" + e.code + "] " + e.text
	}
	return e.text
}

// perr returns a client-visible error with a formatted text.
func perr(code, format string, a ...any) error {
	return &respError{code: code, text: fmt.Sprintf(format, a...)}
}

// Errors the command loop reacts to.
var (
	errLineTooLong = perr("", "Line too long (the limit is %d octets)", maxCommandLine)
	errShutdown    = errors.New("server shutting down")
	errGarbage     = errors.New("endless line")
)

// errReply maps any error from a verb to the response code and text sent
// to the client. It is the only place where errors become replies;
// internal details go to the log, never to the client (a generic reply
// carries the error id of its log line).
func (c *conn) errReply(err error) (code, text string) {
	var re *respError
	switch {
	case errors.As(err, &re):
		return re.code, re.text
	case errors.Is(err, maildir.ErrNotFound):
		return "", "Message was removed by another session"
	case errors.Is(err, maildir.ErrNoSpace):
		c.log.Error("store out of space", "err", err)
		return "SYS/TEMP", "Mail store is out of space, try again later"
	case errors.Is(err, accounts.ErrThrottled):
		return "SYS/TEMP", "Too many failed logins, try again later"
	case errors.Is(err, accounts.ErrAuthFailed):
		return "AUTH", "Authentication failed"
	default:
		id := accounts.NewErrorID()
		c.log.Error("command failed", "error_id", id, "err", err)
		return "SYS/TEMP", "Internal error, try again later (error " + id + ")"
	}
}

// reply writes "+OK text".
func (c *conn) reply(text string) {
	c.w.WriteString("+OK")
	if text != "" {
		c.w.WriteString(" ")
		c.w.WriteString(text)
	}
	c.w.WriteString("\r\n")
}

// replyf writes "+OK" with a formatted text.
func (c *conn) replyf(format string, a ...any) {
	c.reply(fmt.Sprintf(format, a...))
}

// replyErr writes "-ERR [code] text" and counts the error.
func (c *conn) replyErr(code, text string) {
	c.errCount++
	c.w.WriteString("-ERR ")
	if code != "" {
		c.w.WriteString("[" + code + "] ")
	}
	c.w.WriteString(text)
	c.w.WriteString("\r\n")
}

// fail answers a failed command.
func (c *conn) fail(err error) {
	code, text := c.errReply(err)
	c.replyErr(code, text)
}

// multiline writes "+OK text", then what body writes, dot-stuffed, then
// the terminating ".". If body fails half-way the response cannot be
// taken back: the connection is closed without the terminating line, so
// the client sees a broken response rather than a silently short one.
func (c *conn) multiline(text string, body func(w io.Writer) error) {
	c.reply(text)
	dw := &dotWriter{w: c.w, bol: true}
	if err := body(dw); err != nil {
		c.log.Error("multi-line response aborted", "err", err)
		c.quit = true
		return
	}
	dw.Close()
}
