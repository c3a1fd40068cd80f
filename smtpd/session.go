package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts"
)

// rdnsTimeout bounds the reverse lookup of a client's address; the name
// only goes into the Received header.
const rdnsTimeout = 5 * time.Second

// session is one client connection: it lives from accept to close, across
// STARTTLS (go-smtp asks for a new Session after STARTTLS; it gets this
// same struct back, reset). Its methods are the SMTP verbs go-smtp hands
// on: Mail, Rcpt, Data, Reset, Logout here, AuthMechanisms and Auth on
// submissionSession. go-smtp calls them from one goroutine at a time
// (BDAT's Data runs in its own goroutine, but no other verb is processed
// until it ends), so the fields need no lock.
type session struct {
	srv *Server
	tc  *trackedConn
	// smtpSess is what NewSession returns: the session itself on port
	// 25, a submissionSession (which adds AUTH) on submission, each
	// wrapped in the control character checks (ctlbytes.go).
	smtpSess smtp.Session

	id          string
	remote      string
	remoteIP    netip.Addr
	implicitTLS bool
	started     time.Time
	log         *slog.Logger

	rdnsDone   chan struct{}
	rdnsName   string
	rdnsCancel context.CancelFunc

	conn *smtp.Conn // the go-smtp connection, set by newSession
	user string     // the authenticated user (submission)
	// act mirrors user and the verb running for other goroutines
	// (Server.BusySessions), without a lock.
	act accounts.Activity

	// The transaction (MAIL ... DATA).
	from  string
	rcpts []recipient

	messages int // messages accepted on this connection, for the log
}

// recipient is one accepted RCPT: where it goes.
type recipient struct {
	addr   string           // the address as normalised
	local  []accounts.Local // local mailboxes it resolves to
	remote []string         // remote addresses (submission, forwarding aliases)
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a random 16-character identifier (80 bits) for sessions
// and queue ids.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// newSession creates the session of a freshly accepted connection and
// starts the reverse lookup of its address.
func newSession(srv *Server, tc *trackedConn, implicitTLS bool) *session {
	s := &session{
		srv:         srv,
		tc:          tc,
		id:          newID(),
		remote:      tc.RemoteAddr().String(),
		implicitTLS: implicitTLS,
		started:     time.Now(),
		rdnsDone:    make(chan struct{}),
	}
	if ap, err := netip.ParseAddrPort(s.remote); err == nil {
		s.remoteIP = ap.Addr().Unmap()
	}
	s.setLogger()
	if srv.submission {
		s.smtpSess = newCtlGuard(s, &submissionSession{s})
	} else {
		s.smtpSess = newCtlGuard(s, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rdnsTimeout)
	s.rdnsCancel = cancel
	go s.lookupRDNS(ctx)
	s.log.Debug("connected", "tls_implicit", implicitTLS)
	return s
}

// setLogger (re)builds the session's logger: every line carries the
// session id, remote address and user.
func (s *session) setLogger() {
	s.log = s.srv.log.With("session", s.id, "remote", s.remote, "user", s.user)
}

func (s *session) lookupRDNS(ctx context.Context) {
	defer close(s.rdnsDone)
	if !s.remoteIP.IsValid() {
		return
	}
	names, err := net.DefaultResolver.LookupAddr(ctx, s.remoteIP.String())
	if err == nil && len(names) > 0 {
		s.rdnsName = strings.TrimSuffix(names[0], ".")
	}
}

// reverseName returns the PTR name of the client, waiting for the lookup
// started at accept (bounded by rdnsTimeout); "" when there is none.
func (s *session) reverseName() string {
	<-s.rdnsDone
	return s.rdnsName
}

// newSession is go-smtp's Backend: called at the first EHLO/HELO and
// again after STARTTLS, it returns the connection's session.
func (srv *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	tc := trackedOf(c.Conn())
	if tc == nil {
		return nil, replyTemporary
	}
	s := tc.sess
	if err := s.refuseControlHello(c); err != nil {
		return nil, err
	}
	s.conn = c
	s.Reset()
	tlsVersion := ""
	if st, ok := c.TLSConnectionState(); ok {
		tlsVersion = tlsVersionName(st.Version)
	}
	s.log.Debug("hello", "ehlo", c.Hostname(), "tls", tlsVersion)
	return s.smtpSess, nil
}

// closed is called once when the connection is closed.
func (s *session) closed() {
	s.rdnsCancel()
	s.log.Info("disconnected", "messages", s.messages, "duration", time.Since(s.started).Round(time.Millisecond))
}

// Reset ends the current transaction (RSET, a new EHLO, after DATA).
func (s *session) Reset() {
	s.from = ""
	s.rcpts = s.rcpts[:0]
}

// Logout is called after STARTTLS and when the connection closes; the
// session stays usable for the TLS part of the connection.
func (s *session) Logout() error {
	s.Reset()
	if s.user != "" {
		s.user = ""
		s.act.SetUser("")
		s.setLogger()
	}
	return nil
}

// draining reports whether the server is shutting down.
func (s *session) draining() bool {
	return s.tc.isDraining()
}
