package queue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// deliverGroup delivers a message to recipients that share a route: the
// route's servers are tried in order until one gives an answer for the
// transaction. It returns one outcome per recipient.
func (q *Queue) deliverGroup(ctx context.Context, log *slog.Logger, env *Envelope, key string, rcpts []*Recipient) []outcome {
	all := func(o outcome) []outcome {
		out := make([]outcome, len(rcpts))
		for i := range out {
			out[i] = o
		}
		return out
	}
	if key == localKey {
		return q.deliverLocal(ctx, log, env, rcpts)
	}
	targets, err := q.targets(ctx, key)
	if err != nil {
		var re *routeError
		if errors.As(err, &re) {
			log.Warn("no route", "route", printableKey(key), "err", re.msg, "permanent", re.perm)
			return all(outcome{perm: re.perm, status: re.status, text: re.msg})
		}
		return all(outcome{status: "4.4.3", text: err.Error()})
	}
	last := outcome{status: "4.4.1", text: "no server could be reached"}
	for _, t := range targets {
		res, err := q.deliverTo(ctx, log, t, env, rcpts)
		if err == nil {
			return res
		}
		var he *hostError
		if errors.As(err, &he) && he.perm {
			return all(outcome{perm: true, status: he.status, text: he.text, remote: t.host})
		}
		log.Warn("server failed, trying next", "route", printableKey(key), "host", t.host, "err", err)
		last = outcome{status: "4.4.1", text: err.Error(), remote: t.host}
		if errors.As(err, &he) {
			last.status, last.text = he.status, he.text
		}
		if ctx.Err() != nil {
			break
		}
	}
	return all(last)
}

func printableKey(key string) string {
	switch key {
	case smarthostKey:
		return "smarthost"
	case localKey:
		return "local"
	}
	return key
}

// deliverLocal stores the message for recipients that are local
// accounts. A failure (say, a full mailbox) is temporary: it is retried
// like a remote 4xx and bounces at expiry.
func (q *Queue) deliverLocal(ctx context.Context, log *slog.Logger, env *Envelope, rcpts []*Recipient) []outcome {
	out := make([]outcome, len(rcpts))
	for i, r := range rcpts {
		user, ok := q.local.LocalUser(r.Addr)
		if !ok {
			out[i] = outcome{status: "4.3.0", text: "no longer a local address; will route it"}
			continue
		}
		f, err := os.Open(msgPath(q.dir, env.ID))
		if err == nil {
			err = q.local.DeliverLocal(ctx, user, f)
			f.Close()
		}
		if err != nil {
			log.Warn("local delivery failed", "user", user, "err", err)
			out[i] = outcome{status: "4.2.0", text: "local delivery: " + err.Error()}
			continue
		}
		log.Info("delivered locally", "user", user)
		out[i] = outcome{ok: true, status: "2.0.0", text: "delivered to local mailbox"}
	}
	return out
}

// hostError is a failure of one server before any recipient got a final
// answer: the next server is tried, unless perm.
type hostError struct {
	perm   bool
	status string
	text   string
}

func (e *hostError) Error() string { return e.text }

// replyError turns an SMTP reply into a hostError.
func replyError(stage string, err error) *hostError {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &hostError{perm: se.Code >= 500, status: enhanced(se), text: stage + ": " + formatReply(se)}
	}
	return &hostError{status: "4.4.2", text: fmt.Sprintf("%s: %v", stage, err)}
}

// formatReply renders a reply as the server sent it: "550 5.1.1 text".
func formatReply(se *smtp.SMTPError) string {
	c := se.EnhancedCode
	if c != smtp.NoEnhancedCode && c != smtp.EnhancedCodeNotSet && c[0] != 0 {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, c[0], c[1], c[2], se.Message)
	}
	return fmt.Sprintf("%d %s", se.Code, se.Message)
}

