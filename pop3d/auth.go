package pop3d

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"postern/accounts"
	"postern/accounts/connguard"
)

// canLogin reports whether credentials may be sent: only under TLS.
func (c *conn) canLogin() bool { return c.tls }

// errNeedTLS answers USER/PASS/AUTH before TLS (the wording follows
// Dovecot's, which clients know).
var errNeedTLS = perr("AUTH", "Plaintext authentication disallowed on non-secure connections: use STLS or port 995")

// cmdCapa lists the capabilities (RFC 2449 §5). USER, SASL and STLS
// depend on the connection: credentials are only offered under TLS.
func (c *conn) cmdCapa(args []string) error {
	c.multiline("Capability list follows", func(w io.Writer) error {
		caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}
		if c.state == stateAuthorization {
			if c.canLogin() {
				caps = append(caps, "USER", "SASL PLAIN")
			} else if c.s.opts.TLSConfig != nil {
				caps = append(caps, "STLS")
			}
		}
		caps = append(caps, "IMPLEMENTATION Postern")
		for _, cp := range caps {
			io.WriteString(w, cp+"\r\n")
		}
		return nil
	})
	return nil
}

// cmdStls starts TLS on a plain connection (RFC 2595 §4).
func (c *conn) cmdStls(args []string) error {
	switch {
	case c.tls:
		return perr("", "Already using TLS")
	case c.s.opts.TLSConfig == nil:
		return perr("", "TLS is not available")
	case c.r.Buffered() > 0:
		// Plain text pipelined behind STLS must never be read as
		// commands inside TLS (CVE-2011-0411 class).
		c.quit = true
		c.log.Warn("closing: data pipelined after STLS")
		return perr("", "Commands pipelined after STLS, closing connection")
	}
	c.reply("Begin TLS negotiation")
	if err := c.w.Flush(); err != nil {
		c.quit = true
		return nil
	}
	tc := tls.Server(c.raw, c.s.opts.TLSConfig)
	if err := c.handshake(tc); err != nil {
		c.log.Info("STLS handshake failed", "err", err)
		c.quit = true
		return nil
	}
	c.nc = tc
	c.tls = true
	c.r = bufio.NewReaderSize(tc, readBufferSize)
	c.w = bufio.NewWriterSize(deadlineWriter{tc}, writeBufferSize)
	c.userArg = ""
	c.setLogger()
	c.log.Debug("TLS started")
	return nil
}

// cmdUser records the user name for PASS (RFC 1939 §7).
func (c *conn) cmdUser(args []string) error {
	if !c.canLogin() {
		return errNeedTLS
	}
	c.userArg = args[0]
	c.reply("Send your password")
	return nil
}

// cmdPass logs in with the name from USER (RFC 1939 §7).
func (c *conn) cmdPass(args []string) error {
	if !c.canLogin() {
		return errNeedTLS
	}
	if c.userArg == "" {
		return perr("", "Send USER first")
	}
	name := c.userArg
	c.userArg = ""
	return c.login(name, args[0])
}

// cmdAuth runs SASL PLAIN (RFC 5034, RFC 4616), with or without an
// initial response. "AUTH" alone lists the mechanisms, as many clients
// expect from the pre-CAPA extension (RFC 1734).
func (c *conn) cmdAuth(args []string) error {
	if len(args) == 0 {
		c.multiline("Methods follow", func(w io.Writer) error {
			if c.canLogin() {
				io.WriteString(w, "PLAIN\r\n")
			}
			return nil
		})
		return nil
	}
	if !c.canLogin() {
		return errNeedTLS
	}
	if !strings.EqualFold(args[0], "PLAIN") {
		return perr("", "Unsupported authentication mechanism")
	}
	var resp string
	if len(args) == 2 {
		resp = args[1]
	} else {
		c.w.WriteString("+ \r\n")
		if err := c.w.Flush(); err != nil {
			c.quit = true
			return nil
		}
		line, err := c.readLine(maxSASLLine)
		if errors.Is(err, errLineTooLong) {
			return perr("", "Authentication response too long")
		}
		if err != nil {
			c.quit = true
			return nil
		}
		resp = string(line)
	}
	if resp == "*" {
		return perr("", "Authentication cancelled")
	}
	user, pass, err := decodePlain(resp)
	if err != nil {
		return err
	}
	return c.login(user, pass)
}

// decodePlain decodes a SASL PLAIN response ("=" is the empty one).
// An authorization identity other than the user is refused: there are
// no proxy logins.
func decodePlain(resp string) (user, pass string, err error) {
	if resp == "=" {
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return "", "", perr("", "Invalid base64 in authentication response")
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 {
		return "", "", perr("", "Invalid PLAIN authentication response")
	}
	authz, authc, pw := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != authc {
		return "", "", perr("AUTH", "Authentication failed")
	}
	return authc, pw, nil
}

// login checks the credentials through accounts (which throttles and
// equalises timing), takes the maildrop lock and the INBOX snapshot, and
// enters TRANSACTION.
func (c *conn) login(name, password string) error {
	ctx, cancel := context.WithTimeout(accounts.WithLogger(context.Background(), c.log), c.s.cfg.LoginCommandTimeout)
	defer cancel()
	user, err := c.s.opts.Accounts.Authenticate(ctx, "pop3", c.remote, name, password)
	if err != nil {
		c.log.Info("login failed", "name", name, "err", err)
		return fmt.Errorf("authenticate: %w", err)
	}
	if !c.s.lockUser(user, c) {
		c.log.Info("login refused: maildrop in use", "user", user)
		return perr("IN-USE", "Mailbox is locked by another POP3 session")
	}
	drop, err := openMaildrop(c.s.opts.Store, user, c.s.cfg.Household)
	if err != nil {
		c.s.unlockUser(user, c)
		c.log.Error("cannot open maildrop", "user", user, "err", err)
		return perr("SYS/TEMP", "Cannot open the mailbox, try again later")
	}
	c.user = user
	// Out of the per-IP limits and pre-login deadlines (connguard).
	connguard.LoggedIn(c.raw)
	c.act.SetUser(user)
	c.drop = drop
	c.state = stateTransaction
	c.setLogger()
	count, size := drop.stat()
	c.log.Info("logged in", "messages", count, "octets", size)
	c.replyf("Logged in, %d messages (%d octets)", count, size)
	return nil
}
