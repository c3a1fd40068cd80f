package smtpd

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts/connguard"
)

// defences are the port 25 defences of the MX server: the rate limits
// (ratelimit.go), the DNS blocklists (dnsbl.go), the allowlist
// (allow.go), and the per-connection unknown-recipient and
// protocol-error limits (ratelimit_conn.go). The submission server has
// none (Server.defences is nil). Safe for concurrent use.
type defences struct {
	cfg      Config
	hostname string
	log      *slog.Logger

	conns, messages, recipients *rateTable

	allow    allowlist
	dnsbl    *dnsbl // nil: no zones
	refusals *refusalLog
}

// refuseWriteTimeout bounds a refusal written in the accept loop.
const refuseWriteTimeout = time.Second

func newDefences(cfg Config, hostname string, log *slog.Logger) *defences {
	return &defences{
		cfg:        cfg,
		hostname:   hostname,
		log:        log,
		conns:      newRateTable(rateConnections, cfg.MaxConnectionsPerMinute),
		messages:   newRateTable(rateMessages, cfg.MaxMessagesPerMinute),
		recipients: newRateTable(rateRecipients, cfg.MaxRecipientsPerMinute),
		allow:      newAllowlist(cfg),
		dnsbl:      newDNSBL(cfg),
		refusals:   newRefusalLog(),
	}
}

// perMinute returns the configured limit of kind for scope.
func (d *defences) perMinute(kind rateKind, scope string) int {
	n := d.cfg.MaxConnectionsPerMinute
	switch kind {
	case rateMessages:
		n = d.cfg.MaxMessagesPerMinute
	case rateRecipients:
		n = d.cfg.MaxRecipientsPerMinute
	}
	if scope == "network" {
		n *= NetworkRateFactor
	}
	return n
}

// take takes a token of t for ip; on refusal it logs and returns the
// scope that was empty ("address" or "network").
func (d *defences) take(t *rateTable, log *slog.Logger, ip netip.Addr, src, network netip.Prefix) string {
	scope := t.take(src, network)
	if scope != "" {
		d.refusals.note(log, "rate limited", string(t.kind), ip.String(), "scope", scope,
			"max", d.perMinute(t.kind, scope), "network", network.String())
	}
	return scope
}

// admit counts a new connection against the connection rate. Over it, it
// answers 421 4.7.0, closes nc and returns false. Called in the accept
// loop: the reply is small enough for the socket buffer, and its write
// is bounded anyway.
func (d *defences) admit(nc net.Conn) bool {
	src, network, ok := connguard.Keys(nc.RemoteAddr())
	ip := remoteIP(nc)
	if !ok || d.allow.address(ip) {
		return true
	}
	scope := d.take(d.conns, d.log, ip, src, network)
	if scope == "" {
		return true
	}
	r := replyConnRateAddress
	if scope == "network" {
		r = replyConnRateNetwork
	}
	nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	nc.Write(replyLine(r, d.hostname))
	nc.Close()
	return false
}

// remoteIP is the address of nc's peer, or the zero Addr.
func remoteIP(nc net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// checkMail counts a message (MAIL FROM from, already accepted
// otherwise) against the message rate of the session's source. It is
// counted at MAIL, not at the end of DATA, so that transactions a client
// abandons (MAIL, RCPT, RSET, again) count too.
func (s *session) checkMail(from string) error {
	d := s.srv.defences
	if d == nil || s.srv.AllowedAddress(s.remoteIP) || d.allow.senderDomain(from) {
		return nil
	}
	switch s.rateTake(d.messages) {
	case "address":
		return replyMessageRateAddress
	case "network":
		return replyMessageRateNetwork
	}
	return nil
}

// checkRcpt counts a recipient (every RCPT, known or not) against the
// recipient rate of the session's source.
func (s *session) checkRcpt() error {
	d := s.srv.defences
	if d == nil || s.allowlisted() {
		return nil
	}
	switch s.rateTake(d.recipients) {
	case "address":
		return replyRecipientRateAddress
	case "network":
		return replyRecipientRateNetwork
	}
	return nil
}

// rateTake takes a token of t for the session's source; "" when the
// source has no IP address.
func (s *session) rateTake(t *rateTable) string {
	src, network, ok := connguard.Keys(s.tc.RemoteAddr())
	if !ok {
		return ""
	}
	return s.srv.defences.take(t, s.log, s.remoteIP, src, network)
}

// noteUnknownRecipient counts a RCPT for an address that does not exist.
// Past max_unknown_recipients on one connection it writes 421 4.7.0,
// closes the connection and returns that reply (go-smtp's own write of
// it then fails; it ends the session at its next read).
func (s *session) noteUnknownRecipient() error {
	d := s.srv.defences
	cd := s.tc.def
	if d == nil || cd == nil || s.allowlisted() {
		return nil
	}
	cd.unknown++
	if cd.unknown <= d.cfg.MaxUnknownRecipients {
		return nil
	}
	d.refusals.note(s.log, "connection closed", "unknown_recipients", s.remoteIP.String(), "max", d.cfg.MaxUnknownRecipients)
	s.closeWith(replyTooManyUnknown)
	return replyTooManyUnknown
}

// closeWith writes r to the client and closes the connection. It writes
// through go-smtp's connection (a *tls.Conn after STARTTLS), from the
// goroutine running the command, as ctlGuard.Reset does.
func (s *session) closeWith(r *smtp.SMTPError) {
	if s.conn == nil {
		s.tc.Close()
		return
	}
	nc := s.conn.Conn()
	nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	nc.Write(replyLine(r, s.srv.hostname))
	nc.Close()
}
