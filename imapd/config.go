package imapd

import "time"

// Limits that come from the protocol or from experience with clients.
const (
	// DefaultIdleKeepalive is how often a session in IDLE gets an untagged
	// "* OK Still here", so carrier NAT keeps the mapping (RFC 2177 §3
	// asks clients to re-issue IDLE within 29 minutes; NATs drop far sooner).
	DefaultIdleKeepalive = 4 * time.Minute
	// DefaultIdleTimeout ends a session that sent nothing for this long
	// outside IDLE (RFC 9051 §5.4: at least 30 minutes).
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultCommandTimeout bounds the time to read one command line or
	// literal once it has started.
	DefaultCommandTimeout = 2 * time.Minute
	// DefaultAppendLimit is the largest message APPEND accepts (RFC 7889).
	DefaultAppendLimit = 50 << 20
	// DefaultMaxConnsPerUserIP is how many sessions one user may hold from
	// one address (families behind one router, clients with many folders).
	DefaultMaxConnsPerUserIP = 50
	// DefaultMaxConns bounds all IMAP sessions of the process.
	DefaultMaxConns = 2000
)

// Config holds the IMAP server's tunables ([imap] in postern.toml).
type Config struct {
	// IdleKeepalive is the interval of "* OK Still here" during IDLE.
	// Default 4m.
	IdleKeepalive time.Duration `toml:"idle_keepalive"`
	// IdleTimeout ends a silent session outside IDLE. Default 30m.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// CommandTimeout bounds reading one command or literal. Default 2m.
	CommandTimeout time.Duration `toml:"command_timeout"`
	// AppendLimit is the largest APPEND in bytes, advertised as
	// APPENDLIMIT. Default 52428800 (50 MiB).
	AppendLimit int64 `toml:"append_limit"`
	// MaxConnsPerUserIP limits sessions per user and remote address.
	// Default 50.
	MaxConnsPerUserIP int `toml:"max_conns_per_user_ip"`
	// MaxConns limits all IMAP sessions. Default 2000.
	MaxConns int `toml:"max_conns"`
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		IdleKeepalive:     DefaultIdleKeepalive,
		IdleTimeout:       DefaultIdleTimeout,
		CommandTimeout:    DefaultCommandTimeout,
		AppendLimit:       DefaultAppendLimit,
		MaxConnsPerUserIP: DefaultMaxConnsPerUserIP,
		MaxConns:          DefaultMaxConns,
	}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.IdleKeepalive <= 0 {
		c.IdleKeepalive = d.IdleKeepalive
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	if c.AppendLimit <= 0 {
		c.AppendLimit = d.AppendLimit
	}
	if c.MaxConnsPerUserIP <= 0 {
		c.MaxConnsPerUserIP = d.MaxConnsPerUserIP
	}
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	return c
}
