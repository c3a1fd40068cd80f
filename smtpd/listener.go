package smtpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"postern/accounts/connguard"
)

// listener wraps the Server's guarded listener: it wraps every accepted
// connection in a trackedConn that carries the connection's session.
// The connection limits are the Guard's (connguard), applied below it.
type listener struct {
	net.Listener
	srv *Server
	// implicitTLS: the connections will be TLS from the first byte.
	implicitTLS bool
}

// Accept returns the next connection the Guard admitted, tracked. On
// port 25 it also applies the connection rate and starts the
// connection's other defences (ratelimit_server.go, ratelimit_conn.go).
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		d := l.srv.defences
		if d != nil && !d.admit(nc) {
			continue
		}
		tc := l.srv.conns.add(l.srv, nc, l.implicitTLS)
		if d != nil && !l.implicitTLS {
			tc.def = d.newConnDefence(tc)
		}
		return tc, nil
	}
}

// refusal is the line that answers a connection over a limit of the
// Guard on a plain listener.
func (s *Server) refusal(reason connguard.Reason) []byte {
	r := replyTooManyConns
	return fmt.Appendf(nil, "%d %d.%d.%d %s %s\r\n", r.Code, r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2], s.hostname,
		connguard.RefusalText(reason))
}

// connTable tracks the live connections of one Server (for Shutdown and
// the busy-session report).
type connTable struct {
	mu       sync.Mutex
	all      map[*trackedConn]struct{}
	draining bool // set by Server.Shutdown
}

// add registers nc.
func (t *connTable) add(srv *Server, nc net.Conn, implicitTLS bool) *trackedConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc := &trackedConn{Conn: nc, table: t, draining: t.draining}
	tc.sess = newSession(srv, tc, implicitTLS)
	t.all[tc] = struct{}{}
	return tc
}

func (t *connTable) remove(tc *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.all, tc)
}

// drain marks every connection (and every later one) as draining and
// interrupts those waiting for a command.
func (t *connTable) drain() {
	for _, tc := range t.snapshot(true) {
		tc.startDraining()
	}
}

// closeAll closes every connection (Shutdown's deadline passed).
func (t *connTable) closeAll() {
	for _, tc := range t.snapshot(false) {
		tc.Close()
	}
}

// snapshot returns the live connections, first marking the table as
// draining if drain is set (so connections admitted later drain too).
func (t *connTable) snapshot(drain bool) []*trackedConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if drain {
		t.draining = true
	}
	conns := make([]*trackedConn, 0, len(t.all))
	for tc := range t.all {
		conns = append(conns, tc)
	}
	return conns
}

// trackedConn is one client connection below go-smtp (and below TLS). It
// knows whether a message is being received, so that Shutdown can end
// idle connections at once and let a DATA in progress finish: while
// draining and not busy, every read deadline go-smtp sets is replaced by
// one in the past, so its next command read fails and it answers 421.
type trackedConn struct {
	net.Conn
	table *connTable
	sess  *session
	// def holds the port 25 defences of the connection (nil on
	// submission), which watch its writes (ratelimit_conn.go).
	def *connDefence

	closeOnce sync.Once

	// readTimedOut is set when a read hit its deadline (a client silent
	// in the middle of a BDAT chunk shows up only here).
	readTimedOut atomic.Bool

	mu       sync.Mutex
	busy     bool // receiving message data
	draining bool
}

// Read reads from the connection, noting deadline expiries.
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.readTimedOut.Store(true)
	}
	return n, err
}

// Write writes p, through the port 25 defences when the connection has
// them.
func (c *trackedConn) Write(p []byte) (int, error) {
	if c.def != nil {
		return c.def.write(p)
	}
	return c.Conn.Write(p)
}

// past is a deadline that has already expired.
var past = time.Unix(1, 0)

// SetReadDeadline applies t, unless the connection is draining and idle.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining && !c.busy {
		t = past
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline applies t to writes, and to reads as SetReadDeadline does.
func (c *trackedConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// setBusy marks the start (true) or end (false) of message data. At the
// end, a draining connection is interrupted.
func (c *trackedConn) setBusy(b bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = b
	if !b && c.draining {
		c.Conn.SetReadDeadline(past)
	}
}

func (c *trackedConn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

func (c *trackedConn) startDraining() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if !c.busy {
		c.Conn.SetReadDeadline(past)
	}
}

// Close closes the connection once and releases its place in the caps.
func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.table.remove(c)
		c.sess.closed()
	})
	return err
}

// NetConn returns the connection below (the Guard's), so that
// connguard.LoggedIn finds it.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

// trackedOf returns the trackedConn under nc (which may be a *tls.Conn).
func trackedOf(nc net.Conn) *trackedConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	t, _ := nc.(*trackedConn)
	return t
}
