package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSignedCertIsKeptAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := selfSignedCert(dir, []string{"mail.example.org", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"mail.example.org", "localhost", "127.0.0.1"} {
		if err := first.Leaf.VerifyHostname(n); err != nil {
			t.Errorf("certificate not valid for %s: %v", n, err)
		}
	}
	again, err := selfSignedCert(dir, []string{"mail.example.org", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Leaf.Equal(first.Leaf) {
		t.Error("second start made a new certificate; clients trusting the first would break")
	}
	other, err := selfSignedCert(dir, []string{"other.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Leaf.Equal(first.Leaf) || other.Leaf.VerifyHostname("other.example.org") != nil {
		t.Error("a new name did not get a new certificate")
	}
	if fi, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
}

// writePair writes a fresh self-signed pair for name to cert/key paths.
func writePair(t *testing.T, certPath, keyPath, name string) *x509.Certificate {
	t.Helper()
	tmp := t.TempDir()
	c, err := selfSignedCert(tmp, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{filepath.Join(tmp, "cert.pem"): certPath, filepath.Join(tmp, "key.pem"): keyPath} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	return c.Leaf
}

func TestFileCertReloadsWhenFilesChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	a := writePair(t, certPath, keyPath, "a.example.org")
	fc, err := newFileCert(certPath, keyPath, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fc.GetCertificate(nil)
	if !got.Leaf.Equal(a) {
		t.Fatal("first certificate not served")
	}

	b := writePair(t, certPath, keyPath, "b.example.org")
	deadline := time.Now().Add(10 * certFileCheckInterval)
	for {
		got, _ = fc.GetCertificate(nil)
		if got.Leaf.Equal(b) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replaced files not picked up")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A broken replacement keeps the last good certificate.
	os.WriteFile(certPath, []byte("garbage"), 0o600)
	fc.reload()
	got, _ = fc.GetCertificate(nil)
	if !got.Leaf.Equal(b) {
		t.Fatal("broken files replaced the working certificate")
	}
}

func TestMailTLSRefusesOldTLSAndAcceptsMailALPN(t *testing.T) {
	t.Parallel()
	cert, err := selfSignedCert(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := mailTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"acme-tls/1"}})
	handshake := func(cli *tls.Config) error {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go tls.Server(a, srvCfg).Handshake()
		return tls.Client(b, cli).Handshake()
	}
	if err := handshake(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 handshake accepted")
	}
	if err := handshake(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2 refused: %v", err)
	}
	if err := handshake(&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"imap"}}); err != nil {
		t.Errorf("client offering ALPN imap refused: %v", err)
	}
	if smtpTLSConfig(srvCfg).SessionTicketsDisabled != true || srvCfg.SessionTicketsDisabled {
		t.Error("SMTP config must disable session tickets on a copy")
	}
}
