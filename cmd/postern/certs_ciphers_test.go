package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// cbcSuites are TLS 1.2 suites with ECDHE key exchange and a CBC cipher,
// for both key types; rsaKexSuites have RSA key exchange (no forward
// secrecy). A server config of Postern must refuse a client offering
// only these.
var (
	cbcSuites = []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	}
	rsaKexSuites = []uint16{
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	}
)

// namedTLS is a server config under test.
type namedTLS struct {
	name string
	cfg  *tls.Config
}

// writeRSAPair writes a self-signed RSA certificate for localhost (the
// self-signed mode makes ECDSA ones; RSA suites need an RSA key) and
// returns the paths.
func writeRSAPair(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "rsa-cert.pem"), filepath.Join(dir, "rsa-key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// posternTLSConfigs builds the server TLS configs of every tls.mode
// through newCertSource, as "postern serve" does: self-signed (ECDSA),
// files (RSA and ECDSA), and acme (certmagic's config, for the mail
// listeners and the TLS-ALPN-01 listener). The acme source points at a
// CA that is not there, so it has no certificate: its configs get the
// testkit certificate instead, everything else kept. Each mail config is
// listed with its SMTP variant too.
func posternTLSConfigs(t *testing.T) []namedTLS {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	base := func(mode string) Config {
		cfg := defaultConfig()
		cfg.Hostname = "localhost"
		cfg.DataDir = t.TempDir()
		cfg.TLS = TLSConfig{Mode: mode, RenewCheckInterval: time.Hour}
		return cfg
	}
	source := func(cfg Config, ch acmeListeners) *certSource {
		cs, err := newCertSource(t.Context(), cfg, log, ch)
		if err != nil {
			t.Fatalf("%s: %v", cfg.TLS.Mode, err)
		}
		t.Cleanup(cs.stop)
		return cs
	}
	var out []namedTLS
	mail := func(name string, c *tls.Config) {
		out = append(out, namedTLS{name, c}, namedTLS{name + " (smtp)", smtpTLSConfig(c)})
	}

	mail("self-signed", source(base("self-signed"), acmeListeners{}).mail)

	files := base("files")
	files.TLS.Cert, files.TLS.Key = writeRSAPair(t, t.TempDir())
	mail("files rsa", source(files, acmeListeners{}).mail)
	files = base("files")
	files.TLS.Cert, files.TLS.Key = testkit.WriteCert(t, t.TempDir())
	mail("files ecdsa", source(files, acmeListeners{}).mail)

	acme := base("acme")
	acme.TLS.Email = "postmaster@localhost"
	acme.TLS.CA = "https://" + testkit.FreeAddr(t) + "/directory"
	cs := source(acme, acmeListeners{http: testkit.Listen(t)})
	if cs.mail.GetCertificate == nil || cs.alpn.GetCertificate == nil {
		t.Fatal("acme configs do not serve certmagic's certificates")
	}
	cert := testkit.Cert()
	withCert := func(c *tls.Config) *tls.Config {
		c = c.Clone()
		c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		return c
	}
	mail("acme", withCert(cs.mail))
	out = append(out, namedTLS{"acme tls-alpn-01 listener", withCert(cs.alpn)})
	return out
}

// handshake runs a TLS handshake between srv and cli over a pipe and
// returns the client's view of it.
func handshake(srv, cli *tls.Config) (tls.ConnectionState, error) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Server(a, srv).Handshake()
		a.Close()
	}()
	c := tls.Client(b, cli)
	err := c.Handshake()
	b.Close()
	<-done
	return c.ConnectionState(), err
}

// tls12Client offers only suites, with TLS 1.2 at most.
func tls12Client(suites []uint16) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS12, CipherSuites: suites}
}

