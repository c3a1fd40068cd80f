package imapd

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/accounts"
	"postern/accounts/connguard"
	"postern/maildir"
)

// session is one IMAP connection: go-imap's imapserver.Session over the
// maildir store. go-imap runs one command at a time per connection, so the
// fields need no lock (IDLE runs in a second goroutine but only while the
// command loop waits for DONE).
type session struct {
	srv    *Server
	conn   *imapserver.Conn
	remote string
	ip     string
	id     string // the session id of the log lines
	log    *slog.Logger
	// act mirrors user and the command running for Server.BusySessions.
	act accounts.Activity

	// idleMu is held by Idle for its whole run. go-imap may call Close
	// while an Idle goroutine is still winding down (the client hung up
	// mid-IDLE: imapserver/idle.go does not wait for it), so Close takes
	// it too.
	idleMu sync.Mutex

	user  string // "" until LOGIN/AUTHENTICATE
	acct  *maildir.Account
	sel   *selection  // nil unless a mailbox is selected
	saved imap.UIDSet // SEARCHRES result ($), as UIDs
}

// selection is a session's state while a mailbox is selected. It is the
// maildir.Source of the session's changes (see mailbox.applyLocked).
type selection struct {
	maildir.SourceMark
	mbox     *mailbox
	st       *imapserver.SessionTracker
	readOnly bool
	wake     chan struct{} // signalled by mailbox.onEvent while idling

	// Guarded by mbox.mu. A flag change this session made reaches its own
	// tracker too when echo is set (a STORE without .SILENT: its FETCH
	// responses come from the tracker) or when updates are pending for
	// it (pending counts those queued since its last full Poll): the
	// fresh flags must follow the older update of the same message, or
	// the client would be left with the older flags.
	echo    bool
	pending int
	// pendingExpunges counts the EXPUNGEs among them: a Poll that may
	// not send EXPUNGE (during FETCH, STORE, SEARCH) stops at the first.
	pendingExpunges int
	// known are the keywords this session has been told about in FLAGS
	// (at SELECT and in every Poll since): a FETCH shows only these, and
	// a newer keyword reaches the session with its "* FLAGS" and FETCH
	// in the next Poll. The map is never modified (see
	// mailbox.keywords).
	known map[string]bool
}

// setEcho sets echo under the mailbox lock.
func (sel *selection) setEcho(on bool) {
	sel.mbox.mu.Lock()
	sel.echo = on
	sel.mbox.mu.Unlock()
}

// poll writes the session's queued updates, counting them as written
// when EXPUNGEs may go out too (otherwise some may stay queued).
func (sel *selection) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	sel.mbox.mu.Lock()
	if allowExpunge || sel.pendingExpunges == 0 {
		// Everything queued so far goes out now.
		sel.pending, sel.pendingExpunges = 0, 0
		sel.known = sel.mbox.keywords
	}
	sel.mbox.mu.Unlock()
	return sel.st.Poll(w, allowExpunge)
}

// knownKeywords returns the keywords this session has been told about.
func (sel *selection) knownKeywords() map[string]bool {
	sel.mbox.mu.Lock()
	defer sel.mbox.mu.Unlock()
	return sel.known
}

