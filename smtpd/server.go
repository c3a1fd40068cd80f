package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts"
	"postern/accounts/connguard"
	"postern/maildir"
	"postern/smtpd/inbound"
	"postern/smtpd/queue"
)

// Options is everything a Server needs from the process.
type Options struct {
	// Store receives local deliveries.
	Store *maildir.Store
	// Accounts resolves recipients, checks senders and authenticates
	// logins (with its throttling).
	Accounts *accounts.Directory
	// TLSConfig is used for STARTTLS and ServeTLS. nil: no STARTTLS
	// (port 25 before the certificate exists) and no AUTH anywhere. It is
	// cloned with session tickets turned off.
	TLSConfig *tls.Config
	// Hostname is the server's name in the greeting, in Received headers
	// and in generated Message-IDs; os.Hostname() when empty.
	Hostname string
	// Logger receives the session logs; slog.Default() when nil.
	Logger *slog.Logger
	// Config holds the tunables; zero fields take their defaults.
	Config Config
	// Queue takes mail for remote recipients (submission, and aliases
	// forwarding elsewhere) and retries local deliveries that failed
	// for some recipients only. nil: remote recipients get a temporary
	// 451 4.3.0.
	Queue *queue.Queue
}

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("smtpd: server closed")

// Server is one SMTP front end: the MX (port 25) or submission (587 and
// 465). One Server may serve several listeners.
type Server struct {
	opts       Options
	cfg        Config
	log        *slog.Logger
	hostname   string
	submission bool
	proto      string // "smtp" or "submission", for logs
	tlsConfig  *tls.Config
	smtp       *smtp.Server

	guard *connguard.Guard
	// dns keeps sender verification's DNS answers for a minute.
	dns   *inbound.Cache
	conns connTable
	// defences are port 25's rate limits, blocklists and allowlist
	// (ratelimit_server.go); nil on submission.
	defences *defences
	closing  atomic.Bool

	mu        sync.Mutex
	listeners []net.Listener
}

// NewMX returns the inbound server for port 25: no AUTH, mail only for
// recipients the accounts directory resolves.
func NewMX(opts Options) *Server {
	return newServer(opts, false)
}

// NewSubmission returns the submission server: port 587 with STARTTLS
// through Serve, port 465 with implicit TLS through ServeTLS. Mail is
// accepted only after AUTH, which is offered only under TLS.
func NewSubmission(opts Options) *Server {
	return newServer(opts, true)
}

func newServer(opts Options, submission bool) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	s := &Server{
		opts:       opts,
		cfg:        opts.Config.withDefaults(),
		hostname:   host,
		submission: submission,
		proto:      "smtp",
		conns:      connTable{all: map[*trackedConn]struct{}{}},
	}
	if submission {
		s.proto = "submission"
	}
	s.log = log.With("proto", s.proto)
	if !submission {
		s.defences = newDefences(s.cfg, host, s.log)
	}
	s.dns = inbound.NewCache(s.cfg.Resolver)
	s.guard = connguard.New(connguard.Options{Proto: s.proto, Limits: s.cfg.Limits, NoLogin: !submission, Logger: log})
	if opts.TLSConfig != nil {
		// Microsoft's senders abort STARTTLS after a Go session ticket.
		s.tlsConfig = opts.TLSConfig.Clone()
		s.tlsConfig.SessionTicketsDisabled = true
		// Bounds STARTTLS handshakes (connguard.Guard.TLSConfig).
		s.tlsConfig = s.guard.TLSConfig(s.tlsConfig)
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = host
	srv.TLSConfig = s.tlsConfig
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.MaxLineLength = s.cfg.MaxLineLength
	srv.ReadTimeout = time.Duration(s.cfg.ReadTimeout)
	srv.WriteTimeout = time.Duration(s.cfg.WriteTimeout)
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = errorLog{s.log}
	s.smtp = srv
	return s
}

// Serve accepts plain connections on ln (port 25 or 587); STARTTLS is
// offered when Options.TLSConfig is set. It returns ErrServerClosed after
// Shutdown, or the error that made Accept fail for good.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(&listener{Listener: s.guard.Listener(ln, s.refusal), srv: s})
}

// ServeTLS accepts implicit-TLS connections on ln (port 465). Handshakes
// run in the background under tls_handshake_timeout; go-smtp sees only
// connections whose handshake succeeded.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.tlsConfig == nil {
		return errors.New("smtpd: ServeTLS needs Options.TLSConfig")
	}
	inner := &listener{Listener: s.guard.TLSPendingListener(ln), srv: s, implicitTLS: true}
	return s.serve(s.guard.TLSListener(inner, s.tlsConfig))
}

// Guard returns the connection guard of the Server's listeners.
func (s *Server) Guard() *connguard.Guard { return s.guard }

func (s *Server) serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	s.log.Info("listening", "addr", ln.Addr().String())
	err := s.smtp.Serve(ln)
	if s.closing.Load() {
		return ErrServerClosed
	}
	if err != nil {
		return errors.Join(errors.New("smtpd: accept"), err)
	}
	return nil
}

// Shutdown stops accepting connections, ends idle sessions at once with
// 421, and lets a message being received finish (its reply is sent, then
// the session ends). It returns when every connection is closed, or
// closes the rest and returns ctx's error when ctx is done first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.smtp.Shutdown(ctx) }()
	s.conns.drain()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.smtp.Close()
			s.conns.closeAll()
			return err
		}
		return nil
	case <-ctx.Done():
		// Not s.smtp.Close: go-smtp's Shutdown, still running, has
		// closed its listeners, and Close racing with it can close its
		// done channel twice (a panic). Closing the connections ends its
		// handlers, and with them that Shutdown.
		s.conns.closeAll()
		return ctx.Err()
	}
}

// errorLog adapts slog to go-smtp's Logger (unexpected internal errors).
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.log.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.log.Warn("smtp: " + fmt.Sprint(v...)) }
