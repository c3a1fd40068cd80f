package pop3d

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"postern/accounts"
	"postern/accounts/connguard"
	"postern/maildir"
)

// Options is everything a Server needs from the process.
type Options struct {
	// Store is the message store; sessions work on each user's INBOX.
	Store *maildir.Store
	// Accounts authenticates logins (with its throttling).
	Accounts *accounts.Directory
	// TLSConfig is used for STLS and ServeTLS. nil: STLS is not offered
	// and no logins are accepted (credentials only travel under TLS).
	TLSConfig *tls.Config
	// Hostname appears in the greeting.
	Hostname string
	// Logger receives the session logs; nil means slog.Default().
	Logger *slog.Logger
	// Config holds the tunables; zero fields take their defaults.
	Config Config
}

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("pop3d: server closed")

// Server is a POP3 server. One Server may serve several listeners (110 and
// 995) at once; the [IN-USE] lock is shared between them.
type Server struct {
	opts  Options
	cfg   Config
	log   *slog.Logger
	guard *connguard.Guard

	closing atomic.Bool // set first thing in Shutdown
	wg      sync.WaitGroup

	mu        sync.Mutex // guards the fields below; never held during I/O
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	inUse     map[string]*conn // user -> the session holding the maildrop
}

// New returns a server for opts. It does not listen; call Serve or ServeTLS.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := opts.Config.withDefaults()
	guard := connguard.New(connguard.Options{Proto: "pop3", Limits: cfg.Limits, Logger: log})
	// Bounds STLS handshakes (connguard.Guard.TLSConfig).
	opts.TLSConfig = guard.TLSConfig(opts.TLSConfig)
	return &Server{
		opts:      opts,
		cfg:       cfg,
		log:       log,
		guard:     guard,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		inUse:     map[string]*conn{},
	}
}

// Guard returns the connection guard of the Server's listeners.
func (s *Server) Guard() *connguard.Guard { return s.guard }

// refusal answers a plain connection over a connguard limit.
func refusal(reason connguard.Reason) []byte {
	return []byte("-ERR [SYS/TEMP] " + connguard.RefusalText(reason) + "\r\n")
}

// Serve accepts plain connections on ln (port 110); STLS is offered when
// Options.TLSConfig is set. It returns ErrServerClosed after Shutdown, or
// the error that made Accept fail for good.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(s.guard.Listener(ln, refusal), false)
}

// ServeTLS accepts implicit-TLS connections on ln (port 995), using
// Options.TLSConfig.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("pop3d: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(s.guard.TLSPendingListener(ln), true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	if !s.trackListener(ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.trackListener(ln, false)
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				pause = min(max(2*pause, 5*time.Millisecond), acceptRetryMax)
				time.Sleep(pause)
				continue
			}
			return fmt.Errorf("pop3d: accept: %w", err)
		}
		pause = 0
		c := newConn(s, nc, implicitTLS)
		if !s.trackConn(c, true) {
			c.refuse()
			continue
		}
		go func() {
			defer s.wg.Done()
			defer s.trackConn(c, false)
			c.serve()
		}()
	}
}

func (s *Server) trackListener(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

// trackConn registers or forgets a connection. Registering fails when the
// server is shutting down (the connection limits are the Guard's, applied
// in Accept); on success wg is incremented.
func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// lockUser takes the maildrop lock of user for c. It fails at once when
// another session holds it.
func (s *Server) lockUser(user string, c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.inUse[user]; held {
		return false
	}
	s.inUse[user] = c
	return true
}

// unlockUser releases the maildrop lock of user if c holds it.
func (s *Server) unlockUser(user string, c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse[user] == c {
		delete(s.inUse, user)
	}
}

// Shutdown stops accepting connections and ends every session politely:
// a session waiting for a command gets "-ERR [SYS/TEMP]" and is closed
// without applying its deletions; a command in progress (a RETR, or the
// expunge of a QUIT) finishes first. Shutdown returns when all sessions
// have ended, or, when ctx is done first, closes the sockets of the rest,
// waits at most forcedCloseWait for them to end and returns ctx's error
// (a session stuck elsewhere than on its socket is left behind).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.interrupt()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		t := time.NewTimer(forcedCloseWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.log.Warn("sessions still running after their sockets were closed", "wait", forcedCloseWait)
		}
		return fmt.Errorf("pop3d: shutdown: %w", ctx.Err())
	}
}
