package connguard

import (
	"net"
	"time"
)

// refuseWriteTimeout bounds the refusal line written to a connection.
const refuseWriteTimeout = time.Second

// RefusalText is the text of the refusal for reason, for a front end to
// put in its protocol's reply.
func RefusalText(reason Reason) string {
	switch reason {
	case PerIP:
		return "Too many connections from your address, try again later"
	case PerNetwork:
		return "Too many connections from your network, try again later"
	}
	return "Too many connections, try again later"
}

// Refusal returns the line (CRLF included) that answers a connection
// refused for reason, or nil to close it without a word (implicit TLS).
type Refusal func(reason Reason) []byte

// Listener returns ln with the Guard's limits: Accept hands out *Conn,
// and answers (with refusal's line) and closes the connections over a
// limit itself.
func (g *Guard) Listener(ln net.Listener, refusal Refusal) net.Listener {
	return &listener{Listener: ln, g: g, refusal: refusal}
}

// TLSPendingListener is Listener for an implicit-TLS port: a refused
// connection is closed without a word, and the bytes of the handshake
// are not counted as input before login until HandshakeDone (TLSListener
// calls it; a front end that runs the handshake itself must).
func (g *Guard) TLSPendingListener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, g: g, tlsPending: true}
}

type listener struct {
	net.Listener
	g          *Guard
	refusal    Refusal
	tlsPending bool
}

// Accept returns the next connection within the limits.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src, network, keyed, reason := l.g.admit(nc.RemoteAddr())
		if reason == "" {
			c := newConn(l.g, nc, src, network, keyed)
			c.tlsPending = l.tlsPending
			return c, nil
		}
		l.g.noteRefusal(nc.RemoteAddr(), src, network, reason)
		l.refuse(nc, reason)
	}
}

// refuse answers nc (plain listeners) and closes it. The line is small
// enough for the socket buffer, so the write does not wait for the
// client; the deadline is there in case it would.
func (l *listener) refuse(nc net.Conn, reason Reason) {
	if l.refusal != nil {
		if line := l.refusal(reason); line != nil {
			nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
			nc.Write(line)
		}
	}
	nc.Close()
}
