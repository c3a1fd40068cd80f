package connguard

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Conn is one admitted connection. Until LoggedIn it counts toward its
// source's and network's limits and its deadlines are shortened (see the
// package documentation); Close gives its places back.
type Conn struct {
	net.Conn
	g            *Guard
	src, network netip.Prefix
	keyed        bool

	closeOnce sync.Once

	mu       sync.Mutex
	loggedIn bool
	lifeEnd  time.Time // LoginLifetime's end; zero when NoLogin
	hsEnd    time.Time // end of the TLS handshake under way, or zero
	wantR    time.Time // read deadline the layer above asked for
	wantW    time.Time // write deadline the layer above asked for
	// tlsPending: an implicit-TLS connection whose handshake has not
	// finished; its bytes are not counted as input.
	tlsPending bool
	inBytes    int  // input counted against the stretch's bound
	afterTLS   bool // a handshake finished: LoginInputBytesTLS applies
	overInput  bool // LoginInputBytes was exceeded (logged once)
}

// LoginInputBytes and LoginInputBytesTLS are how much a connection may
// send before login in one stretch: LoginInputBytes from accept on a
// plain port to its STARTTLS handshake (the TLS ClientHello, up to about
// 3 KiB, is read before the handshake's bound starts, so it counts),
// LoginInputBytesTLS from the end of a TLS handshake to the login. A
// real client needs a few hundred bytes (CAPABILITY, STARTTLS, ID, LOGIN
// or AUTHENTICATE). They bound what an unauthenticated client can make
// the protocol code parse: a 50 KiB IMAP command of nested search keys
// makes go-imap's parser recurse 12,000 levels deep (about 40 MB of
// stack) before Postern can refuse it; 4 KiB keeps that to about 4 MB.
// Past the bound the connection is closed. Not applied where nobody logs
// in (port 25).
const (
	LoginInputBytes    = 8 << 10
	LoginInputBytesTLS = 4 << 10
)

// ErrLoginInput is the read error of a connection that sent more than
// LoginInputBytes before login; the connection is closed.
var ErrLoginInput = errors.New("connguard: too much input before login, connection closed")

func newConn(g *Guard, nc net.Conn, src, network netip.Prefix, keyed bool) *Conn {
	c := &Conn{Conn: nc, g: g, src: src, network: network, keyed: keyed}
	if !g.opts.NoLogin {
		c.lifeEnd = time.Now().Add(g.opts.Limits.LoginLifetime)
	}
	c.mu.Lock()
	c.applyLocked()
	c.mu.Unlock()
	return c
}

// earliest returns the earlier of a and b, zero meaning "none".
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

// readCapLocked is the latest read deadline allowed now, or zero.
func (c *Conn) readCapLocked() time.Time {
	var cap time.Time
	if !c.loggedIn && !c.g.opts.NoLogin {
		cap = earliest(c.lifeEnd, time.Now().Add(c.g.opts.Limits.LoginCommandTimeout))
	}
	return earliest(cap, c.hsEnd)
}

// writeCapLocked is the latest write deadline allowed now, or zero.
func (c *Conn) writeCapLocked() time.Time {
	var cap time.Time
	if !c.loggedIn {
		cap = c.lifeEnd
	}
	return earliest(cap, c.hsEnd)
}

// applyLocked sets the socket's deadlines from what was asked and the
// caps.
func (c *Conn) applyLocked() {
	c.Conn.SetReadDeadline(earliest(c.wantR, c.readCapLocked()))
	c.Conn.SetWriteDeadline(earliest(c.wantW, c.writeCapLocked()))
}

// Read reads, counting the input before login against LoginInputBytes:
// a read never goes past it, and the read after it fails with
// ErrLoginInput and closes the connection.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	counted := !c.loggedIn && !c.g.opts.NoLogin && !c.tlsPending && c.hsEnd.IsZero()
	limit := LoginInputBytes
	if c.afterTLS {
		limit = LoginInputBytesTLS
	}
	left := limit - c.inBytes
	c.mu.Unlock()
	if !counted {
		return c.Conn.Read(p)
	}
	if left <= 0 {
		c.mu.Lock()
		first := !c.overInput
		c.overInput = true
		c.mu.Unlock()
		if first {
			c.g.noteOverInput(c)
		}
		c.Conn.Close()
		return 0, ErrLoginInput
	}
	if len(p) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.inBytes += n
	c.mu.Unlock()
	return n, err
}

// SetReadDeadline sets t, shortened before login. It also ends a
// STARTTLS handshake's bound (and starts a new stretch of input): the
// protocol code sets its next read deadline only once the handshake is
// over.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hsEnd.IsZero() {
		c.hsEnd = time.Time{}
		c.inBytes = 0
		c.afterTLS = true
	}
	c.wantR = t
	return c.Conn.SetReadDeadline(earliest(t, c.readCapLocked()))
}

// SetWriteDeadline sets t, shortened before login and during a TLS
// handshake.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wantW = t
	return c.Conn.SetWriteDeadline(earliest(t, c.writeCapLocked()))
}

// SetDeadline sets both deadlines as SetReadDeadline and
// SetWriteDeadline do.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// handshakeDone ends an implicit-TLS connection's handshake: its input
// is counted from now on.
func (c *Conn) handshakeDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tlsPending = false
	c.inBytes = 0
	c.afterTLS = true
}

// handshakeStarted bounds the reads and writes of the TLS handshake that
// is starting by TLSHandshakeTimeout.
func (c *Conn) handshakeStarted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hsEnd = time.Now().Add(c.g.opts.Limits.TLSHandshakeTimeout)
	c.applyLocked()
}

// loggedInNow marks the connection as logged in: it leaves the per-IP
// and per-network counts and its deadlines are no longer shortened.
func (c *Conn) loggedInNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loggedIn {
		return
	}
	c.loggedIn = true
	if c.keyed && !c.g.opts.NoLogin {
		c.g.leavePreLogin(c.src, c.network)
	}
	c.applyLocked()
}

// Close closes the connection once and gives back its places.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.mu.Lock()
		pre := !c.loggedIn || c.g.opts.NoLogin
		c.loggedIn = true // no second leavePreLogin
		c.mu.Unlock()
		if pre && c.keyed {
			c.g.leavePreLogin(c.src, c.network)
		}
		c.g.leave()
	})
	return err
}

// NetConn returns the connection below.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// Of returns the *Conn under nc, looking through wrappers that have a
// NetConn method (*tls.Conn, front ends' own types), or nil.
func Of(nc net.Conn) *Conn {
	for i := 0; i < 8 && nc != nil; i++ {
		if c, ok := nc.(*Conn); ok {
			return c
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = u.NetConn()
	}
	return nil
}

// HandshakeDone tells the Guard that the implicit-TLS handshake of the
// connection under nc (accepted through TLSPendingListener) succeeded,
// for front ends that run the handshake themselves. TLSListener calls it.
func HandshakeDone(nc net.Conn) {
	if c := Of(nc); c != nil {
		c.handshakeDone()
	}
}

// LoggedIn tells the Guard that the connection under nc has logged in
// (see Conn). It does nothing if nc has no *Conn under it.
func LoggedIn(nc net.Conn) {
	if c := Of(nc); c != nil {
		c.loggedInNow()
	}
}
