package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFileCheckInterval is how often, at most, the certificate and key
// files are checked for changes (on the next handshake after it passes).
const certFileCheckInterval = time.Second

// fileCert serves a certificate from PEM files and re-reads them when
// their size or modification time changes, so an operator's renewal
// (certbot, a copy from another machine) needs no restart. A change that
// does not load (e.g. the key written before the certificate) keeps the
// previous certificate until the pair loads again.
type fileCert struct {
	certPath, keyPath string
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // size and mtime of both files when cert was loaded
	lastCheck time.Time
}

func newFileCert(certPath, keyPath string, log *slog.Logger) (*fileCert, error) {
	fc := &fileCert{certPath: certPath, keyPath: keyPath, log: log}
	cert, err := loadKeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	fc.cert, fc.stamp, fc.lastCheck = cert, fc.fileStamp(), time.Now()
	return fc, nil
}

// loadKeyPair loads and checks a PEM certificate chain and its key.
func loadKeyPair(certPath, keyPath string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s and key %s: %w", certPath, keyPath, err)
	}
	return &cert, nil
}

// fileStamp identifies the current versions of both files.
func (fc *fileCert) fileStamp() string {
	var s string
	for _, p := range []string{fc.certPath, fc.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			s += "missing;"
			continue
		}
		s += fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}

// GetCertificate is the tls.Config hook: the current certificate,
// reloaded first if the files changed.
func (fc *fileCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if time.Since(fc.lastCheck) >= certFileCheckInterval {
		fc.lastCheck = time.Now()
		fc.reloadLocked()
	}
	return fc.cert, nil
}

// reload re-reads the files if they changed (SIGHUP calls it).
func (fc *fileCert) reload() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.reloadLocked()
}

func (fc *fileCert) reloadLocked() {
	stamp := fc.fileStamp()
	if stamp == fc.stamp {
		return
	}
	cert, err := loadKeyPair(fc.certPath, fc.keyPath)
	if err != nil {
		fc.log.Warn("certificate files changed but do not load; keeping the previous certificate", "err", err)
		return
	}
	fc.cert, fc.stamp = cert, stamp
	fc.log.Info("certificate reloaded", "cert", fc.certPath, "not_after", cert.Leaf.NotAfter)
}
