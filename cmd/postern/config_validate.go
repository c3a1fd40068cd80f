package main

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// validate checks every value that decoded but makes no sense, and
// returns one problem per key (Key set, File and Line left to the caller).
func (c Config) validate() []configProblem {
	var probs []configProblem
	bad := func(key, format string, args ...any) {
		probs = append(probs, configProblem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if err := checkHostname(c.Hostname); err != nil {
		bad("hostname", "%v", err)
	}
	if !filepath.IsAbs(c.DataDir) {
		bad("data_dir", "must be an absolute path, got %q", c.DataDir)
	}
	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout > 10*time.Minute {
		bad("shutdown_timeout", "must be between 1s and 10m, got %v", c.ShutdownTimeout)
	}

	seen := map[string]string{}
	for _, l := range c.Listen.all() {
		if l.addr == "" {
			continue
		}
		key := "listen." + l.name
		if err := checkListenAddr(l.addr); err != nil {
			bad(key, "%v", err)
			continue
		}
		if other, dup := seen[l.addr]; dup {
			bad(key, "address %q is also used by listen.%s", l.addr, other)
		}
		seen[l.addr] = l.name
	}

	switch c.TLS.Mode {
	case "acme":
		if c.TLS.Email == "" || !strings.Contains(c.TLS.Email, "@") {
			bad("tls.email", "acme mode needs a contact address (e.g. postmaster@%s), got %q", c.Hostname, c.TLS.Email)
		}
		if c.Listen.HTTP == "" && c.Listen.HTTPS == "" {
			bad("listen.http", "acme mode needs listen.http (HTTP-01) or listen.https (TLS-ALPN-01)")
		}
		if c.TLS.CA != "" {
			if u, err := url.Parse(c.TLS.CA); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("tls.ca", "not an ACME directory URL: %q", c.TLS.CA)
			}
			if c.TLS.Staging {
				bad("tls.staging", "set either tls.ca or tls.staging, not both")
			}
		}
		if c.TLS.CARoot != "" {
			if _, err := loadCertPool(c.TLS.CARoot); err != nil {
				bad("tls.ca_root", "%v", err)
			}
		}
		if c.TLS.RenewCheckInterval < time.Second {
			bad("tls.renew_check_interval", "must be at least 1s, got %v", c.TLS.RenewCheckInterval)
		}
	case "files":
		if c.TLS.Cert == "" {
			bad("tls.cert", "files mode needs a certificate file")
		}
		if c.TLS.Key == "" {
			bad("tls.key", "files mode needs a key file")
		}
		if c.TLS.Cert != "" && c.TLS.Key != "" {
			if _, err := loadKeyPair(c.TLS.Cert, c.TLS.Key); err != nil {
				bad("tls.cert", "%v", err)
			}
		}
	case "self-signed":
	default:
		bad("tls.mode", `must be "acme", "files" or "self-signed", got %q`, c.TLS.Mode)
	}
	for _, n := range c.TLS.Names {
		if err := checkHostname(n); err != nil {
			bad("tls.names", "%v", err)
		}
	}

	for _, d := range c.Accounts.Domains {
		if err := checkHostname(d); err != nil {
			bad("accounts.domains", "%v", err)
		}
	}

	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", `must be "text" or "json", got %q`, c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}

	if c.Queue.Hostname != "" {
		if err := checkHostname(c.Queue.Hostname); err != nil {
			bad("queue.hostname", "%v", err)
		}
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"smtp", c.SMTP.Validate()}, {"imap", c.IMAP.Validate()},
		{"pop3", c.POP3.Validate()}, {"queue", c.Queue.Validate()},
	} {
		for _, err := range unjoin(s.err) {
			// Each error of a section's Validate starts with its key.
			key, msg, _ := strings.Cut(err.Error(), ": ")
			bad(s.name+"."+key, "%s", msg)
		}
	}
	return probs
}

// unjoin returns the errors joined in err (errors.Join), or err alone.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// namedAddr is one listener's config key and address.
type namedAddr struct{ name, addr string }

// all returns every listener with its key name, in startup order.
func (l ListenConfig) all() []namedAddr {
	return []namedAddr{
		{"smtp", l.SMTP}, {"submission", l.Submission}, {"submissions", l.Submissions},
		{"imap", l.IMAP}, {"imaps", l.IMAPS}, {"pop3", l.POP3}, {"pop3s", l.POP3S},
		{"http", l.HTTP}, {"https", l.HTTPS},
	}
}

// checkListenAddr accepts "host:port" and ":port" with a numeric port.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not a host:port address: %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", addr)
	}
	if host != "" && net.ParseIP(host) == nil && checkHostname(host) != nil && host != "localhost" {
		return fmt.Errorf("bad host in %q", addr)
	}
	return nil
}

// checkHostname accepts a DNS name of letters, digits, hyphens and dots
// (RFC 1123 §2.1), at most 253 octets with labels of at most 63.
func checkHostname(h string) error {
	if h == "" {
		return fmt.Errorf("empty name")
	}
	if len(h) > 253 {
		return fmt.Errorf("name longer than 253 characters: %q", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("not a valid host name: %q", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("not a valid host name: %q", h)
			}
		}
	}
	return nil
}

// loadCertPool reads a PEM file of CA certificates.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}