// visibleFlags leaves out of flags the keywords not in known (see
// selection.known).
func visibleFlags(flags []string, known map[string]bool) []string {
	for i, f := range flags {
		if !strings.HasPrefix(f, `\`) && !known[f] {
			out := append([]string(nil), flags[:i]...)
			for _, g := range flags[i+1:] {
				if strings.HasPrefix(g, `\`) || known[g] {
					out = append(out, g)
				}
			}
			return out
		}
	}
	return flags
}

var (
	_ imapserver.SessionIMAP4rev2      = (*session)(nil)
	_ imapserver.SessionUnauthenticate = (*session)(nil)
	_ imapserver.SessionAppendLimit    = (*session)(nil)
	_ imapserver.SessionNamespace      = (*session)(nil)
	_ imapserver.SessionMove           = (*session)(nil)
	_ imapserver.Session               = (*session)(nil)
)

// loginTimeout bounds one password check including accounts' throttling
// delay.
const loginTimeout = 30 * time.Second

// Close ends the session when the connection goes away.
func (s *session) Close() error {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	s.unselect()
	s.logout()
	s.srv.dropSession(s)
	return nil
}

// Login checks a password through accounts (which throttles); go-imap only
// calls it under TLS.
func (s *session) Login(username, password string) error {
	if s.srv.opts.Accounts == nil || s.srv.opts.Store == nil {
		return imapserver.ErrAuthFailed
	}
	ctx, cancel := context.WithTimeout(accounts.WithLogger(context.Background(), s.log), loginTimeout)
	defer cancel()
	user, err := s.srv.opts.Accounts.Authenticate(ctx, "imap", s.remote, username, password)
	if err != nil {
		if errors.Is(err, accounts.ErrThrottled) {
			s.log.Warn("login throttled", "username", username)
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Too many failed logins, try again later"}
		}
		s.log.Info("login failed", "username", username)
		return imapserver.ErrAuthFailed
	}
	if !s.srv.acquireUser(user, s.ip) {
		s.log.Warn("login refused: too many sessions", "user", user, "max", s.srv.cfg.MaxConnectionsPerUserIP)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many connections for this user from this address"}
	}
	acct, err := s.srv.opts.Store.Account(user)
	if err != nil {
		s.srv.releaseUser(user, s.ip)
		return replyError(s.log, "login", err)
	}
	s.user, s.acct = user, acct
	// Out of the per-IP limits and pre-login deadlines (connguard).
	connguard.LoggedIn(s.conn.NetConn())
	s.act.SetUser(user)
	s.log = s.log.With("user", user)
	s.log.Info("logged in")
	return nil
}

// Unauthenticate returns to the not-authenticated state (RFC 8437).
func (s *session) Unauthenticate() error {
	s.unselect()
	s.logout()
	return nil
}

func (s *session) logout() {
	if s.user == "" {
		return
	}
	s.srv.releaseUser(s.user, s.ip)
	s.act.SetUser("")
	s.log.Info("logged out")
	s.user, s.acct, s.saved = "", nil, nil
}

// Namespace answers NAMESPACE: one personal namespace, "/" delimited.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}, nil
}

// AppendLimit is advertised as APPENDLIMIT and enforced by go-imap.
func (s *session) AppendLimit() uint32 {
	return uint32(min(s.srv.cfg.MaxMessageBytes, math.MaxUint32))
}

// Poll writes the updates queued for this session (after every command).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.sel.poll(w, allowExpunge)
}

// keepaliveWriteTimeout bounds writing one keepalive; a peer that does not
// take 20 bytes in this time is dead.
const keepaliveWriteTimeout = 30 * time.Second

// Idle writes updates as they happen and "* OK Still here" every
// IdleKeepalive until the client sends DONE. A keepalive that cannot be
// written closes the connection, which ends the library's read of DONE.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.act.Begin("IDLE")
	defer s.act.End()
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	var wake chan struct{}
	if sel := s.sel; sel != nil {
		wake = sel.wake
		sel.mbox.mu.Lock()
		sel.mbox.idlers[sel] = struct{}{}
		sel.mbox.mu.Unlock()
		defer func() {
			sel.mbox.mu.Lock()
			delete(sel.mbox.idlers, sel)
			sel.mbox.mu.Unlock()
		}()
		if err := sel.poll(w, true); err != nil {
			return err
		}
	}
	tick := time.NewTicker(s.srv.cfg.IdleKeepalive)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-wake:
			if err := s.sel.poll(w, true); err != nil {
				return err
			}
		case <-tick.C:
			if err := s.keepalive(); err != nil {
				s.log.Info("idle keepalive failed, closing", "err", err)
				_ = s.conn.NetConn().Close()
				return err
			}
		}
	}
}

// keepalive writes an untagged OK straight to the connection. It is only
// called from Idle, when no other response is being written: go-imap
// flushes each response as it ends, and the command goroutine only reads.
func (s *session) keepalive() error {
	nc := s.conn.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(keepaliveWriteTimeout)); err != nil {
		return err
	}
	_, err := nc.Write([]byte("* OK Still here\r\n"))
	if derr := nc.SetWriteDeadline(time.Time{}); err == nil {
		err = derr
	}
	return err
}
