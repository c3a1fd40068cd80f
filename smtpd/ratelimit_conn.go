package smtpd

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// connDefence is the port 25 defences' state of one connection
// (trackedConn.def; nil on submission and on implicit TLS). It sits
// below go-smtp, in the connection's writes, for the two things go-smtp
// gives Postern no hook for:
//
//   - the greeting: go-smtp writes it itself at accept. The first write
//     is held until the DNSBL lookups started at accept end (bounded by
//     dnsbl_timeout); a listed client gets the 554 instead (dnsbl.go).
//   - protocol errors: go-smtp answers malformed and out-of-sequence
//     commands itself (500, 501, 502 and 503 replies: an unknown verb,
//     a bad MAIL or RCPT syntax, RCPT before MAIL, DATA before RCPT, …)
//     without calling the session, and counts only unknown verbs
//     (closing after 4). So the replies are read as they are written:
//     each one whose code is 500 to 503 counts, whoever produced it
//     (go-smtp or Postern's session, such as the 501 for control
//     characters); at max_protocol_errors, 421 4.7.0 follows and the
//     connection is closed. After STARTTLS the replies are encrypted
//     below go-smtp and cannot be read here: from then on only go-smtp's
//     own limit of 4 unknown verbs applies.
//
// The unknown-recipient count (session.noteUnknownRecipient) lives here
// too, as the connection's; it is touched only by the goroutine running
// the commands.
type connDefence struct {
	d      *defences
	tc     *trackedConn
	dnsbl  chan dnsblResult // nil: no lookup
	closed bool             // a refusal closed the connection

	unknown int // RCPTs for addresses that do not exist

	mu       sync.Mutex
	greeted  bool
	tlsBegun bool   // a second 220 went out: STARTTLS
	seen220  bool   // the greeting went out
	head     []byte // the first bytes of the reply line being written
	errs     int    // 500-503 replies so far
}

// newConnDefence starts the defences of tc (not for implicit TLS): the
// DNSBL lookups of its address, unless it is allowlisted or not to be
// looked up.
func (d *defences) newConnDefence(tc *trackedConn) *connDefence {
	cd := &connDefence{d: d, tc: tc, head: make([]byte, 0, 4)}
	ip := tc.sess.remoteIP
	if d.dnsbl.wanted(ip) && !d.allow.address(ip) {
		cd.dnsbl = make(chan dnsblResult, 1)
		go func() { cd.dnsbl <- d.dnsbl.lookup(ip) }()
	}
	return cd
}

// write is trackedConn.Write on port 25.
func (cd *connDefence) write(p []byte) (int, error) {
	cd.mu.Lock()
	first := !cd.greeted
	cd.greeted = true
	cd.mu.Unlock()
	if first && cd.dnsbl != nil {
		if cd.refuseListed() {
			return 0, net.ErrClosed
		}
		// go-smtp set its write deadline before the wait.
		cd.tc.Conn.SetWriteDeadline(time.Now().Add(cd.d.cfg.WriteTimeout))
	}
	n, err := cd.tc.Conn.Write(p)
	if cd.scan(p[:n]) {
		log := cd.tc.sess.log
		cd.d.refusals.note(log, "connection closed", "protocol_errors", cd.tc.sess.remoteIP.String(), "max", cd.d.cfg.MaxProtocolErrors)
		cd.tc.Conn.Write(replyLine(replyTooManyErrors, cd.d.hostname))
		cd.tc.Close()
	}
	return n, err
}

// refuseListed waits for the DNSBL lookups; when a zone lists the
// client it writes the 554, closes the connection and returns true.
// Failed lookups are logged and let the client through.
func (cd *connDefence) refuseListed() bool {
	res := <-cd.dnsbl
	log := cd.tc.sess.log
	for _, err := range res.errs {
		log.Warn("dnsbl lookup failed, client let through", "err", err)
	}
	if res.zone == "" {
		return false
	}
	ip := cd.tc.sess.remoteIP.String()
	cd.d.refusals.note(log, "connection refused", "dnsbl", ip, "zone", res.zone)
	cd.tc.Conn.Write(replyLine(replyBlocklisted(ip, res.zone), ""))
	cd.tc.Close()
	return true
}

// scan reads the reply lines in p (as written, in plain text) and
// reports whether they took the protocol errors to the limit.
func (cd *connDefence) scan(p []byte) bool {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	if cd.tlsBegun || cd.closed {
		return false
	}
	for _, b := range p {
		if b == '\n' {
			cd.endLine()
			if cd.tlsBegun {
				return false
			}
			if cd.errs >= cd.d.cfg.MaxProtocolErrors {
				cd.closed = true
				return true
			}
			continue
		}
		if len(cd.head) < cap(cd.head) {
			cd.head = append(cd.head, b)
		}
	}
	return false
}

// endLine counts the reply line just ended: a last line ("NNN ") of
// code 500 to 503 is a protocol error; a 220 after the greeting starts
// TLS.
func (cd *connDefence) endLine() {
	h := cd.head
	cd.head = cd.head[:0]
	if len(h) < 4 || h[3] != ' ' {
		return
	}
	switch code := string(h[:3]); {
	case code == "220":
		if cd.seen220 {
			cd.tlsBegun = true
		}
		cd.seen220 = true
	case code >= "500" && code <= "503":
		cd.errs++
	}
}

// replyLine formats r as one reply line, CRLF included, for the replies
// Postern writes itself; host, when set, goes before the text (RFC 5321
// section 4.2: 421 replies name the server).
func replyLine(r *smtp.SMTPError, host string) []byte {
	text := r.Message
	if host != "" {
		text = host + " " + text
	}
	return fmt.Appendf(nil, "%d %d.%d.%d %s\r\n", r.Code, r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2], text)
}