// Every server config Postern builds refuses a TLS 1.2 client that offers
// only CBC suites or only RSA key exchange (while a server allowing them
// takes the same client, so the refusal is the config's), and takes
// clients offering a GCM or ChaCha20 suite, or TLS 1.3.
func TestTLSConfigsAllowOnlyAEADSuites(t *testing.T) {
	t.Parallel()
	for _, c := range posternTLSConfigs(t) {
		if c.cfg.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: MinVersion %#x", c.name, c.cfg.MinVersion)
		}
		for _, weak := range [][]uint16{cbcSuites, rsaKexSuites} {
			if st, err := handshake(c.cfg, tls12Client(weak)); err == nil {
				t.Errorf("%s: handshake with %s accepted", c.name, tls.CipherSuiteName(st.CipherSuite))
			}
		}
		lax := c.cfg.Clone()
		lax.CipherSuites = append(slices.Clone(cbcSuites), rsaKexSuites...)
		if _, err := handshake(lax, tls12Client(cbcSuites)); err != nil {
			t.Errorf("%s: control: a server allowing CBC refuses the CBC client too: %v", c.name, err)
		}
		for _, good := range [][]uint16{
			{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
			{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
			{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305},
		} {
			st, err := handshake(c.cfg, tls12Client(good))
			if err != nil {
				t.Errorf("%s: %s refused: %v", c.name, tls.CipherSuiteName(good[0]), err)
			} else if !slices.Contains(good, st.CipherSuite) {
				t.Errorf("%s: negotiated %s", c.name, tls.CipherSuiteName(st.CipherSuite))
			}
		}
		if st, err := handshake(c.cfg, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}); err != nil || st.Version != tls.VersionTLS13 {
			t.Errorf("%s: TLS 1.3 client: version %#x, %v", c.name, st.Version, err)
		}
	}
}

// serveTLS accepts TLS connections with cfg on a loopback port until the
// test ends: a handshake, then whatever the client sends is read until it
// closes.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln := testkit.Listen(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					io.Copy(io.Discard, tc)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// opensslHandshake runs "openssl s_client -tls1_2 -cipher ciphers"
// against addr and reports whether the handshake succeeded, with the
// output.
func opensslHandshake(t *testing.T, bin, addr, ciphers string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", addr, "-servername", "localhost",
		"-tls1_2", "-cipher", ciphers)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return err == nil && !strings.Contains(string(out), "Cipher is (NONE)"), string(out)
}

// The same with OpenSSL as the client: "openssl s_client -tls1_2" with
// CBC suites (RSA key exchange included) is refused by every config,
// while a GCM suite connects. A control server allowing CBC shows that
// this OpenSSL does offer those suites.
func TestTLSConfigsRefuseOpenSSLCBC(t *testing.T) {
	t.Parallel()
	bin := testkit.RequireTool(t, "openssl")
	const cbc = "AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"
	const gcm = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
	for _, c := range posternTLSConfigs(t) {
		addr := serveTLS(t, c.cfg)
		if ok, out := opensslHandshake(t, bin, addr, cbc); ok {
			t.Errorf("%s: openssl with %s connected:\n%s", c.name, cbc, out)
		}
		if ok, out := opensslHandshake(t, bin, addr, gcm); !ok || !strings.Contains(out, "GCM") {
			t.Errorf("%s: openssl with %s failed:\n%s", c.name, gcm, out)
		}
		lax := c.cfg.Clone()
		lax.CipherSuites = append(slices.Clone(cbcSuites), rsaKexSuites...)
		if ok, out := opensslHandshake(t, bin, serveTLS(t, lax), cbc); !ok {
			t.Errorf("%s: control: openssl with %s fails against a server allowing CBC:\n%s", c.name, cbc, out)
		}
	}
}

// dialHandshake connects to addr and runs a TLS handshake with cli.
func dialHandshake(addr string, cli *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cli)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// End to end with a real ACME certificate (Pebble, TLS-ALPN-01): the
// implicit-TLS mail listeners and the challenge listener on "https"
// refuse a CBC-only TLS 1.2 client and take a GCM one.
func TestACMEListenersRefuseCBC(t *testing.T) {
	t.Parallel()
	pb := startPebble(t)
	srv, ls := acmeServer(t, pb, "tls-alpn-01")
	srv.waitFor(certReadyRE, 60*time.Second)
	addrs := map[string]string{"imaps": ls["imaps"], "submissions": ls["submissions"], "pop3s": ls["pop3s"],
		"https (TLS-ALPN-01)": testkit.Loopback(pb.tlsPort)}
	for name, addr := range addrs {
		cbc := tls12Client(cbcSuites)
		cbc.ServerName = "mail.test"
		if st, err := dialHandshake(addr, cbc); err == nil {
			t.Errorf("%s: CBC client accepted with %s", name, tls.CipherSuiteName(st.CipherSuite))
		}
		gcm := tls12Client([]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256})
		gcm.ServerName = "mail.test"
		if _, err := dialHandshake(addr, gcm); err != nil {
			t.Errorf("%s: GCM client refused: %v", name, err)
		}
	}
	if err, took := srv.signalAndWait(sigTERM, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}
