package smtpd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir"
)

// reply maps every typed error (wrapped or not) to its reply, passes
// SMTP errors through unwrapped, and never shows internal details.
func TestReplyMapping(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		err  error
		want string
	}{
		{accounts.ErrNoSuchUser, "550 5.1.1"},
		{fmt.Errorf("resolve x: %w", accounts.ErrNoSuchUser), "550 5.1.1"},
		{accounts.ErrAliasLoop, "550 5.1.1"},
		{accounts.ErrNotLocal, "554 5.7.1"},
		{accounts.ErrBadAddress, "553 5.1.3"},
		{accounts.ErrAuthFailed, "535 5.7.8"},
		{accounts.ErrThrottled, "454 4.7.0"},
		{fmt.Errorf("deliver: %w", maildir.ErrOverQuota), "452 4.2.2"},
		{fmt.Errorf("deliver: %w", maildir.ErrNoSpace), "452 4.3.1"},
		{smtp.ErrTooLongLine, "500 5.4.0"},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "451 4.4.2"},
		{smtp.ErrDataTooLarge, "552 5.3.4"},
		{fmt.Errorf("queue: %w", smtp.ErrDataTooLarge), "552 5.3.4"},
		{errors.New("open /var/lib/postern/secret: permission denied"), "451 4.3.0"},
	}
	for _, tt := range tests {
		err := reply(log, "test", tt.err)
		se, ok := err.(*smtp.SMTPError)
		if !ok {
			t.Errorf("%v: reply is %T, not an unwrapped *smtp.SMTPError", tt.err, err)
			continue
		}
		got := fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		if got != tt.want {
			t.Errorf("%v: %s, want %s", tt.err, got, tt.want)
		}
		if strings.Contains(se.Message, "/var/lib") {
			t.Errorf("%v: reply leaks details: %q", tt.err, se.Message)
		}
	}
	// A generic reply carries the id of its log line.
	var logs strings.Builder
	generic := reply(slog.New(slog.NewTextHandler(&logs, nil)), "test", errors.New("disk on fire")).(*smtp.SMTPError)
	id := strings.TrimSuffix(generic.Message[strings.LastIndex(generic.Message, "(error ")+len("(error "):], ")")
	if len(id) != 8 || !strings.Contains(logs.String(), "error_id="+id) {
		t.Errorf("generic reply %q, log %q: no shared error id", generic.Message, logs.String())
	}
	if reply(log, "test", nil) != nil {
		t.Error("reply(nil) is not nil")
	}
}

// Client-chosen names are made safe for the Received header.
func TestReceivedSanitizesNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial(e.mxAddr)
	// (Control characters never get this far: ctlbytes.go refuses them.)
	c.Do("EHLO evil(name)\"x\\y", "250 ")
	c.Do("MAIL FROM:<sender@example.net>", "250 ")
	c.Do("RCPT TO:<anna@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(testMessage("sender@example.net", "names") + ".\r\n")
	c.Expect("250 ")
	msgs := e.inbox(testkit.AnnaUser)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Received: from evil?name??x?y (") {
		t.Errorf("Received header: %q", msgs)
	}
}
