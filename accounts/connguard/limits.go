package connguard

import (
	"errors"
	"fmt"
	"time"
)

// Limits are the connection limits and pre-login deadlines of one Guard.
// Front ends embed it in their Config, so every section of postern.toml
// spells them the same way. A zero field takes the default the front end
// passes to WithDefaults.
type Limits struct {
	// MaxConnections bounds all connections, logged in or not; more
	// are refused.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP bounds the connections not yet logged in from
	// one IPv4 address or IPv6 /64.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// MaxConnectionsPerNetwork bounds the connections not yet logged in
	// from one IPv4 /24 or IPv6 /48. Below MaxConnections.
	MaxConnectionsPerNetwork int `toml:"max_connections_per_network"`
	// TLSHandshakeTimeout bounds a TLS handshake, on implicit-TLS ports
	// and after STARTTLS/STLS.
	TLSHandshakeTimeout time.Duration `toml:"tls_handshake_timeout"`
	// LoginCommandTimeout bounds the wait for each command before login.
	LoginCommandTimeout time.Duration `toml:"login_command_timeout"`
	// LoginLifetime is the time from accept by which a connection must
	// have logged in.
	LoginLifetime time.Duration `toml:"login_lifetime"`
}

// Defaults shared by every front end (each chooses its MaxConnections).
const (
	// DefaultMaxConnectionsPerIP lets one address (a household behind
	// one router) open this many connections that are not logged in yet.
	DefaultMaxConnectionsPerIP = 20
	// DefaultMaxConnectionsPerNetwork is the same for a /24 or /48.
	DefaultMaxConnectionsPerNetwork = 100
	// DefaultTLSHandshakeTimeout bounds a handshake; real clients need
	// well under a second.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultLoginCommandTimeout bounds the wait for each command before
	// login; clients send their next command at once.
	DefaultLoginCommandTimeout = time.Minute
	// DefaultLoginLifetime is Dovecot's 3 minutes for a client to log in.
	DefaultLoginLifetime = 3 * time.Minute
	// MinTimeout and MaxTimeout bound the durations.
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
)

// DefaultLimits returns the shared defaults with maxConns as
// MaxConnections.
func DefaultLimits(maxConns int) Limits {
	return Limits{
		MaxConnections:           maxConns,
		MaxConnectionsPerIP:      DefaultMaxConnectionsPerIP,
		MaxConnectionsPerNetwork: DefaultMaxConnectionsPerNetwork,
		TLSHandshakeTimeout:      DefaultTLSHandshakeTimeout,
		LoginCommandTimeout:      DefaultLoginCommandTimeout,
		LoginLifetime:            DefaultLoginLifetime,
	}
}

// WithDefaults returns l with zero (or negative) fields taken from d.
func (l Limits) WithDefaults(d Limits) Limits {
	setInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	setInt(&l.MaxConnections, d.MaxConnections)
	setInt(&l.MaxConnectionsPerIP, d.MaxConnectionsPerIP)
	setInt(&l.MaxConnectionsPerNetwork, d.MaxConnectionsPerNetwork)
	setDur(&l.TLSHandshakeTimeout, d.TLSHandshakeTimeout)
	setDur(&l.LoginCommandTimeout, d.LoginCommandTimeout)
	setDur(&l.LoginLifetime, d.LoginLifetime)
	return l
}

// Validate reports every field out of range, one error per field, each
// starting with its TOML key.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max_connections: must be at least 1, got %d", l.MaxConnections))
	} else if l.MaxConnectionsPerNetwork < 1 || l.MaxConnectionsPerNetwork >= l.MaxConnections {
		errs = append(errs, fmt.Errorf("max_connections_per_network: must be at least 1 and below max_connections (%d), so one network cannot take every connection; got %d",
			l.MaxConnections, l.MaxConnectionsPerNetwork))
	}
	if l.MaxConnectionsPerIP < 1 {
		errs = append(errs, fmt.Errorf("max_connections_per_ip: must be at least 1, got %d", l.MaxConnectionsPerIP))
	} else if l.MaxConnectionsPerNetwork >= 1 && l.MaxConnectionsPerIP > l.MaxConnectionsPerNetwork {
		errs = append(errs, fmt.Errorf("max_connections_per_ip: must not exceed max_connections_per_network (%d), got %d",
			l.MaxConnectionsPerNetwork, l.MaxConnectionsPerIP))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"tls_handshake_timeout", l.TLSHandshakeTimeout},
		{"login_command_timeout", l.LoginCommandTimeout},
		{"login_lifetime", l.LoginLifetime},
	} {
		if d.v < MinTimeout || d.v > MaxTimeout {
			errs = append(errs, fmt.Errorf("%s: must be between %v and %v, got %v", d.key, MinTimeout, MaxTimeout, d.v))
		}
	}
	return errors.Join(errs...)
}
