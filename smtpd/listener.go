package smtpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// refuseWriteTimeout bounds the 421 written to a connection over a cap.
const refuseWriteTimeout = time.Second

// listener wraps a net.Listener: it enforces the connection caps before
// go-smtp sees a connection, and wraps every accepted connection in a
// trackedConn that carries the connection's session.
type listener struct {
	net.Listener
	srv *Server
	// implicitTLS: the connections will be TLS from the first byte, so a
	// refusal cannot be written in plain text; they are just closed.
	implicitTLS bool
}

// Accept returns the next connection within the caps. Connections over a
// cap are answered 421 4.7.0 (plain listeners) and closed here; go-smtp
// never sees them.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, ok := l.srv.conns.admit(l.srv, nc, l.implicitTLS)
		if ok {
			return tc, nil
		}
		l.refuse(nc)
	}
}

func (l *listener) refuse(nc net.Conn) {
	l.srv.log.Warn("connection refused: too many connections", "remote", nc.RemoteAddr().String(),
		"proto", l.srv.proto)
	if !l.implicitTLS {
		nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		fmt.Fprintf(nc, "%d %d.%d.%d %s %s\r\n", replyTooManyConns.Code, replyTooManyConns.EnhancedCode[0],
			replyTooManyConns.EnhancedCode[1], replyTooManyConns.EnhancedCode[2], l.srv.hostname, replyTooManyConns.Message)
	}
	nc.Close()
}

// connTable counts and tracks the live connections of one Server.
type connTable struct {
	mu       sync.Mutex
	all      map[*trackedConn]struct{}
	perIP    map[netip.Prefix]int
	draining bool // set by Server.Shutdown
}

// sourceKey is what the per-address cap counts: the IPv4 address, or the
// /64 of an IPv6 address (one host usually owns a whole /64).
func sourceKey(addr net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// admit registers nc if both caps allow it.
func (t *connTable) admit(srv *Server, nc net.Conn, implicitTLS bool) (*trackedConn, bool) {
	key := sourceKey(nc.RemoteAddr())
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.all) >= srv.cfg.MaxConnections || t.perIP[key] >= srv.cfg.MaxConnectionsPerIP {
		return nil, false
	}
	tc := &trackedConn{Conn: nc, table: t, key: key, draining: t.draining}
	tc.sess = newSession(srv, tc, implicitTLS)
	t.all[tc] = struct{}{}
	t.perIP[key]++
	return tc, true
}

func (t *connTable) remove(tc *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.all[tc]; !ok {
		return
	}
	delete(t.all, tc)
	if t.perIP[tc.key]--; t.perIP[tc.key] <= 0 {
		delete(t.perIP, tc.key)
	}
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
	key   netip.Prefix
	sess  *session

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

// trackedOf returns the trackedConn under nc (which may be a *tls.Conn).
func trackedOf(nc net.Conn) *trackedConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	t, _ := nc.(*trackedConn)
	return t
}
