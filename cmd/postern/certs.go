package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
)

// certSource provides the certificate of every TLS listener, from one of
// the three tls.mode sources.
type certSource struct {
	// mail is the shared tls.Config of every mail protocol (STARTTLS and
	// implicit TLS alike). Its GetCertificate always serves the current
	// certificate, so renewals and file changes need no restart.
	mail *tls.Config
	// alpn serves the TLS-ALPN-01 listener on 443 (acme mode only).
	alpn *tls.Config
	// http answers HTTP-01 challenges (acme mode only).
	http http.Handler
	// ready is closed once a certificate is available.
	ready chan struct{}
	// waitingFor says, for the log, what ready waits for.
	waitingFor string
	// files is set in files mode, for reloads.
	files *fileCert
	// stop ends background work (ACME maintenance, polling).
	stop func()
}

// acmeListeners are the challenge listeners Postern holds for ACME, and
// the roots for the CA's HTTPS (read before privileges are dropped).
type acmeListeners struct {
	http  net.Listener // nil when disabled or not bindable
	https net.Listener
	roots *x509.CertPool // nil: system roots
}

// newCertSource builds the certificate source cfg.TLS.Mode selects.
// In acme mode it starts obtaining in the background; ready closes when a
// certificate is in the cache.
func newCertSource(ctx context.Context, cfg Config, log *slog.Logger, ch acmeListeners) (*certSource, error) {
	cs := &certSource{ready: make(chan struct{}), stop: func() {}}
	switch cfg.TLS.Mode {
	case "files":
		fc, err := newFileCert(cfg.TLS.Cert, cfg.TLS.Key, log)
		if err != nil {
			return nil, err
		}
		cs.files = fc
		cs.mail = mailTLSConfig(&tls.Config{GetCertificate: fc.GetCertificate})
		close(cs.ready)
	case "self-signed":
		dir := filepath.Join(cfg.DataDir, "certs", "self-signed")
		cert, err := selfSignedCert(dir, append(cfg.certNames(), "localhost"))
		if err != nil {
			return nil, err
		}
		cs.mail = mailTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
		close(cs.ready)
	case "acme":
		if err := cs.startACME(ctx, cfg, log, ch); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tls.mode %q", cfg.TLS.Mode)
	}
	return cs, nil
}

// mailTLSConfig completes a certificate-providing tls.Config into the one
// the mail protocols share: TLS 1.2 minimum with AEAD suites only
// (restrictTLS) and no ALPN (a mail client offering "imap" or "smtp" must
// not be refused for lack of a match).
func mailTLSConfig(c *tls.Config) *tls.Config {
	c = c.Clone()
	restrictTLS(c)
	c.NextProtos = nil
	return c
}

// smtpTLSConfig is the mail config with session tickets off: some large
// senders abort STARTTLS after a Go session ticket.
func smtpTLSConfig(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.SessionTicketsDisabled = true
	return c
}
