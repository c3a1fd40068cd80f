package imapd

import (
	"errors"
	"fmt"
	"math"
	"time"

	"postern/accounts/connguard"
)

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
	// DefaultMaxMessageBytes is the largest message APPEND accepts,
	// advertised as APPENDLIMIT (RFC 7889).
	DefaultMaxMessageBytes = 50 << 20
	// MaxMaxMessageBytes is the hard maximum of MaxMessageBytes: the
	// APPENDLIMIT value and message sizes are 32-bit numbers in go-imap.
	MaxMaxMessageBytes = math.MaxUint32
	// DefaultMaxConnectionsPerUserIP is how many sessions one user may
	// hold from one address (families behind one router, clients with
	// many folders).
	DefaultMaxConnectionsPerUserIP = 50
	// DefaultMaxConnections bounds all IMAP sessions of the process.
	DefaultMaxConnections = 2000
	// MinTimeout and MaxTimeout bound every duration of Config.
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
)

// Config holds the IMAP server's tunables ([imap] in postern.toml). A
// zero field takes its default; Validate rejects the values a file may
// not set.
type Config struct {
	// IdleKeepalive is the interval of "* OK Still here" during IDLE.
	// Default 4m.
	IdleKeepalive time.Duration `toml:"idle_keepalive"`
	// IdleTimeout ends a silent session outside IDLE. Default 30m.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// CommandTimeout bounds reading one command or literal. Default 2m.
	CommandTimeout time.Duration `toml:"command_timeout"`
	// MaxMessageBytes is the largest APPEND in bytes, advertised as
	// APPENDLIMIT. Default 52428800 (50 MiB), at most 4294967295.
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// MaxConnectionsPerUserIP limits sessions per user and remote
	// address. Default 50.
	MaxConnectionsPerUserIP int `toml:"max_connections_per_user_ip"`
	// Limits are the connection limits and pre-login deadlines
	// (max_connections — all IMAP connections, default 2000 —,
	// max_connections_per_ip, max_connections_per_network,
	// tls_handshake_timeout, login_command_timeout, login_lifetime), for
	// ports 143 and 993 together; see connguard.
	connguard.Limits

	// Command cost limits (costs.go): SEARCH, and FETCH of envelopes,
	// structures or body sections, are "busy" commands.
	//
	// MaxBusyCommandsPerUser is how many busy commands of one user run at
	// once; more wait in line. Default 2.
	MaxBusyCommandsPerUser int `toml:"max_busy_commands_per_user"`
	// MaxBusyCommands is how many busy commands run at once in all;
	// 0 means twice the CPUs Go uses (GOMAXPROCS). Default 0.
	MaxBusyCommands int `toml:"max_busy_commands"`
	// BusyWait is how long a busy command waits in line before it is
	// refused with NO [LIMIT]. Default 1m.
	BusyWait time.Duration `toml:"busy_wait"`
	// MaxCommandMemory bounds the message data (files read, sections
	// extracted) one command holds at once; beyond it the command gets
	// NO [LIMIT]. Default 134217728 (128 MiB), at least 1048576.
	MaxCommandMemory int64 `toml:"max_command_memory"`
	// MaxTotalCommandMemory bounds the message data all commands hold
	// at once. Default 536870912 (512 MiB), at least MaxCommandMemory.
	MaxTotalCommandMemory int64 `toml:"max_total_command_memory"`
}

// RenamedKeys maps the [imap] key names of earlier versions, still
// accepted, to the keys that replaced them.
func RenamedKeys() map[string]string {
	return map[string]string{
		"append_limit":          "max_message_bytes",
		"max_conns_per_user_ip": "max_connections_per_user_ip",
		"max_conns":             "max_connections",
	}
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		IdleKeepalive:           DefaultIdleKeepalive,
		IdleTimeout:             DefaultIdleTimeout,
		CommandTimeout:          DefaultCommandTimeout,
		MaxMessageBytes:         DefaultMaxMessageBytes,
		MaxConnectionsPerUserIP: DefaultMaxConnectionsPerUserIP,
		Limits:                  connguard.DefaultLimits(DefaultMaxConnections),
		// Command cost limits (costs.go).
		MaxBusyCommandsPerUser: DefaultMaxBusyCommandsPerUser,
		BusyWait:               DefaultBusyWait,
		MaxCommandMemory:       DefaultMaxCommandMemory,
		MaxTotalCommandMemory:  DefaultMaxTotalCommandMemory,
	}
}

// Validate reports every field out of its range, one error per field,
// each starting with the field's TOML key ("max_connections: must be at
// least 1, got 0").
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"idle_keepalive", c.IdleKeepalive},
		{"idle_timeout", c.IdleTimeout},
		{"command_timeout", c.CommandTimeout},
	} {
		if d.v < MinTimeout || d.v > MaxTimeout {
			errs = append(errs, fmt.Errorf("%s: must be between %v and %v, got %v", d.key, MinTimeout, MaxTimeout, d.v))
		}
	}
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxMaxMessageBytes {
		errs = append(errs, fmt.Errorf("max_message_bytes: must be between 1 and %d, got %d", int64(MaxMaxMessageBytes), c.MaxMessageBytes))
	}
	if c.MaxConnectionsPerUserIP < 1 {
		errs = append(errs, fmt.Errorf("max_connections_per_user_ip: must be at least 1, got %d", c.MaxConnectionsPerUserIP))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	// Command cost limits (costs.go).
	if c.MaxBusyCommandsPerUser < 1 {
		errs = append(errs, fmt.Errorf("max_busy_commands_per_user: must be at least 1, got %d", c.MaxBusyCommandsPerUser))
	}
	if c.MaxBusyCommands < 0 {
		errs = append(errs, fmt.Errorf("max_busy_commands: must be at least 0 (0: twice the CPUs), got %d", c.MaxBusyCommands))
	}
	if c.BusyWait < MinTimeout || c.BusyWait > MaxTimeout {
		errs = append(errs, fmt.Errorf("busy_wait: must be between %v and %v, got %v", MinTimeout, MaxTimeout, c.BusyWait))
	}
	if c.MaxCommandMemory < MinCommandMemory {
		errs = append(errs, fmt.Errorf("max_command_memory: must be at least %d, got %d", MinCommandMemory, c.MaxCommandMemory))
	}
	if c.MaxTotalCommandMemory < c.MaxCommandMemory {
		errs = append(errs, fmt.Errorf("max_total_command_memory: must be at least max_command_memory (%d), got %d", c.MaxCommandMemory, c.MaxTotalCommandMemory))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero (or negative) fields with their defaults: a
// Config built in Go may leave out what it does not care about, and one
// read from a file has passed Validate.
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
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxConnectionsPerUserIP <= 0 {
		c.MaxConnectionsPerUserIP = d.MaxConnectionsPerUserIP
	}
	c.Limits = c.Limits.WithDefaults(d.Limits)
	// Command cost limits (costs.go); MaxBusyCommands 0 stays 0 (auto).
	if c.MaxBusyCommandsPerUser <= 0 {
		c.MaxBusyCommandsPerUser = d.MaxBusyCommandsPerUser
	}
	if c.MaxBusyCommands < 0 {
		c.MaxBusyCommands = 0
	}
	if c.BusyWait <= 0 {
		c.BusyWait = d.BusyWait
	}
	if c.MaxCommandMemory <= 0 {
		c.MaxCommandMemory = d.MaxCommandMemory
	}
	if c.MaxTotalCommandMemory <= 0 {
		c.MaxTotalCommandMemory = max(d.MaxTotalCommandMemory, c.MaxCommandMemory)
	}
	return c
}
