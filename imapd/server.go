//go:build imapstore

// This file needs maildir.Store, which is not committed yet; the build tag
// comes off when maildir's API lands (same scheme as pop3d).

package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-imap/v2/imapserver"

	"postern/accounts"
	"postern/maildir"
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("imapd: server closed")

// Options is everything a Server needs from the process.
type Options struct {
	// Store is the message store sessions read and write.
	Store *maildir.Store
	// Accounts authenticates logins (throttled there).
	Accounts *accounts.Directory
	// TLSConfig enables STARTTLS and port 993; nil means no TLS and no
	// logins (LOGINDISABLED).
	TLSConfig *tls.Config
	// Hostname is named in the greeting.
	Hostname string
	// Logger receives session logs; nil means slog.Default().
	Logger *slog.Logger
	// Config holds the tunables; zero fields take their defaults.
	Config Config
}

// Server is one IMAP server shared by the plain (143) and implicit-TLS
// (993) listeners.
type Server struct {
	opts Options
	log  *slog.Logger
	imap *imapserver.Server

	mu       sync.Mutex
	closed   bool
	conns    map[*imapserver.Conn]struct{}
	perUser  map[string]int // "user\x00ip" → sessions logged in
	sessions sync.WaitGroup
}

// New returns a Server; it serves nothing until Serve or ServeTLS.
func New(opts Options) *Server {
	opts.Config = opts.Config.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("proto", "imap"),
		conns:   make(map[*imapserver.Conn]struct{}),
		perUser: make(map[string]int),
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: s.newSession,
		Caps:       capabilities(opts.Config),
		Logger:     slogAdapter{s.log},
		TLSConfig:  opts.TLSConfig,
	})
	return s
}

// Serve accepts plain connections on ln (STARTTLS offered when TLSConfig
// is set) until ln fails or Shutdown is called.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.imap.Serve(ln); err != nil {
		if s.isClosed() {
			return ErrServerClosed
		}
		return fmt.Errorf("imapd: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// ServeTLS accepts implicit-TLS connections on ln. The connections handed
// to go-imap are bare *tls.Conn, which its AUTHENTICATE requires.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("imapd: ServeTLS without a TLS configuration")
	}
	return s.Serve(tls.NewListener(ln, s.opts.TLSConfig))
}

// Shutdown stops accepting, sends BYE to every session and waits for them
// to end or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*imapserver.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Bye("Server shutting down")
	}
	err := s.imap.Close()
	done := make(chan struct{})
	go func() { s.sessions.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("imapd: shutdown: %w", ctx.Err())
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("imapd: shutdown: %w", err)
	}
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// slogAdapter gives go-imap's Logger interface a slog backend.
type slogAdapter struct{ l *slog.Logger }

// Printf logs one library message at warning level.
func (a slogAdapter) Printf(format string, args ...any) {
	a.l.Warn(fmt.Sprintf(format, args...))
}