// sessionError is replyError for the greeting and EHLO: even a 5xx there
// refuses the session, not the message (RFC 5321 section 3.1: a 554
// greeting means "try another server"), so the next MX is tried and the
// recipient is deferred, not bounced.
func sessionError(stage string, err error) *hostError {
	he := replyError(stage, err)
	he.perm = false
	return he
}

// enhanced returns the reply's enhanced status code, or one derived from
// its class.
func enhanced(se *smtp.SMTPError) string {
	c := se.EnhancedCode
	if c != smtp.NoEnhancedCode && c != smtp.EnhancedCodeNotSet && c[0] != 0 {
		return fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
	}
	if se.Code >= 500 {
		return "5.0.0"
	}
	return "4.0.0"
}

// deliverTo runs one SMTP session with one server. It returns per-recipient
// outcomes once the server answered the transaction, or a *hostError when
// the session failed before that.
func (q *Queue) deliverTo(ctx context.Context, log *slog.Logger, t target, env *Envelope, rcpts []*Recipient) ([]outcome, error) {
	c, conn, tlsInfo, err := q.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	log = log.With("remote", t.addr, "host", t.host, "tls", tlsInfo)
	log.Info("connected")

	if t.smarthost && q.cfg.Smarthost.Username != "" {
		if err := q.auth(c); err != nil {
			he := replyError("AUTH", err)
			he.perm = false // wrong credentials: retry after the operator fixes them
			return nil, he
		}
	}
	if env.UTF8 {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return nil, &hostError{perm: true, status: "5.6.7", text: "the message needs SMTPUTF8 (non-ASCII addresses or header) and " + t.host + " does not support it"}
		}
	}
	if max, ok := c.MaxMessageSize(); ok && max > 0 && env.Size > int64(max) {
		return nil, &hostError{perm: true, status: "5.3.4", text: fmt.Sprintf("message of %d bytes exceeds %s's limit of %d", env.Size, t.host, max)}
	}
	if err := c.Mail(env.From, &smtp.MailOptions{Size: env.Size, UTF8: env.UTF8}); err != nil {
		he := replyError("MAIL FROM", err)
		if t.smarthost {
			// A relay refusing us is our configuration problem
			// (credentials, sender policy), not the recipient's:
			// keep the mail and retry rather than bounce.
			he.perm = false
		}
		return nil, he
	}
	out := make([]outcome, len(rcpts))
	accepted := 0
	for i, r := range rcpts {
		if err := c.Rcpt(r.Addr, nil); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return nil, replyError("RCPT TO", err)
			}
			o := outcome{perm: se.Code >= 500, status: enhanced(se), text: fmt.Sprintf("RCPT TO:<%s>: %s", r.Addr, formatReply(se)), remote: t.host}
			if t.smarthost && strings.HasPrefix(o.status, "5.7.") {
				// A relay's policy refusal (5.7.x: not authenticated,
				// relaying denied) is our configuration, not the
				// recipient: defer instead of bouncing.
				o.perm = false
			}
			out[i] = o
			continue
		}
		out[i] = outcome{ok: true, remote: t.host}
		accepted++
	}
	if accepted == 0 {
		c.Quit()
		return out, nil
	}
	f, err := os.Open(msgPath(q.dir, env.ID))
	if err != nil {
		return nil, &hostError{status: "4.3.0", text: fmt.Sprintf("open queued message: %v", err)}
	}
	defer f.Close()
	w, err := c.Data()
	if err != nil {
		return nil, replyError("DATA", err)
	}
	// go-smtp sets no deadline while the body is written: bound it here
	// (RFC 5321 section 4.5.3.2.5, 3 minutes per data block, is per write;
	// the whole transfer gets the data timeout).
	conn.SetDeadline(time.Now().Add(q.cfg.DataTimeout))
	if _, err := io.Copy(w, f); err != nil {
		return nil, replyError("message data", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			return nil, replyError("end of data", err)
		}
		for i := range out {
			if out[i].ok {
				out[i] = outcome{perm: se.Code >= 500, status: enhanced(se), text: "end of data: " + formatReply(se), remote: t.host}
			}
		}
	} else {
		for i := range out {
			if out[i].ok {
				out[i].status = "2.0.0"
				out[i].text = "250 " + resp.StatusText
			}
		}
		log.Info("delivered", "rcpts", accepted, "reply", resp.StatusText)
	}
	c.Quit()
	return out, nil
}

