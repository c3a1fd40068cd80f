package imapd

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// go-imap's imapserver hard-codes its read deadlines (30 s for a command
// line, 5 min for an APPEND literal, 35 min between commands and in IDLE;
// imapserver/conn.go). deadlineConn sits under TLS and maps them onto
// Config so the tunables apply: a deadline of 20 minutes or more is the
// wait for the next command and becomes IdleTimeout; one of 2 minutes or
// more is a literal and becomes CommandTimeout; a shorter one is a command
// line and is capped at CommandTimeout.
type deadlineConn struct {
	net.Conn
	cfg *Config

	mu       sync.Mutex // guards batching and buf
	batching bool
	buf      []byte
}

// libraryIdleWait and libraryLiteralWait separate go-imap's three read
// timeouts (35 min, 5 min, 30 s).
const (
	libraryIdleWait    = 20 * time.Minute
	libraryLiteralWait = 2 * time.Minute
)

// SetReadDeadline applies the configured timeout that corresponds to the
// library's.
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.mapDeadline(t))
}

// SetDeadline applies the mapped read deadline and t as write deadline.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(c.mapDeadline(t)); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) mapDeadline(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	now := time.Now()
	d := t.Sub(now)
	switch {
	case d >= libraryIdleWait:
		d = c.cfg.IdleTimeout
	case d >= libraryLiteralWait:
		d = c.cfg.CommandTimeout
	default:
		d = min(d, c.cfg.CommandTimeout)
	}
	return now.Add(d)
}

// SetWriteDeadline is skipped while a batch is open: writes then only
// fill the buffer, and flushLocked sets its own deadline. go-imap sets
// one before every response, which cost a timer update per message of a
// large FETCH (9% of a 100,000-message UID FETCH's CPU).
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	batching := c.batching
	c.mu.Unlock()
	if batching {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// NetConn returns the connection below (the Guard's), so that
// connguard.LoggedIn finds it.
func (c *deadlineConn) NetConn() net.Conn { return c.Conn }

// deadlineListener wraps every accepted connection in a deadlineConn.
type deadlineListener struct {
	net.Listener
	cfg *Config
}

// Accept returns the next connection, wrapped.
func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, cfg: l.cfg}, nil
}

// batchFlushSize is how much a batch buffers before writing.
const batchFlushSize = 64 << 10

// Write sends p, or buffers it while a batch is open. go-imap flushes
// after every response, so a FETCH of 10,000 messages would otherwise be
// 10,000 TLS records and write system calls.
func (c *deadlineConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= batchFlushSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// startBatch buffers writes until endBatch. Only the command goroutine
// uses it, around responses it writes itself (FETCH, STORE).
func (c *deadlineConn) startBatch() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// endBatch writes what was buffered and returns to direct writes.
func (c *deadlineConn) endBatch() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	return c.flushLocked()
}

// flushLocked writes the buffer under its own deadline (go-imap's
// per-response write deadline may be gone by now).
func (c *deadlineConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.cfg.CommandTimeout)); err != nil {
		return err
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > 4*batchFlushSize {
		c.buf = nil
	}
	if derr := c.Conn.SetWriteDeadline(time.Time{}); err == nil {
		err = derr
	}
	return err
}

// batchConn returns the deadlineConn under a session's connection (under
// TLS when there is TLS), or nil.
func batchConn(nc net.Conn) *deadlineConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	dc, _ := nc.(*deadlineConn)
	return dc
}

// batched runs fn with the session's responses buffered, and writes them
// at the end.
func (s *session) batched(fn func() error) error {
	dc := batchConn(s.conn.NetConn())
	if dc == nil {
		return fn()
	}
	dc.startBatch()
	err := fn()
	if ferr := dc.endBatch(); err == nil {
		err = ferr
	}
	return err
}
