package testkit

import (
	"crypto/tls"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A client with ClientTLS completes a handshake with a server presenting
// Cert (by name, and by address as the queue's smarthost checks it).
func TestCertVerifies(t *testing.T) {
	t.Parallel()
	ln := tls.NewListener(Listen(t), ServerTLS())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range append(CertNames, "127.0.0.1") {
		cfg := ClientTLS()
		cfg.ServerName = name
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
	}
}

// Hash is the Dovecot form of a bcrypt hash of the password at BcryptCost.
func TestHash(t *testing.T) {
	t.Parallel()
	h := Hash(AnnaPass)
	if h != Hash(AnnaPass) || !strings.HasPrefix(h, "{BLF-CRYPT}$2y$04$") {
		t.Fatalf("Hash = %q", h)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimPrefix(h, "{BLF-CRYPT}")), []byte(AnnaPass)); err != nil {
		t.Fatal(err)
	}
	if got, want := PasswdLine(BobUser, BobPass), BobUser+":"+Hash(BobPass)+"::::::\n"; got != want {
		t.Fatalf("PasswdLine = %q", got)
	}
}

// FreePort never hands out a port twice.
func TestFreePortDistinct(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
