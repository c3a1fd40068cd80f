package pop3d

import "time"

// Config holds the POP3 server's tunables. The zero value of a field means
// its default.
type Config struct {
	// Household makes DELE hide a message from POP3 only: it gets the
	// keyword $POP3Deleted and stays in the mailbox for IMAP clients.
	// Default false (DELE + QUIT expunge the message).
	Household bool `toml:"household"`

	// IdleTimeout closes a logged-in session that sends no command for
	// this long, without applying its deletions. Default 10m (the
	// minimum allowed by RFC 1939 §3).
	IdleTimeout time.Duration `toml:"idle_timeout"`

	// LoginTimeout closes a connection that has not logged in after this
	// long without a command. Default 3m.
	LoginTimeout time.Duration `toml:"login_timeout"`

	// MaxErrors is the number of -ERR replies after which the connection
	// is closed. Default 10.
	MaxErrors int `toml:"max_errors"`

	// MaxConnections bounds concurrent connections; more are answered
	// "-ERR [SYS/TEMP]" and closed. Default 500.
	MaxConnections int `toml:"max_connections"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		Household:      false,
		IdleTimeout:    DefaultIdleTimeout,
		LoginTimeout:   DefaultLoginTimeout,
		MaxErrors:      DefaultMaxErrors,
		MaxConnections: DefaultMaxConnections,
	}
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = d.LoginTimeout
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = d.MaxErrors
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = d.MaxConnections
	}
	return c
}
