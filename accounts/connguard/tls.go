package connguard

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// TLSConfig returns a copy of base whose handshakes are bounded by
// TLSHandshakeTimeout on connections the Guard admitted: the bound
// starts when the ClientHello arrives (the wait for it is a read the
// protocol code bounded already) and ends with the next read deadline
// the protocol code sets. Use it for STARTTLS and STLS; nil stays nil.
func (g *Guard) TLSConfig(base *tls.Config) *tls.Config {
	if base == nil {
		return nil
	}
	cfg := base.Clone()
	inner := base.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if c := Of(hello.Conn); c != nil {
			c.handshakeStarted()
		}
		if inner != nil {
			return inner(hello)
		}
		return nil, nil
	}
	return cfg
}

// TLSListener returns a listener for implicit TLS over ln (whose
// connections are the Guard's, possibly wrapped): it performs each
// server handshake in its own goroutine, bounded by TLSHandshakeTimeout,
// and Accept returns only connections whose handshake succeeded, as
// *tls.Conn. A stalled handshake so never reaches the protocol code or
// its limits; it holds only its place in the Guard's counts, for at most
// the timeout.
func (g *Guard) TLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return &tlsListener{Listener: ln, g: g, cfg: cfg, ready: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{})}
}

type tlsListener struct {
	net.Listener
	g   *Guard
	cfg *tls.Config

	start     sync.Once
	ready     chan net.Conn
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	failed    chan struct{} // closed when the accept loop ends
	err       error         // why it ended; set before failed is closed
}

// acceptRetryMax is the longest pause after a temporary Accept error.
const acceptRetryMax = time.Second

// Accept returns the next connection whose handshake is complete.
func (l *tlsListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.failed:
		return nil, l.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener; handshakes under way are abandoned.
func (l *tlsListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *tlsListener) acceptLoop() {
	pause := 5 * time.Millisecond
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				select {
				case <-l.done:
				case <-time.After(pause):
					pause = min(pause*2, acceptRetryMax)
					continue
				}
			}
			l.err = err
			close(l.failed)
			return
		}
		pause = 5 * time.Millisecond
		go l.handshake(nc)
	}
}

// isTemporary reports the accept errors worth retrying (out of file
// descriptors and the like).
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (l *tlsListener) handshake(nc net.Conn) {
	tc := tls.Server(nc, l.cfg)
	nc.SetDeadline(time.Now().Add(l.g.opts.Limits.TLSHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		l.g.tlsFail.Add(1)
		l.g.log.Info("tls handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	HandshakeDone(nc)
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}