// auth authenticates to the smarthost with PLAIN, or LOGIN when that is
// all it offers.
func (q *Queue) auth(c *smtp.Client) error {
	sh := q.cfg.Smarthost
	if ok, _ := c.Extension("AUTH"); !ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "smarthost does not offer AUTH"}
	}
	if !c.SupportsAuth("PLAIN") && c.SupportsAuth("LOGIN") {
		return c.Auth(sasl.NewLoginClient(sh.Username, sh.Password))
	}
	return c.Auth(sasl.NewPlainClient("", sh.Username, sh.Password))
}

// connect dials a target and returns a client that has sent EHLO with the
// configured hostname, over TLS whenever the server offers it, and a
// description of the TLS state for the log. Opportunistic STARTTLS that
// fails is retried in plaintext on a new connection unless policy
// requires TLS.
func (q *Queue) connect(ctx context.Context, t target) (*smtp.Client, net.Conn, string, error) {
	requireTLS := t.smarthost || q.cfg.RequireTLS
	conn, err := q.dial(ctx, t)
	if err != nil {
		return nil, nil, "", &hostError{status: "4.4.1", text: fmt.Sprintf("connect to %s: %v", t.addr, err)}
	}
	cfg, verified := q.tlsConfig(t)
	var c *smtp.Client
	var cc net.Conn // what c talks over, for deadlines
	info := "none"
	if t.implicitTLS {
		tc := tls.Client(conn, cfg)
		if err := q.handshake(ctx, tc); err != nil {
			conn.Close()
			return nil, nil, "", &hostError{status: "4.7.5", text: fmt.Sprintf("TLS with %s: %v", t.addr, err)}
		}
		cc = tc
		info = tlsDescription(tc, *verified)
	} else {
		sc, greeting, tlsOK, err := q.startTLS(ctx, conn, cfg)
		switch {
		case err != nil:
			conn.Close()
			return nil, nil, "", err
		case tlsOK:
			cc = withGreeting(sc, greeting)
			info = tlsDescription(sc.(*tls.Conn), *verified)
		case requireTLS:
			conn.Close()
			return nil, nil, "", &hostError{status: "4.7.5", text: fmt.Sprintf("%s offers no usable STARTTLS and TLS is required", t.addr)}
		case sc != nil:
			cc = withGreeting(sc, greeting) // STARTTLS not offered: same connection
		default:
			// STARTTLS offered but failed: a new plaintext connection.
			conn.Close()
			conn2, err := q.dial(ctx, t)
			if err != nil {
				return nil, nil, "", &hostError{status: "4.4.1", text: fmt.Sprintf("connect to %s: %v", t.addr, err)}
			}
			cc = conn2
			info = "failed, plaintext"
		}
	}
	c = smtp.NewClient(cc)
	c.CommandTimeout = q.cfg.CommandTimeout
	c.SubmissionTimeout = q.cfg.DataTimeout
	if err := c.Hello(q.cfg.Hostname); err != nil {
		c.Close()
		return nil, nil, "", sessionError("EHLO", err)
	}
	return c, cc, info, nil
}

