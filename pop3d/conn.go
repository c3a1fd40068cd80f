package pop3d

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"postern/accounts"
	"postern/accounts/connguard"
)

// state is a POP3 session state (RFC 1939 §3). UPDATE is not a state of
// its own here: it is the body of QUIT in TRANSACTION.
type state uint8

const (
	stateAuthorization state = iota
	stateTransaction
)

func (s state) String() string {
	if s == stateTransaction {
		return "TRANSACTION"
	}
	return "AUTHORIZATION"
}

// conn is one POP3 connection: its socket, buffers, state and maildrop.
// Only the goroutine running serve touches it, except interrupt and the
// atomic act.
type conn struct {
	s      *Server
	raw    net.Conn // the accepted socket; never replaced
	nc     net.Conn // raw, or the TLS connection over it
	r      *bufio.Reader
	w      *bufio.Writer
	id     string
	remote string
	tls    bool
	log    *slog.Logger
	start  time.Time

	state    state
	userArg  string    // name given by USER, waiting for PASS
	user     string    // authenticated user, once logged in
	drop     *maildrop // the snapshot, in TRANSACTION
	errCount int
	quit     bool   // end the loop after this command
	copyBuf  []byte // RETR's copy buffer, reused for every message

	// act mirrors user and the command running (until its reply is
	// written) for other goroutines (Server.BusySessions), without a lock.
	act accounts.Activity
}

// newConn prepares a connection; implicitTLS wraps it in a TLS server
// whose handshake serve runs first.
func newConn(s *Server, raw net.Conn, implicitTLS bool) *conn {
	nc := raw
	if implicitTLS {
		nc = tls.Server(raw, s.opts.TLSConfig)
	}
	var b [4]byte
	rand.Read(b[:])
	c := &conn{
		s:      s,
		raw:    raw,
		nc:     nc,
		id:     hex.EncodeToString(b[:]),
		remote: raw.RemoteAddr().String(),
		tls:    implicitTLS,
		start:  time.Now(),
	}
	c.r = bufio.NewReaderSize(nc, readBufferSize)
	c.w = bufio.NewWriterSize(deadlineWriter{nc}, writeBufferSize)
	c.setLogger()
	return c
}

// setLogger rebuilds the session logger after TLS or user changed.
func (c *conn) setLogger() {
	attrs := []any{"session", c.id, "proto", "pop3", "remote", c.remote, "tls", c.tls}
	if c.user != "" {
		attrs = append(attrs, "user", c.user)
	}
	c.log = c.s.log.With(attrs...)
}

// refuse answers a connection that arrived during Shutdown and closes it.
func (c *conn) refuse() {
	c.nc.SetDeadline(time.Now().Add(refuseTimeout))
	if !c.tls { // a TLS client would not understand plain text
		c.w.WriteString("-ERR [SYS/TEMP] Server shutting down\r\n")
		c.w.Flush()
	}
	c.nc.Close()
	c.log.Info("connection refused: shutting down")
}

// interrupt wakes a session blocked reading its next command so that it
// notices the shutdown. Safe to call from any goroutine.
func (c *conn) interrupt() {
	c.raw.SetReadDeadline(time.Now())
}

// serve runs the session: greeting, command loop, cleanup.
func (c *conn) serve() {
	defer c.close()
	c.log.Debug("connected")
	if c.tls {
		if err := c.handshake(c.nc.(*tls.Conn)); err != nil {
			c.log.Info("TLS handshake failed", "err", err)
			return
		}
		// Input before login is counted from here (connguard).
		connguard.HandshakeDone(c.raw)
	}
	host := c.s.opts.Hostname
	if host == "" {
		host = "localhost"
	}
	c.reply(host + " Postern POP3 server ready")
	for !c.quit {
		line, err := c.readCommand()
		switch {
		case errors.Is(err, errLineTooLong):
			c.fail(err)
		case err != nil:
			c.endOnReadError(err)
			return
		default:
			c.dispatch(line)
		}
		if c.errCount >= c.s.cfg.MaxErrors && !c.quit {
			c.replyErr("", "Too many errors, closing connection")
			c.log.Info("closing after too many errors", "errors", c.errCount)
			return
		}
	}
}

// readCommand flushes pending work and output when the client has nothing
// pipelined, then reads one command line under the state's deadline.
func (c *conn) readCommand() ([]byte, error) {
	if c.r.Buffered() == 0 {
		c.flushSeen()
		if err := c.w.Flush(); err != nil {
			return nil, err
		}
	}
	c.act.End() // the reply is written (or buffered behind pipelined commands)
	timeout := c.s.cfg.LoginCommandTimeout
	if c.state == stateTransaction {
		timeout = c.s.cfg.IdleTimeout
	}
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	if c.s.closing.Load() {
		return nil, errShutdown
	}
	return c.readLine(maxCommandLine)
}

// readLine reads one line of at most limit octets including its line end
// and returns it without the CRLF (a bare LF is accepted too). A longer
// line is consumed and reported as errLineTooLong.
func (c *conn) readLine(limit int) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		if err := c.drainLine(); err != nil {
			return nil, err
		}
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	if len(line) > limit {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// maxDrain bounds how much of an over-long line is read and thrown away
// before the connection is given up.
const maxDrain = 64 << 10

// drainLine discards the rest of an over-long line.
func (c *conn) drainLine() error {
	for n := 0; n < maxDrain; {
		chunk, err := c.r.ReadSlice('\n')
		n += len(chunk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
	return errGarbage
}

// endOnReadError says goodbye when a read failed for a reason the client
// should hear about (timeout, shutdown) and logs the end.
func (c *conn) endOnReadError(err error) {
	switch {
	case errors.Is(err, errShutdown) || (c.s.closing.Load() && errors.Is(err, os.ErrDeadlineExceeded)):
		c.replyErr("SYS/TEMP", "Server shutting down, try again later")
		c.log.Info("session ended by shutdown")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.replyErr("", "Disconnected for inactivity")
		c.log.Info("session timed out", "state", c.state.String())
	case errors.Is(err, errGarbage):
		c.replyErr("", "Line too long, closing connection")
		c.log.Info("closing after an endless line")
	case errors.Is(err, io.EOF):
		c.log.Debug("client closed the connection", "state", c.state.String())
	default:
		c.log.Info("read failed", "err", err)
	}
	c.w.Flush()
}

// handshake runs a server TLS handshake under tls_handshake_timeout.
func (c *conn) handshake(tc *tls.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.TLSHandshakeTimeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

// close ends the session: applies pending \Seen flags, releases the
// maildrop lock (deletions are applied only by QUIT) and closes the socket.
func (c *conn) close() {
	c.act.Begin("closing")
	c.flushSeen()
	c.w.Flush()
	if c.user != "" {
		c.s.unlockUser(c.user, c)
	}
	c.nc.Close()
	c.log.Debug("disconnected", "seconds", time.Since(c.start).Seconds())
}

// deadlineWriter sets a fresh write deadline before every write, so each
// flush of the buffer gets writeTimeout.
type deadlineWriter struct{ nc net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return d.nc.Write(p)
}
