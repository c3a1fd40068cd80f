package smtpd

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/emersion/go-smtp"

	"postern/accounts"
	"postern/maildir"
)

// Replies Postern gives, each with the RFC that defines its codes. go-smtp
// matches *smtp.SMTPError by type assertion, so these values are returned
// as they are, never wrapped.
var (
	// RFC 5321 section 4.2.2 / RFC 3463 5.1.1: no such mailbox.
	replyUnknownUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	// RFC 3463 5.1.3: the address is not a valid mailbox address.
	replyBadAddress = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Invalid address"}
	// RFC 3463 5.7.1: relaying denied.
	replyRelayDenied = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	// RFC 4954 section 6: authentication required.
	replyAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	// RFC 3463 5.7.1: the sender (envelope or From:) is not the user's.
	replySenderNotOwned = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address not owned by the authenticated user"}
	// RFC 4954 section 6: too many failed logins (temporary).
	replyThrottled = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins, try again later"}
	// RFC 3463 4.2.2: mailbox full.
	replyOverQuota = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full, try again later"}
	// RFC 3463 4.3.1: mail system full.
	replyNoSpace = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	// RFC 3463 4.3.0: other mail system problem (details only in the log).
	replyTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	// RFC 3463 4.3.0: remote recipients cannot be queued (no queue).
	replyNoQueue = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Outbound delivery is not available yet, try again later"}
	// RFC 3463 4.3.2: the server is shutting down.
	replyShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Server shutting down, try again later"}
	// RFC 3463 4.4.2: the client went silent inside the message.
	replyDataTimeout = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout reading message data"}
	// RFC 5321 section 2.3.8 / RFC 3463 5.6.0: bare CR or LF (SMTP smuggling guard).
	replyBareNewline = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message contains bare CR or LF, use CRLF line ends"}
	// RFC 3463 5.6.0: the header cannot be parsed.
	replyBadHeader = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message header"}
	// RFC 5322 section 3.6: From: is required.
	replyNoFrom = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message has no From: header"}
	// RFC 5321 section 4.5.3.1.6 / RFC 3463 5.5.2: line too long.
	replyLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 4, 0}, Message: "Line too long"}
	// RFC 4954 section 4 / RFC 3463 5.5.2: a malformed AUTH LOGIN exchange.
	replyLoginSyntax = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Malformed AUTH LOGIN response"}
	// RFC 5321 section 4.1.1 / RFC 3463 5.5.2: a control character in a
	// command line (ctlbytes.go).
	replyControlChars = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Syntax error: control characters are not allowed"}
	// RFC 3463 4.7.0: too many connections (sent before the greeting).
	replyTooManyConns = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many connections, try again later"}
	// RFC 7489 section 10.3 / RFC 3463 5.7.1: From: names one of our own
	// domains but DMARC does not pass (verify.go).
	replyOwnDomainSpoof = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message claims a local sender domain but fails DMARC"}
	// RFC 3463 4.4.3: the DNS lookups of sender verification failed for
	// a message that needs them to pass (verify.go).
	replyVerifyTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: "Sender verification failed temporarily, try again later"}
)

// replyDMARCReject is the refusal of a message whose From: domain's
// DMARC policy says reject (RFC 7489 section 6.3 p=reject; RFC 3463
// 5.7.1). domain is made safe for a reply line.
func replyDMARCReject(domain string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message rejected: DMARC policy of " + headerToken(domain) + " says reject"}
}

// reply turns an error from accounts, maildir, the queue or the network
// into the reply go-smtp sends. It is the one place where errors become
// replies: *smtp.SMTPError values pass through unchanged, typed errors
// get their code, and everything else becomes a generic temporary failure
// whose detail goes only to the log, under an error id that the reply
// carries too.
func reply(log *slog.Logger, what string, err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	var out *smtp.SMTPError
	switch {
	case errors.Is(err, accounts.ErrNoSuchUser), errors.Is(err, accounts.ErrAliasLoop):
		out = replyUnknownUser
	case errors.Is(err, accounts.ErrNotLocal):
		out = replyRelayDenied
	case errors.Is(err, accounts.ErrBadAddress):
		out = replyBadAddress
	case errors.Is(err, accounts.ErrAuthFailed):
		out = smtp.ErrAuthFailed
	case errors.Is(err, accounts.ErrThrottled):
		out = replyThrottled
	case errors.Is(err, maildir.ErrOverQuota):
		out = replyOverQuota
	case errors.Is(err, maildir.ErrNoSpace):
		out = replyNoSpace
	case errors.Is(err, smtp.ErrTooLongLine):
		out = replyLineTooLong
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		out = replyDataTimeout
	default:
		// The id lets a user quote the reply and an operator find the
		// log line.
		id := accounts.NewErrorID()
		log.Error(what+" failed", "error_id", id, "err", err)
		return &smtp.SMTPError{Code: replyTemporary.Code, EnhancedCode: replyTemporary.EnhancedCode,
			Message: replyTemporary.Message + " (error " + id + ")"}
	}
	log.Info(what+" refused", "code", out.Code, "err", err)
	return out
}

// Replies of the port 25 defences (ratelimit*.go, dnsbl.go). 421 closes
// the connection (RFC 5321 section 3.8); 451 refuses one command and the
// sender retries later.
var (
	// RFC 3463 4.7.0: the source opened too many connections in the last
	// minute (sent instead of the greeting).
	replyConnRateAddress = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many connections from your address in the last minute, try again later"}
	replyConnRateNetwork = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many connections from your network in the last minute, try again later"}
	// RFC 3463 4.7.1: too many messages (MAIL) from the source.
	replyMessageRateAddress = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from your address, try again later"}
	replyMessageRateNetwork = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from your network, try again later"}
	// RFC 3463 4.7.1: too many recipients (RCPT) from the source.
	replyRecipientRateAddress = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many recipients from your address, try again later"}
	replyRecipientRateNetwork = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many recipients from your network, try again later"}
	// RFC 3463 4.7.0: directory harvest (too many unknown recipients).
	replyTooManyUnknown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many unknown recipients, closing connection"}
	// RFC 3463 4.7.0: too many malformed or out-of-sequence commands.
	replyTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many protocol errors, closing connection"}
)

// replyBlocklisted is the answer, instead of the greeting, to a client
// that zone lists (RFC 5782; RFC 3463 5.7.1; Postfix's wording).
func replyBlocklisted(ip, zone string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Service unavailable; client [" + ip + "] blocked using " + zone}
}