// tlsConfig returns the TLS configuration for a target. MX certificates
// are checked but not enforced (opportunistic TLS, RFC 7435); *verified
// tells the result. Smarthost certificates must verify.
func (q *Queue) tlsConfig(t target) (*tls.Config, *bool) {
	verified := new(bool)
	cfg := &tls.Config{ServerName: t.host, MinVersion: tls.VersionTLS12}
	var roots *x509.CertPool
	if t.smarthost && q.cfg.Smarthost.CAFile != "" {
		if pem, err := os.ReadFile(q.cfg.Smarthost.CAFile); err == nil {
			roots = x509.NewCertPool()
			roots.AppendCertsFromPEM(pem)
		}
	}
	if t.smarthost {
		cfg.RootCAs = roots
		cfg.VerifyConnection = func(tls.ConnectionState) error { *verified = true; return nil }
		return cfg, verified
	}
	cfg.InsecureSkipVerify = true
	cfg.MinVersion = tls.VersionTLS10
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		*verified = err == nil
		return nil
	}
	return cfg, verified
}

func (q *Queue) handshake(ctx context.Context, tc *tls.Conn) error {
	tc.SetDeadline(time.Now().Add(q.cfg.CommandTimeout))
	defer tc.SetDeadline(time.Time{})
	return tc.HandshakeContext(ctx)
}

func tlsDescription(tc *tls.Conn, verified bool) string {
	cs := tc.ConnectionState()
	v := "unverified"
	if verified {
		v = "verified"
	}
	return fmt.Sprintf("%s %s %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), v)
}

// startTLS reads the greeting, sends EHLO with our hostname, and upgrades
// to TLS when STARTTLS is offered. go-smtp's client has no public
// STARTTLS and would send "EHLO localhost" first (libraries.md 2.6).
// Results: (tls conn, greeting, true, nil) after a handshake;
// (plain conn, greeting, false, nil) when STARTTLS is not offered;
// (nil, "", false, nil) when STARTTLS failed and the connection is spent;
// or a *hostError.
func (q *Queue) startTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (net.Conn, string, bool, error) {
	conn.SetDeadline(time.Now().Add(q.cfg.CommandTimeout))
	defer conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	tp := textproto.NewConn(nopCloser{conn})
	_, greeting, err := tp.ReadResponse(220)
	if err != nil {
		return nil, "", false, sessionError("greeting", textprotoErr(err))
	}
	if err := tp.PrintfLine("EHLO %s", q.cfg.Hostname); err != nil {
		return nil, "", false, sessionError("EHLO", err)
	}
	code, ext, err := tp.ReadResponse(250)
	if err != nil && (code == 500 || code == 502) {
		// No EHLO, so no STARTTLS: go-smtp's client falls back to HELO.
		return conn, greeting, false, nil
	}
	if err != nil {
		return nil, "", false, sessionError("EHLO", textprotoErr(err))
	}
	offered := false
	for _, l := range strings.Split(ext, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return conn, greeting, false, nil
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return nil, "", false, replyError("STARTTLS", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, "", false, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, "", false, nil
	}
	return tc, greeting, true, nil
}

// textprotoErr converts a textproto reply error into an *smtp.SMTPError.
func textprotoErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		var a, b, c int
		if n, _ := fmt.Sscanf(te.Msg, "%d.%d.%d", &a, &b, &c); n == 3 {
			se.EnhancedCode = smtp.EnhancedCode{a, b, c}
		}
		return se
	}
	return err
}

type nopCloser struct{ net.Conn }

func (nopCloser) Close() error { return nil }

// greetingConn replays a synthetic 220 greeting before the connection's
// data, so go-smtp's client, which always reads a greeting first, can
// continue a session that already exchanged EHLO (and STARTTLS).
type greetingConn struct {
	net.Conn
	r io.Reader
}

func withGreeting(c net.Conn, greeting string) net.Conn {
	g := "220 " + strings.ReplaceAll(strings.ReplaceAll(greeting, "\r", ""), "\n", " ") + "\r\n"
	return &greetingConn{Conn: c, r: io.MultiReader(strings.NewReader(g), c)}
}

func (g *greetingConn) Read(b []byte) (int, error) { return g.r.Read(b) }
