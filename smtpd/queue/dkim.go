package queue

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"postern/maildir/durable"
)

// DKIMHeaderKeys are the header fields signed (when present). From is
// always signed; the others are the ones DMARC and users care about
// (RFC 6376 section 5.4.1).
var dkimHeaderKeys = []string{"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post"}

// RSAKeyBits is the size of generated RSA keys (RFC 8301 section 3.2
// requires at least 1024, recommends 2048).
const RSAKeyBits = 2048

// maxTXTString is the longest character-string in a DNS TXT record (RFC
// 1035 section 3.3).
const maxTXTString = 255

// dkimKey is one private key found under <data>/dkim/<domain>/.
type dkimKey struct {
	selector string
	signer   crypto.Signer
}

// sign returns the DKIM-Signature header fields for msg, one per key of
// the envelope sender's domain (RSA first, then Ed25519), or nil when that
// domain has no keys or the sender is null. The submission server has
// checked that the user may send as the envelope sender, so signing for
// its domain (and not for whatever the From header claims) never vouches
// for a domain the user does not own; for DMARC alignment the From
// header normally carries the same domain.
func (q *Queue) sign(from string, msg []byte) ([]byte, error) {
	if from == "" {
		return nil, nil
	}
	domain := domainOf(from)
	keys, err := loadDKIMKeys(q.dkimDir, domain)
	if err != nil {
		return nil, err
	}
	var sigs []byte
	for _, k := range keys {
		var out bytes.Buffer
		err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
			Domain:                 domain,
			Selector:               k.selector,
			Signer:                 k.signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             presentKeys(msg),
		})
		if err != nil {
			return nil, fmt.Errorf("queue: dkim sign for %s (selector %s): %w", domain, k.selector, err)
		}
		// dkim.Sign writes the signature field followed by the message.
		signed := out.Bytes()
		sigs = append(sigs, signed[:len(signed)-len(msg)]...)
	}
	return sigs, nil
}

// presentKeys returns the signed header keys that occur in msg (From is
// always included: dkim.Sign requires it).
func presentKeys(msg []byte) []string {
	hdr, err := mail.ReadMessage(bytes.NewReader(msg))
	keys := []string{"From"}
	if err != nil {
		return keys
	}
	for _, k := range dkimHeaderKeys[1:] {
		if len(hdr.Header[textproto.CanonicalMIMEHeaderKey(k)]) > 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

// loadDKIMKeys reads every <selector>.key under dir/<domain>, RSA keys
// first, each group sorted by selector.
func loadDKIMKeys(dir, domain string) ([]dkimKey, error) {
	if domain == "" || strings.ContainsAny(domain, "/\\") || strings.HasPrefix(domain, ".") {
		return nil, nil
	}
	ddir := filepath.Join(dir, domain)
	ents, err := os.ReadDir(ddir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: dkim keys of %s: %w", domain, err)
	}
	var keys []dkimKey
	for _, de := range ents {
		sel, ok := strings.CutSuffix(de.Name(), ".key")
		if !ok || sel == "" || strings.HasPrefix(sel, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(ddir, de.Name()))
		if err != nil {
			return nil, fmt.Errorf("queue: dkim key: %w", err)
		}
		s, err := ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("queue: dkim key %s: %w", filepath.Join(ddir, de.Name()), err)
		}
		keys = append(keys, dkimKey{selector: sel, signer: s})
	}
	sort.SliceStable(keys, func(i, j int) bool {
		_, ei := keys[i].signer.(ed25519.PrivateKey)
		_, ej := keys[j].signer.(ed25519.PrivateKey)
		if ei != ej {
			return !ei
		}
		return keys[i].selector < keys[j].selector
	})
	return keys, nil
}

// ParsePrivateKey reads a PEM private key (PKCS#8, or PKCS#1 for RSA).
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k)
}

// GenerateDKIMKey creates a key ("rsa" of RSAKeyBits, or "ed25519") for
// domain and selector, writes it to <dataDir>/dkim/<domain>/<selector>.key
// (PEM, mode 0600; an existing key is never overwritten) and returns the
// key file's path, and the DNS name and TXT record value to publish.
func GenerateDKIMKey(dataDir, domain, selector, algo string) (keyPath, name, txt string, err error) {
	if !validLabel(selector) {
		return "", "", "", fmt.Errorf("bad selector %q", selector)
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if d := domainOf("x@" + domain); d == "" || strings.ContainsAny(d, "/\\ ") || strings.HasPrefix(d, ".") {
		return "", "", "", fmt.Errorf("bad domain %q", domain)
	} else {
		domain = d
	}
	var signer crypto.Signer
	var pub []byte
	var k string
	switch algo {
	case "", "rsa":
		key, err := rsa.GenerateKey(rand.Reader, RSAKeyBits)
		if err != nil {
			return "", "", "", err
		}
		signer, k = key, "rsa"
		pub, err = x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return "", "", "", err
		}
	case "ed25519":
		p, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", "", "", err
		}
		signer, k, pub = key, "ed25519", p // RFC 8463: the raw 32-byte key
	default:
		return "", "", "", fmt.Errorf("unknown algorithm %q (rsa or ed25519)", algo)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return "", "", "", err
	}
	dir := filepath.Join(dataDir, "dkim", domain)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, selector+".key")
	if _, err := os.Stat(path); err == nil {
		return "", "", "", fmt.Errorf("%s exists; choose another selector", path)
	}
	if err := durable.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", "", "", err
	}
	return path, selector + "._domainkey." + domain, "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(pub), nil
}

// QuoteTXT splits a TXT value into quoted character-strings of at most
// 255 bytes each, as zone files and most DNS providers want them.
func QuoteTXT(v string) string {
	var parts []string
	for len(v) > maxTXTString {
		parts = append(parts, `"`+v[:maxTXTString]+`"`)
		v = v[maxTXTString:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}

// validLabel reports whether s is a DNS label usable as a selector.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
