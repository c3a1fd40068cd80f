package main

// The connection of one simulated client of imap-stress: dialing (with
// implicit TLS, or STARTTLS done by hand so the wire tap reads the
// plaintext above TLS), LOGIN and LOGOUT, the watchdog every command runs
// under (no tagged reply within -hang: the hang is recorded and the
// connection closed), giving a connection up, and the setup that creates
// the mailboxes before a run.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// errGone is returned for a command whose connection was given up (a
// hang or a lost connection, already recorded).
var errGone = errors.New("connection given up")

// dial connects (implicit TLS, STARTTLS or plain) and returns the TCP
// connection and the one imapclient reads, with the synthetic greeting
// to serve after a STARTTLS done here.
func (cl *stressClient) dial() (tcp net.Conn, conn net.Conn, greeting []byte, err error) {
	f := cl.cfg.conn
	d := net.Dialer{Timeout: cl.cfg.hang}
	if n := cl.cfg.sources; n > 0 {
		// Client i plays a device at its own loopback address.
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+cl.id%n))}
	}
	raw, err := d.Dial("tcp", *f.addr)
	if err != nil {
		return nil, nil, nil, err
	}
	tcp = raw
	host, _, _ := net.SplitHostPort(*f.addr)
	tlsConf := &tls.Config{ServerName: host, InsecureSkipVerify: *f.insecure, NextProtos: []string{"imap"}}
	tcp.SetDeadline(time.Now().Add(cl.cfg.hang))
	defer func() {
		// raw, not tcp: the error returns set tcp to nil.
		if err != nil {
			raw.Close()
		} else {
			raw.SetDeadline(time.Time{})
		}
	}()
	switch {
	case *f.tls:
		tc := tls.Client(tcp, tlsConf)
		if err := tc.Handshake(); err != nil {
			return nil, nil, nil, fmt.Errorf("TLS: %w", err)
		}
		return tcp, tc, nil, nil
	case *f.startTLS:
		// By hand, so the tap reads above TLS (imapclient's STARTTLS
		// would put TLS between the tap and the text).
		br := bufio.NewReader(tcp)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "* OK") {
			return nil, nil, nil, fmt.Errorf("greeting %q: %v", line, err)
		}
		if _, err := tcp.Write([]byte("S0 STARTTLS\r\n")); err != nil {
			return nil, nil, nil, err
		}
		for {
			line, err = br.ReadString('\n')
			if err != nil {
				return nil, nil, nil, fmt.Errorf("STARTTLS: %w", err)
			}
			if strings.HasPrefix(line, "S0 ") {
				break
			}
		}
		if !strings.HasPrefix(line, "S0 OK") {
			return nil, nil, nil, fmt.Errorf("STARTTLS: %s", strings.TrimSpace(line))
		}
		tc := tls.Client(tcp, tlsConf)
		if err := tc.Handshake(); err != nil {
			return nil, nil, nil, fmt.Errorf("TLS: %w", err)
		}
		return tcp, tc, []byte("* OK mailbench: STARTTLS done\r\n"), nil
	default:
		return tcp, tcp, nil, nil
	}
}

// login connects and logs in (the LOGIN command of the mix).
func (cl *stressClient) login() error {
	tcp, conn, greeting, err := cl.dial()
	if err != nil {
		if isTimeout(err) {
			cl.rec.hang(cl.id, "", "connect", cl.cfg.hang)
		} else {
			cl.rec.error(cl.id, "", "connect", err.Error())
		}
		return err
	}
	m := newSessionModel(cl.user.name, cl.world, cl.seen, cl.rec.issueFunc(cl.id), cl.rec.countCheck, cl.cfg.transcript)
	tap := &tapConn{Conn: conn, prefix: greeting}
	tap.parser.handle = m.handle
	tap.parser.bad = func(raw []byte, err error) {
		m.badResponse()
		cl.rec.error(cl.id, "", "-", fmt.Sprintf("unparsable response %q: %v", shorten(string(raw), 120), err))
	}
	cl.tcp, cl.m = tcp, m
	cl.c = imapclient.New(tap, &imapclient.Options{})
	cl.cmds = 0
	cl.logoutAt = 0
	if cl.cfg.logoutEvery > 0 {
		cl.logoutAt = 1 + cl.rng.IntN(cl.cfg.logoutEvery)
	}
	c := cl.c
	err = cl.cmd("LOGIN", false, cl.cfg.hang, func() error {
		if err := c.Login(cl.user.name, cl.user.pass).Wait(); err != nil {
			return err
		}
		caps := c.Caps()
		cl.uidPlus, cl.move, cl.idle = caps.Has(imap.CapUIDPlus), caps.Has(imap.CapMove), caps.Has(imap.CapIdle)
		return nil
	})
	if err != nil {
		if err != errGone {
			cl.fail("LOGIN", err)
			cl.drop()
		}
		return err
	}
	return nil
}

