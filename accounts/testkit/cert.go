package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CertNames are the DNS names the test certificate is valid for, besides
// the address 127.0.0.1. The first is the one ClientTLS verifies.
var CertNames = []string{"localhost", "mx.test", "relay.test"}

// testCert holds the shared certificate, generated on first use and
// read-only afterwards.
type testCert struct {
	cert    tls.Certificate
	certPEM []byte
	keyPEM  []byte
	pool    *x509.CertPool
}

var shared = sync.OnceValue(func() *testCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: CertNames[0]},
		DNSNames:              CertNames,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	c := &testCert{
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		pool:    x509.NewCertPool(),
	}
	c.pool.AppendCertsFromPEM(c.certPEM)
	return c
})

// Cert returns the shared self-signed certificate (its own CA) for
// 127.0.0.1 and CertNames, valid from an hour ago for a day.
func Cert() tls.Certificate { return shared().cert }

// CertPEM returns Cert's certificate, PEM encoded.
func CertPEM() []byte { return shared().certPEM }

// KeyPEM returns Cert's private key, PEM encoded (PKCS #8).
func KeyPEM() []byte { return shared().keyPEM }

// ServerTLS returns a new server configuration presenting Cert, TLS 1.2
// or later.
func ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{Cert()}, MinVersion: tls.VersionTLS12}
}

// ClientTLS returns a new client configuration that trusts Cert only and
// verifies the name "localhost".
func ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: shared().pool, ServerName: CertNames[0]}
}

// WriteCert writes CertPEM to dir/cert.pem (mode 0644: external clients
// and servers read it as their CA file or certificate) and KeyPEM to
// dir/key.pem (0600), and returns both paths.
func WriteCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, CertPEM(), 0o644); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if err := os.WriteFile(keyFile, KeyPEM(), 0o600); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return certFile, keyFile
}
