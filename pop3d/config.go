package pop3d

import (
	"errors"
	"fmt"
	"time"

	"postern/accounts/connguard"
)

// Config holds the POP3 server's tunables ([pop3] in postern.toml). A zero
// field takes its default (the defaults are in limits.go); Validate
// rejects the values a file may not set.
type Config struct {
	// Household makes DELE hide a message from POP3 only: it gets the
	// keyword $POP3Deleted and stays in the mailbox for IMAP clients.
	// Default false (DELE + QUIT expunge the message).
	Household bool `toml:"household"`

	// IdleTimeout closes a logged-in session that sends no command for
	// this long, without applying its deletions. Default 10m (the
	// minimum allowed by RFC 1939 §3).
	IdleTimeout time.Duration `toml:"idle_timeout"`

	// MaxErrors is the number of -ERR replies after which the connection
	// is closed. Default 10.
	MaxErrors int `toml:"max_errors"`

	// Limits are the connection limits and pre-login deadlines
	// (max_connections — all POP3 connections, default 500 —,
	// max_connections_per_ip, max_connections_per_network,
	// tls_handshake_timeout, login_command_timeout — a connection not
	// logged in is closed after this long without a command, formerly
	// login_timeout —, login_lifetime), for ports 110 and 995 together;
	// connections over a limit are answered "-ERR [SYS/TEMP]" and closed.
	// See connguard.
	connguard.Limits
}

// RenamedKeys maps the [pop3] key names of earlier versions, still
// accepted, to the keys that replaced them.
func RenamedKeys() map[string]string {
	return map[string]string{"login_timeout": "login_command_timeout"}
}

// MinTimeout and MaxTimeout bound IdleTimeout.
const (
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		Household:   false,
		IdleTimeout: DefaultIdleTimeout,
		MaxErrors:   DefaultMaxErrors,
		Limits:      connguard.DefaultLimits(DefaultMaxConnections),
	}
}

// Validate reports every field out of its range, one error per field,
// each starting with the field's TOML key ("max_connections: must be at
// least 1, got 0").
func (c Config) Validate() error {
	var errs []error
	if c.IdleTimeout < MinTimeout || c.IdleTimeout > MaxTimeout {
		errs = append(errs, fmt.Errorf("idle_timeout: must be between %v and %v, got %v", MinTimeout, MaxTimeout, c.IdleTimeout))
	}
	if c.MaxErrors < 1 {
		errs = append(errs, fmt.Errorf("max_errors: must be at least 1, got %d", c.MaxErrors))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero (or negative) fields replaced by their
// defaults: a Config built in Go may leave out what it does not care
// about, and one read from a file has passed Validate.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = d.MaxErrors
	}
	c.Limits = c.Limits.WithDefaults(d.Limits)
	return c
}
