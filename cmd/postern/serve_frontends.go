package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"postern/imapd"
	"postern/pop3d"
	"postern/smtpd"
)

// frontEnd is what every protocol server offers (smtpd, imapd, pop3d
// share this API).
type frontEnd interface {
	Serve(ln net.Listener) error
	ServeTLS(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// startFrontEnds builds the protocol servers and serves every bound mail
// listener. With a certificate at hand all of them start at once. In acme
// mode before the first certificate, port 25 starts right away without
// STARTTLS (mail is not lost while ACME is slow) and every other listener
// waits for the certificate, since they would accept no login without
// TLS; once it is there, port 25 is handed to a server offering STARTTLS.
func (p *process) startFrontEnds(ctx context.Context) {
	ready := false
	select {
	case <-p.certs.ready:
		ready = true
	default:
	}
	if ready {
		p.startMail(p.certs.mail, true)
		return
	}
	p.log.Warn("waiting for certificate; port 25 accepts mail without STARTTLS meanwhile, other listeners start once it is there",
		"waiting_for", p.certs.waitingFor)
	var h *handoff
	if ln := p.bound["smtp"]; ln != nil {
		h = newHandoff(ln)
		plain := p.newMX(nil)
		p.serve("smtp", "smtp", "none", plain, h.current(), false)
	}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-p.certs.ready:
		}
		p.log.Info("certificate ready; starting the TLS listeners")
		if h != nil {
			// The plain server keeps its sessions but gets no more
			// connections; it is shut down with the rest.
			p.serve("smtp", "smtp", "starttls", p.newMX(p.certs.mail), h.next(), false)
		}
		p.startMail(p.certs.mail, false)
	}()
}

// startMail starts the servers of every bound listener (port 25 too when
// withMX).
func (p *process) startMail(tlsCfg *tls.Config, withMX bool) {
	if ln := p.bound["smtp"]; ln != nil && withMX {
		p.serve("smtp", "smtp", "starttls", p.newMX(tlsCfg), ln, false)
	}
	if p.bound["submission"] != nil || p.bound["submissions"] != nil {
		sub := smtpd.NewSubmission(p.smtpOptions(tlsCfg))
		p.serveIf("submission", "submission", "starttls", sub, false)
		p.serveIf("submissions", "submission", "implicit", sub, true)
	}
	if p.bound["imap"] != nil || p.bound["imaps"] != nil {
		im := imapd.New(imapd.Options{Store: p.store, Accounts: p.dir, TLSConfig: tlsCfg, Hostname: p.cfg.Hostname,
			Logger: p.log, Config: p.cfg.IMAP})
		p.serveIf("imap", "imap", "starttls", im, false)
		p.serveIf("imaps", "imap", "implicit", im, true)
	}
	if p.bound["pop3"] != nil || p.bound["pop3s"] != nil {
		pp := pop3d.New(pop3d.Options{Store: p.store, Accounts: p.dir, TLSConfig: tlsCfg, Hostname: p.cfg.Hostname,
			Logger: p.log, Config: p.cfg.POP3})
		p.serveIf("pop3", "pop3", "starttls", pp, false)
		p.serveIf("pop3s", "pop3", "implicit", pp, true)
	}
}

// newMX builds the port 25 server; tlsCfg nil means no STARTTLS.
func (p *process) newMX(tlsCfg *tls.Config) *smtpd.Server {
	return smtpd.NewMX(p.smtpOptions(tlsCfg))
}

// smtpOptions are the options of both SMTP servers, with the outbound
// queue for remote recipients.
func (p *process) smtpOptions(tlsCfg *tls.Config) smtpd.Options {
	return smtpd.Options{Store: p.store, Accounts: p.dir, TLSConfig: smtpTLSConfig(tlsCfg), Hostname: p.cfg.Hostname,
		Logger: p.log, Config: p.cfg.SMTP, Queue: p.queue}
}

// serveIf serves the listener bound under name, if any.
func (p *process) serveIf(name, proto, tlsMode string, fe frontEnd, implicit bool) {
	if ln := p.bound[name]; ln != nil {
		p.serve(name, proto, tlsMode, fe, ln, implicit)
	}
}

// serve runs fe on ln in the background and records it for shutdown and
// for the startup report.
func (p *process) serve(name, proto, tlsMode string, fe frontEnd, ln net.Listener, implicit bool) {
	p.mu.Lock()
	p.frontEnds = append(p.frontEnds, fe)
	p.started = append(p.started, startedListener{Name: name, Proto: proto, Addr: ln.Addr().String(), TLS: tlsMode})
	p.mu.Unlock()
	p.serveWG.Add(1)
	go func() {
		defer p.serveWG.Done()
		var err error
		if implicit {
			err = fe.ServeTLS(ln)
		} else {
			err = fe.Serve(ln)
		}
		if err != nil && !isClosedErr(err) {
			p.log.Error("listener failed", "listener", name, "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// isClosedErr reports errors that only mean "the listener was closed":
// a front end's ErrServerClosed after Shutdown, or net.ErrClosed from a
// listener closed under it (port 25's handoff).
func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, smtpd.ErrServerClosed) ||
		errors.Is(err, imapd.ErrServerClosed) || errors.Is(err, pop3d.ErrServerClosed)
}
