package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/caddyserver/certmagic"
)

// benchHandshakes runs b.N full TLS handshakes (no resumption) against a
// server using srv, over an in-memory pipe.
func benchHandshakes(b *testing.B, srv *tls.Config) {
	cli := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, c := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(a, srv).Handshake() }()
		if err := tls.Client(c, cli).Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		a.Close()
		c.Close()
	}
}

// The reference: a static certificate in tls.Config.Certificates.
func BenchmarkHandshakeStaticCert(b *testing.B) {
	cert, err := selfSignedCert(b.TempDir(), []string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	benchHandshakes(b, mailTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
}

// The same certificate served through certmagic's GetCertificate, as in
// acme mode: the cost of the cache lookup per handshake.
func BenchmarkHandshakeCertmagic(b *testing.B) {
	cert, err := selfSignedCert(b.TempDir(), []string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	var magic *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zapToSlog(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	defer cache.Stop()
	magic = certmagic.New(cache, certmagic.Config{DefaultServerName: "localhost",
		Logger: zapToSlog(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if _, err := magic.CacheUnmanagedTLSCertificate(context.Background(), cert, nil); err != nil {
		b.Fatal(err)
	}
	benchHandshakes(b, mailTLSConfig(magic.TLSConfig()))
}

// Files mode: GetCertificate with the change check.
func BenchmarkHandshakeFileCert(b *testing.B) {
	dir := b.TempDir()
	if _, err := selfSignedCert(dir, []string{"localhost"}); err != nil {
		b.Fatal(err)
	}
	fc, err := newFileCert(dir+"/cert.pem", dir+"/key.pem", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	benchHandshakes(b, mailTLSConfig(&tls.Config{GetCertificate: fc.GetCertificate}))
}
