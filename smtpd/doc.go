// Package smtpd holds Postern's SMTP front ends, built on go-smtp: the
// inbound MX server for port 25 and the authenticated submission server
// for ports 587 (STARTTLS) and 465 (implicit TLS). Outbound delivery lives
// in subpackage queue.
//
// # Implementation notes
//
// One connection is one session (session.go), created when the
// connection is accepted and kept across STARTTLS (go-smtp asks for a new
// Session after STARTTLS and gets the same struct back). Its methods are
// the verbs: Mail, Rcpt, Data, Reset, Logout, and on submission
// AuthMechanisms and Auth. go-smtp never runs two verbs of one connection
// at once, so a session's fields need no lock. Only its user and current
// verb are mirrored in an atomic (session.act) for other goroutines:
// Server.BusySessions, which the process logs when a stop outlives its
// timeout, reads those and the connection table (through TryLock) and so
// never waits for a stuck session.
//
// Below go-smtp (and below TLS) every connection is a trackedConn
// (listener.go) over a connguard.Conn: the Guard enforces the total,
// per-address and per-network limits before go-smtp sees a connection,
// bounds TLS handshakes (on 465 they complete before go-smtp sees the
// connection) and, on submission, the time before AUTH; the trackedConn lets
// Shutdown end idle sessions at once (their next command read gets an
// expired deadline, so go-smtp answers 421) while a message being
// received finishes and gets its reply.
//
// Port 25 has defences of its own: connection, message and recipient
// rates per address and network, directory-harvest and protocol-error
// closes, DNS blocklists at connect (whose lookups hold go-smtp's
// greeting) and allowlists (ratelimit*.go, dnsbl.go, allow.go). At the
// end of DATA, mail received there is verified (verify.go, with package
// inbound: SPF, DKIM, DMARC), gets an Authentication-Results header (any
// claiming Postern's authserv-id is removed first) and the DMARC policy
// decides between INBOX, Junk and 550.
//
// Errors become replies in one function, reply (errors.go). go-smtp
// matches *smtp.SMTPError by type assertion, so the named replies are
// returned unwrapped.
//
// Invariants:
//   - 250 after DATA/BDAT only once every copy is durable: in each local
//     recipient's INBOX (maildir.Store.Deliver: one write, hard links,
//     fsync) or in the outbound queue (queue.Enqueue);
//   - a message with a bare CR or LF is refused whole (550 5.6.0) after
//     all of it was read; only CRLF.CRLF ends DATA (go-smtp), so the
//     session stays in sync;
//   - a client that stalls or disappears inside a message is
//     disconnected and nothing of that message is delivered;
//   - a command argument with a control character (NUL, ESC, DEL, bare
//     CR; ctlbytes.go) is refused with 501 and never echoed;
//   - on submission nothing is accepted before AUTH, AUTH only under TLS,
//     and the envelope sender and From: must belong to the user.
package smtpd