// drop gives the connection up without waiting for the server.
func (cl *stressClient) drop() {
	if cl.c == nil {
		return
	}
	cl.m.detach()
	cl.tcp.Close()
	go cl.c.Close() // returns once imapclient's reader has stopped
	cl.c, cl.tcp = nil, nil
}

// isTimeout reports a network timeout (imapclient's own read deadline).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// cmd runs one command under the hang watchdog (limit) and records its
// latency. It returns nil for OK, the *imap.Error of a NO or BAD, or
// errGone when the connection was given up (recorded here).
func (cl *stressClient) cmd(name string, noExpunge bool, limit time.Duration, f func() error) error {
	m, tcp := cl.m, cl.tcp
	m.beginCommand(name, noExpunge)
	var hung atomic.Bool
	watchdog := time.AfterFunc(limit, func() {
		hung.Store(true)
		tcp.Close()
	})
	start := time.Now()
	err := f()
	elapsed := time.Since(start)
	watchdog.Stop()
	m.endCommand()
	var ie *imap.Error
	switch {
	case hung.Load() || (err != nil && isTimeout(err)):
		cl.rec.hang(cl.id, m.mailboxName(), name, limit)
		cl.drop()
		return errGone
	case err == nil || errors.As(err, &ie):
		cl.lat[name] = append(cl.lat[name], elapsed)
		cl.ops++
		if err != nil {
			cl.nos[name]++
		}
		return err
	default:
		cl.rec.error(cl.id, m.mailboxName(), name, "connection: "+err.Error())
		cl.drop()
		return errGone
	}
}

// fail records a NO or BAD reply to a command that should have succeeded.
func (cl *stressClient) fail(name string, err error) {
	mailbox := ""
	if cl.m != nil {
		mailbox = cl.m.mailboxName()
	}
	cl.rec.error(cl.id, mailbox, name, err.Error())
}

// opLogout logs out and closes the connection.
func (cl *stressClient) opLogout() {
	c := cl.c
	err := cl.cmd("LOGOUT", false, cl.cfg.hang, func() error { return c.Logout().Wait() })
	if err == errGone {
		return
	}
	if err != nil {
		cl.fail("LOGOUT", err)
	}
	cl.m.detach()
	cl.tcp.Close()
	c.Close()
	cl.c, cl.tcp = nil, nil
}

// shorten cuts s to n bytes for a report.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// setupMailboxes logs in as each user once and creates the mailboxes of
// -mailboxes that LIST does not show.
func setupMailboxes(cfg *stressConfig, world *stressWorld, rec *stressRecorder) error {
	done := map[string]bool{}
	for _, u := range cfg.users {
		if done[u.name] {
			continue
		}
		done[u.name] = true
		cl := newStressClient(0, cfg, world, rec, time.Now().Add(cfg.hang*4))
		cl.user = u
		if err := cl.login(); err != nil {
			return fmt.Errorf("setup: log in as %s: %w", u.name, err)
		}
		c := cl.c
		var list []*imap.ListData
		err := cl.cmd("LIST", false, cfg.hang, func() error {
			var err error
			list, err = c.List("", "*", nil).Collect()
			return err
		})
		if err != nil {
			cl.drop()
			return fmt.Errorf("setup: LIST as %s: %w", u.name, err)
		}
		have := map[string]bool{"INBOX": true}
		for _, l := range list {
			have[l.Mailbox] = true
		}
		for _, name := range cfg.mailboxes {
			if have[name] || strings.EqualFold(name, "INBOX") {
				continue
			}
			err := cl.cmd("CREATE", false, cfg.hang, func() error { return c.Create(name, nil).Wait() })
			var ie *imap.Error
			if err != nil && !(errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists) {
				cl.drop()
				return fmt.Errorf("setup: CREATE %s as %s: %w", name, u.name, err)
			}
		}
		cl.opLogout()
	}
	return nil
}
