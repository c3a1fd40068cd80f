package main

import (
	"os"
	"time"

	"postern/imapd"
	"postern/pop3d"
	"postern/smtpd"
	"postern/smtpd/queue"
)

// Config is the whole configuration of "postern serve", read from one TOML
// file. Every field has a default (see defaultConfig); a key the file does
// not set keeps it, and a key set to a value out of range is an error
// (validate, which asks each section's Validate). docs/config.md lists
// every key.
type Config struct {
	// Hostname is the server's public name: the SMTP greeting and EHLO
	// name, and the first name on the TLS certificate. Default: the
	// machine's host name.
	Hostname string `toml:"hostname"`
	// DataDir holds everything Postern stores: mail/, accounts/, queue/,
	// certs/. Must be an absolute path. Default: /var/lib/postern.
	DataDir string `toml:"data_dir"`
	// User is the unprivileged account Postern switches to after binding
	// its ports when started as root. Default: "postern". Started as root
	// with user = "", Postern refuses to run.
	User string `toml:"user"`
	// ShutdownTimeout bounds a graceful stop (SIGTERM/SIGINT): sessions
	// waiting for a command end at once, SMTP transactions in DATA (and
	// commands in progress) may finish within it. Sessions still open
	// when it passes are logged (protocol, session, address, user,
	// command) and cut off; the rest of the stop then gets 3 s more, and
	// the process exits with status 1, whatever a session or a lock is
	// doing (a watchdog ends it with status 3 should even that hang). A
	// stop within the timeout exits 0. Between 1s and 10m; default: 30s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`

	// Listen holds one address per listener.
	Listen ListenConfig `toml:"listen"`
	// TLS selects where certificates come from.
	TLS TLSConfig `toml:"tls"`
	// Accounts configures the accounts directory.
	Accounts AccountsConfig `toml:"accounts"`
	// Log configures the process log.
	Log LogConfig `toml:"log"`

	// SMTP tunes the SMTP servers (ports 25, 587, 465); see smtpd.Config.
	SMTP smtpd.Config `toml:"smtp"`
	// IMAP tunes the IMAP server (ports 143, 993); see imapd.Config.
	IMAP imapd.Config `toml:"imap"`
	// POP3 tunes the POP3 server (ports 110, 995); see pop3d.Config.
	POP3 pop3d.Config `toml:"pop3"`
	// Queue configures outbound delivery; see queue.Config.
	Queue queue.Config `toml:"queue"`
}

// ListenConfig holds the address ("host:port") of every listener. An empty
// string disables that listener.
type ListenConfig struct {
	// SMTP is inbound mail from other servers (MX). Default ":25".
	SMTP string `toml:"smtp"`
	// Submission is mail from users with STARTTLS (RFC 6409). Default ":587".
	Submission string `toml:"submission"`
	// Submissions is mail from users over implicit TLS (RFC 8314). Default ":465".
	Submissions string `toml:"submissions"`
	// IMAP with STARTTLS. Default ":143".
	IMAP string `toml:"imap"`
	// IMAPS is IMAP over implicit TLS. Default ":993".
	IMAPS string `toml:"imaps"`
	// POP3 with STLS. Default ":110".
	POP3 string `toml:"pop3"`
	// POP3S is POP3 over implicit TLS. Default ":995".
	POP3S string `toml:"pop3s"`
	// HTTP answers ACME HTTP-01 challenges (tls.mode = "acme"); Postern
	// keeps it open so renewals work after privileges are dropped.
	// Default ":80".
	HTTP string `toml:"http"`
	// HTTPS answers ACME TLS-ALPN-01 challenges when the port is free
	// (tls.mode = "acme"). Default ":443".
	HTTPS string `toml:"https"`
}

// TLSConfig selects the certificate source.
type TLSConfig struct {
	// Mode is "acme" (automatic certificates, the default), "files"
	// (cert and key below) or "self-signed" (for local use).
	Mode string `toml:"mode"`
	// Names are extra names on the certificate besides hostname.
	Names []string `toml:"names"`
	// Email is the ACME account contact (required in acme mode); its use
	// implies agreement to the CA's terms.
	Email string `toml:"email"`
	// CA is the ACME directory URL. Default: Let's Encrypt production.
	CA string `toml:"ca"`
	// Staging switches to Let's Encrypt's staging CA (untrusted
	// certificates, generous rate limits) when ca is not set.
	Staging bool `toml:"staging"`
	// CARoot is a PEM file of roots trusted for the ACME directory's own
	// HTTPS (for a private CA). Default: the system roots.
	CARoot string `toml:"ca_root"`
	// RenewCheckInterval is how often certificates are checked for
	// renewal. Default: 10m.
	RenewCheckInterval time.Duration `toml:"renew_check_interval"`
	// Cert and Key are PEM files (mode = "files"); they are re-read when
	// they change on disk.
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// AccountsConfig configures the accounts directory (<data_dir>/accounts).
type AccountsConfig struct {
	// Domains are the mail domains Postern accepts mail for, in addition
	// to those in <data_dir>/accounts/domains.
	Domains []string `toml:"domains"`
}

// LogConfig configures the process log (standard error).
type LogConfig struct {
	// Format is "text" (default) or "json".
	Format string `toml:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `toml:"level"`
}

// Defaults that do not come from an RFC.
const (
	// defaultConfigPath is where commands look without -config.
	defaultConfigPath         = "/etc/postern/postern.toml"
	defaultDataDir            = "/var/lib/postern"
	defaultUser               = "postern"
	defaultShutdownTimeout    = 30 * time.Second
	defaultRenewCheckInterval = 10 * time.Minute
	letsEncryptProduction     = "https://acme-v02.api.letsencrypt.org/directory"
	letsEncryptStaging        = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// defaultConfig returns the configuration used for every key a file does
// not set.
func defaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Hostname:        host,
		DataDir:         defaultDataDir,
		User:            defaultUser,
		ShutdownTimeout: defaultShutdownTimeout,
		Listen: ListenConfig{
			SMTP:        ":25",
			Submission:  ":587",
			Submissions: ":465",
			IMAP:        ":143",
			IMAPS:       ":993",
			POP3:        ":110",
			POP3S:       ":995",
			HTTP:        ":80",
			HTTPS:       ":443",
		},
		TLS: TLSConfig{
			Mode:               "acme",
			RenewCheckInterval: defaultRenewCheckInterval,
		},
		Log:   LogConfig{Format: "text", Level: "info"},
		SMTP:  smtpd.DefaultConfig(),
		IMAP:  imapd.DefaultConfig(),
		POP3:  pop3d.DefaultConfig(),
		Queue: queue.DefaultConfig(),
	}
}

// acmeCA returns the ACME directory URL the configuration selects.
func (t TLSConfig) acmeCA() string {
	switch {
	case t.CA != "":
		return t.CA
	case t.Staging:
		return letsEncryptStaging
	}
	return letsEncryptProduction
}

// certNames returns the names the certificate must cover.
func (c Config) certNames() []string {
	names := []string{c.Hostname}
	for _, n := range c.TLS.Names {
		if n != c.Hostname {
			names = append(names, n)
		}
	}
	return names
}
