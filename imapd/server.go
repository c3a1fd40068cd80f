package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/accounts"
	"postern/accounts/connguard"
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
	opts   Options
	cfg    Config
	log    *slog.Logger
	imap   *imapserver.Server
	guard  *connguard.Guard
	cost   *costs // bounds on busy commands and their memory
	nextID atomic.Uint64

	mu        sync.Mutex // guards the fields below; never held during network I/O
	closed    bool
	sessions  map[*session]struct{}
	perUser   map[string]int // "user\x00ip" → sessions logged in
	mailboxes map[*maildir.Folder]*mailbox
	wg        sync.WaitGroup // one per live session
}

// New returns a Server; it serves nothing until Serve or ServeTLS.
func New(opts Options) *Server {
	cfg := opts.Config.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:      opts,
		cfg:       cfg,
		log:       opts.Logger.With("proto", "imap"),
		sessions:  make(map[*session]struct{}),
		perUser:   make(map[string]int),
		mailboxes: make(map[*maildir.Folder]*mailbox),
	}
	s.cost = newCosts(&s.cfg)
	s.guard = connguard.New(connguard.Options{Proto: "imap", Limits: cfg.Limits, Logger: opts.Logger})
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: s.newSession,
		Caps:       capabilities(cfg),
		Logger:     slogAdapter{s.log},
		// Bounds STARTTLS handshakes (connguard.Guard.TLSConfig).
		TLSConfig: s.guard.TLSConfig(opts.TLSConfig),
	})
	return s
}

// Serve accepts plain connections on ln (STARTTLS offered when TLSConfig
// is set) until ln fails or Shutdown is called.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(&deadlineListener{Listener: s.guard.Listener(ln, refusal), cfg: &s.cfg})
}

// ServeTLS accepts implicit-TLS connections on ln. The connections handed
// to go-imap are bare *tls.Conn (over the deadline wrapper), which its
// LOGIN and AUTHENTICATE require, whose handshake already succeeded:
// handshakes run in the background under tls_handshake_timeout, so a
// stalled one never holds a session.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("imapd: ServeTLS without a TLS configuration")
	}
	inner := &deadlineListener{Listener: s.guard.TLSPendingListener(ln), cfg: &s.cfg}
	return s.serve(s.guard.TLSListener(inner, s.opts.TLSConfig))
}

// Guard returns the connection guard of the Server's listeners.
func (s *Server) Guard() *connguard.Guard { return s.guard }

// refusal answers a plain connection over a connguard limit.
func refusal(reason connguard.Reason) []byte {
	return []byte("* BYE [UNAVAILABLE] " + connguard.RefusalText(reason) + "\r\n")
}

func (s *Server) serve(ln net.Listener) error {
	if s.isClosed() {
		return ErrServerClosed
	}
	err := s.imap.Serve(ln)
	if s.isClosed() {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("imapd: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting, sends BYE to every session and waits for them
// to end or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*imapserver.Conn, 0, len(s.sessions))
	for sess := range s.sessions {
		conns = append(conns, sess.conn)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Bye("Server shutting down")
	}
	err := s.imap.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("imapd: shutdown: %w", ctx.Err())
	}
	s.dropLingering()
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

// newSession is go-imap's NewSession hook: one session per connection,
// refused with BYE after Shutdown (the connection limits are the
// Guard's, applied before).
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	remote := c.NetConn().RemoteAddr().String()
	sess := &session{
		srv:    s,
		conn:   c,
		remote: remote,
		ip:     hostOf(remote),
	}
	sess.id = strconv.FormatUint(s.nextID.Add(1), 10)
	sess.log = s.log.With("session", sess.id, "remote", remote)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return sess, nil, nil
}

// dropSession forgets a closed session.
func (s *Server) dropSession(sess *session) {
	s.mu.Lock()
	_, ok := s.sessions[sess]
	delete(s.sessions, sess)
	s.mu.Unlock()
	if ok {
		s.wg.Done()
	}
}

// acquireUser counts one logged-in session of user from ip; false when
// the per-user-per-address limit is reached.
func (s *Server) acquireUser(user, ip string) bool {
	k := user + "\x00" + ip
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[k] >= s.cfg.MaxConnectionsPerUserIP {
		return false
	}
	s.perUser[k]++
	return true
}

// releaseUser undoes acquireUser.
func (s *Server) releaseUser(user, ip string) {
	k := user + "\x00" + ip
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[k]--; s.perUser[k] <= 0 {
		delete(s.perUser, k)
	}
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// slogAdapter gives go-imap's Logger interface a slog backend.
type slogAdapter struct{ l *slog.Logger }

// Printf logs one library message at warning level.
func (a slogAdapter) Printf(format string, args ...any) {
	a.l.Warn(fmt.Sprintf(format, args...))
}
