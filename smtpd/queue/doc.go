// Package queue is Postern's outbound mail spool: it accepts submitted
// messages for remote recipients durably, signs them with DKIM, and
// delivers them by MX (or through a smarthost), retrying temporary
// failures and returning RFC 3464 delivery status notifications for
// permanent ones.
//
// # Implementation notes
//
// On disk the queue is one directory, <data>/queue. Every message is two
// files: <id>.msg (the signed message, CRLF line ends, exactly as sent) and
// <id>.json (the envelope and the state of every recipient). Both are
// written with postern/maildir/durable; the .msg file is written before the
// .json file, so a .json file always has its message, and a .msg file
// without a .json file belongs to a submission that was never answered
// and is removed at start. The operator's commands ("postern queue flush",
// "postern queue drop") drop request files into <data>/queue/control,
// which the running queue picks up within ControlPoll.
//
// In memory the queue holds only a min-heap of (next attempt, id) pairs
// and the set of ids being worked on: message bodies are streamed from
// disk at delivery time, so memory does not grow with the queue's bodies.
//
// Invariants:
//   - one message is worked on by at most one worker at a time (inFlight);
//   - a recipient's state is written durably after every attempt, before
//     the message is rescheduled or removed;
//   - a bounce is generated at most once per message (the envelope's
//     Bounced flag is written before the files are removed), and never
//     for a message with the null sender.
//
// # Retry policy
//
// The policy is in retry.go; the waits are [queue] retry, whose defaults
// (defaultRetry) are:
//
//	attempt that failed   wait before the next one
//	1                     1 min
//	2                     5 min
//	3                     15 min
//	4                     30 min
//	5 and later           1 h (the last wait repeats)
//
// Each wait is spread by jitter, up to 10% either way (jitterDivisor), so
// that messages deferred together by one outage do not all come back in
// the same second; the next attempt is never later than the expiry.
// Every recipient keeps its own attempt count and next attempt, written
// in the envelope. A recipient still deferred [queue] lifetime (5 days,
// RFC 5321 section 4.5.4.1) after the message was queued fails with
// 4.4.7 and the last error quoted (expire). Once [queue] warn_after
// (4 hours; 0 turns it off) has passed with recipients still deferred,
// the sender gets one RFC 3464 "delayed" notice naming them, with the
// deadline (delayWarning, then (*Queue).warn); the envelope's Warned flag
// keeps it to one. When every recipient is delivered or failed, the
// failed ones produce one bounce ((*Queue).finish, (*Queue).bounce):
// into the sender's INBOX when the sender is local, else queued with the
// null sender. A bounce that cannot be handed on is retried after the
// first wait until bounceGrace (24 h) past the lifetime, then given up
// (abandonBounce).
// Operator flush makes every deferred recipient due at once; drop fails
// them.
//
// # Local recipients
//
// A recipient that is a local account (Local.LocalUser) is never sent
// over the network: (*Queue).deliverLocal hands the queued message to
// Local.DeliverLocal and records the result like a remote answer, so a
// full mailbox is deferred, retried on the same schedule and bounced at
// expiry. Local recipients reach the queue when smtpd stored a message
// for some local recipients but not for others (SMTP has one reply to
// DATA, so the failed ones are queued and the reply is 250); any other
// queued address that resolves to a local account is delivered the same
// way. The implementation of Local is smtpd.LocalDelivery,
// which stores through the same code as smtpd's DATA; cmd/postern only
// wires it in.
package queue
