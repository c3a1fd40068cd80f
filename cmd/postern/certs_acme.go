package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// acmeReadyPoll is how often the certificate cache is checked until the
// first certificate is there.
const acmeReadyPoll = 250 * time.Millisecond

// challengeTimeout bounds every connection to the challenge listeners
// (the CA's validation requests are small and quick).
const challengeTimeout = 10 * time.Second

// startACME sets up certmagic for cfg.certNames(): storage under
// <data_dir>/certs, the CA and its roots from cfg.TLS, HTTP-01 answered on
// the listener Postern holds (ch.http) and TLS-ALPN-01 on ch.https when
// that port could be bound. Obtaining runs in the background (with
// certmagic's retries); renewal runs every RenewCheckInterval.
func (cs *certSource) startACME(ctx context.Context, cfg Config, log *slog.Logger, ch acmeListeners) error {
	zl := zapToSlog(log)
	var magic *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		RenewCheckInterval: cfg.TLS.RenewCheckInterval,
		Logger:             zl,
	})
	magic = certmagic.New(cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: filepath.Join(cfg.DataDir, "certs")},
		DefaultServerName:  cfg.Hostname, // SNI-less MTAs get the certificate
		FallbackServerName: cfg.Hostname,
		Logger:             zl,
	})
	iss := certmagic.ACMEIssuer{
		CA:                      cfg.TLS.acmeCA(),
		Email:                   cfg.TLS.Email,
		Agreed:                  true, // with Email set, certmagic never prompts
		DisableHTTPChallenge:    ch.http == nil,
		DisableTLSALPNChallenge: ch.https == nil,
		Logger:                  zl,
	}
	if cfg.TLS.acmeCA() != letsEncryptProduction {
		iss.TestCA = iss.CA // no fallback to another CA
	}
	if ch.roots != nil {
		iss.TrustedRoots = ch.roots
	}
	// Point certmagic's own solvers at the ports Postern holds: finding
	// them in use, it relies on our listeners to answer.
	if ch.http != nil {
		iss.ListenHost, iss.AltHTTPPort = hostPort(ch.http.Addr())
	}
	if ch.https != nil {
		host, port := hostPort(ch.https.Addr())
		iss.AltTLSALPNPort = port
		if iss.ListenHost == "" {
			iss.ListenHost = host
		}
	}
	if ch.http == nil && ch.https == nil {
		return fmt.Errorf("acme: no challenge listener (listen.http and listen.https both unavailable)")
	}
	issuer := certmagic.NewACMEIssuer(magic, iss)
	magic.Issuers = []certmagic.Issuer{issuer}

	cs.mail = mailTLSConfig(magic.TLSConfig())
	cs.alpn = magic.TLSConfig() // certmagic sets no suites: restrict them
	restrictTLS(cs.alpn)
	cs.http = issuer.HTTPChallengeHandler(http.NotFoundHandler())
	names := cfg.certNames()
	var how []string
	if ch.http != nil {
		how = append(how, "HTTP-01 on "+ch.http.Addr().String())
	}
	if ch.https != nil {
		how = append(how, "TLS-ALPN-01 on "+ch.https.Addr().String())
	}
	cs.waitingFor = fmt.Sprintf("ACME certificate for %s from %s (%s)", strings.Join(names, ", "), iss.CA, strings.Join(how, ", "))

	ctx, cancel := context.WithCancel(ctx)
	if err := magic.ManageAsync(ctx, names); err != nil {
		cancel()
		cache.Stop()
		return fmt.Errorf("acme: manage %v: %w", names, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(acmeReadyPoll)
		defer t.Stop()
		for {
			if len(cache.AllMatchingCertificates(cfg.Hostname)) > 0 {
				close(cs.ready)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	cs.stop = func() {
		cancel()
		<-done
		cache.Stop()
	}
	return nil
}

// hostPort splits a listener address into host and numeric port.
func hostPort(a net.Addr) (string, int) {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(port)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = ""
	}
	return host, n
}

// serveACMEChallenges answers ACME challenges on the held listeners until
// they are closed: HTTP-01 with certmagic's handler, TLS-ALPN-01 by a TLS
// handshake with the alpn config (certmagic's GetCertificate serves the
// challenge certificate); any other connection on 443 is closed after the
// handshake.
func (cs *certSource) serveACMEChallenges(ch acmeListeners, log *slog.Logger) (stop func(context.Context)) {
	var srv *http.Server
	if ch.http != nil {
		srv = &http.Server{
			Handler:           cs.http,
			ReadHeaderTimeout: challengeTimeout,
			ReadTimeout:       challengeTimeout,
			WriteTimeout:      challengeTimeout,
			IdleTimeout:       challengeTimeout,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		go srv.Serve(ch.http)
	}
	alpnDone := make(chan struct{})
	if ch.https != nil {
		go func() {
			defer close(alpnDone)
			for {
				c, err := ch.https.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(challengeTimeout))
					tls.Server(c, cs.alpn).Handshake()
				}()
			}
		}()
	} else {
		close(alpnDone)
	}
	return func(ctx context.Context) {
		if srv != nil {
			srv.Shutdown(ctx)
		}
		if ch.https != nil {
			ch.https.Close()
		}
		<-alpnDone
	}
}
