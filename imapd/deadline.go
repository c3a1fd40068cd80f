package imapd

import (
	"net"
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
