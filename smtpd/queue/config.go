package queue

import (
	"errors"
	"fmt"
	"math"
	"net"
	"time"
)

// Config is the [queue] section of Postern's configuration. A zero field
// takes its default (see withDefaults); Validate rejects the values a
// file may not set. Durations are strings such as "5m" in TOML, as in
// every section.
type Config struct {
	// Hostname is the name sent in EHLO and used in Message-IDs and
	// bounces. It should match the server's PTR record.
	Hostname string `toml:"hostname"`
	// Resolver is the "host:port" of the DNS server used for MX and
	// address lookups; "" uses the system resolver.
	Resolver string `toml:"resolver"`
	// MXPort is the TCP port MX hosts are contacted on (25, RFC 5321
	// section 4.5.4); only tests change it.
	MXPort int `toml:"mx_port"`
	// Lifetime is how long a temporarily failing recipient is retried
	// before the message bounces (RFC 5321 section 4.5.4.1 suggests at
	// least 4-5 days).
	Lifetime time.Duration `toml:"lifetime"`
	// Retry is the list of waits between attempts; the last one repeats.
	Retry []time.Duration `toml:"retry"`
	// WarnAfter is when the sender of a message still not delivered gets
	// one "delayed" notification (RFC 3464); 0 sends none.
	WarnAfter time.Duration `toml:"warn_after"`
	// Workers is how many messages are delivered at the same time.
	Workers int `toml:"workers"`
	// ConnectTimeout bounds each TCP connection attempt.
	ConnectTimeout time.Duration `toml:"connect_timeout"`
	// CommandTimeout bounds the greeting and each command's reply (RFC
	// 5321 section 4.5.3.2 recommends 5 minutes).
	CommandTimeout time.Duration `toml:"command_timeout"`
	// DataTimeout bounds the reply to the end of the message data (RFC
	// 5321 section 4.5.3.2.6: 10 minutes).
	DataTimeout time.Duration `toml:"data_timeout"`
	// RequireTLS refuses to deliver to an MX without STARTTLS (no
	// plaintext fallback). Certificates of MX hosts are still not
	// verified: without MTA-STS or DANE there is nothing to verify against.
	RequireTLS bool `toml:"require_tls"`
	// MaxMessageBytes is the largest message Enqueue accepts.
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// Smarthost, when Address is set, relays mail through an upstream
	// server instead of delivering by MX.
	Smarthost Smarthost `toml:"smarthost"`
}

// Smarthost is an upstream relay (often required on VPS providers that
// block outbound port 25). TLS is always required toward it: STARTTLS on
// a plain port (587), or implicit TLS (465), and its certificate is
// verified.
type Smarthost struct {
	// Address is "host:port" of the relay, such as "smtp.example.net:587".
	Address string `toml:"address"`
	// ImplicitTLS connects with TLS from the first byte (port 465)
	// instead of STARTTLS.
	ImplicitTLS bool `toml:"implicit_tls"`
	// Username and Password are the AUTH PLAIN/LOGIN credentials; empty
	// means no AUTH.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Domains limits the relay to these recipient domains; empty means
	// all mail goes through the relay.
	Domains []string `toml:"domains"`
	// CAFile is a PEM bundle to verify the relay's certificate with
	// instead of the system roots.
	CAFile string `toml:"ca_file"`
}

// Duration is time.Duration, the one duration type of every section.
//
// Deprecated: use time.Duration; this name remains for older code.
type Duration = time.Duration

// Defaults, named so the documentation can cite them.
const (
	// DefaultMXPort is the SMTP port (RFC 5321 section 4.5.4).
	DefaultMXPort = 25
	// DefaultLifetime is how long a message is retried (5 days, RFC
	// 5321 section 4.5.4.1).
	DefaultLifetime = 5 * 24 * time.Hour
	// DefaultWarnAfter is when a delay warning is sent (4 hours, as
	// Postfix's delay_warning_time is usually set).
	DefaultWarnAfter = 4 * time.Hour
	// DefaultWorkers is the number of concurrent deliveries.
	DefaultWorkers = 16
	// DefaultConnectTimeout bounds one TCP connect.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultCommandTimeout is RFC 5321 section 4.5.3.2's 5 minutes.
	DefaultCommandTimeout = 5 * time.Minute
	// DefaultDataTimeout is RFC 5321 section 4.5.3.2.6's 10 minutes.
	DefaultDataTimeout = 10 * time.Minute
	// DefaultMaxMessageBytes is the largest message accepted (50 MiB).
	DefaultMaxMessageBytes = 50 << 20
	// MaxMaxMessageBytes is the hard maximum of MaxMessageBytes, the
	// same as for SMTP and IMAP (32-bit message sizes in IMAP).
	MaxMaxMessageBytes = math.MaxUint32
	// MinTimeout and MaxTimeout bound the connection timeouts and each
	// retry wait.
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
	// MinLifetime and MaxLifetime bound Lifetime.
	MinLifetime = time.Minute
	MaxLifetime = 30 * 24 * time.Hour
	// ControlPoll is how often the queue looks for operator requests.
	ControlPoll = time.Second
	// busyRetry is when an attempt that found its message being worked
	// on is tried again.
	busyRetry = time.Second
	// maxIdle bounds the dispatcher's sleep when nothing is due.
	maxIdle = time.Hour
	// maxIDLen bounds queue ids (they are file names).
	maxIDLen = 64
	// bounceGrace is how long past the lifetime a bounce that cannot be
	// handed on (say, the sender's mailbox is over quota) is retried.
	bounceGrace = 24 * time.Hour
	// maxHeaderBytesInDSN bounds the original header block quoted in a
	// bounce.
	maxHeaderBytesInDSN = 64 << 10
)

// DefaultConfig returns the configuration used for every key the operator
// leaves out.
func DefaultConfig() Config {
	c := Config{
		MXPort:          DefaultMXPort,
		Lifetime:        DefaultLifetime,
		WarnAfter:       DefaultWarnAfter,
		Workers:         DefaultWorkers,
		ConnectTimeout:  DefaultConnectTimeout,
		CommandTimeout:  DefaultCommandTimeout,
		DataTimeout:     DefaultDataTimeout,
		MaxMessageBytes: DefaultMaxMessageBytes,
	}
	c.Retry = append(c.Retry, defaultRetry...)
	return c
}

// Validate reports every field out of its range, one error per field,
// each starting with the field's TOML key ("workers: must be at least 1,
// got 0"; "smarthost.address: ..." for the [queue.smarthost] keys).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Resolver != "" {
		if _, _, err := net.SplitHostPort(c.Resolver); err != nil {
			bad("resolver: not a host:port address: %q", c.Resolver)
		}
	}
	if c.MXPort < 1 || c.MXPort > 65535 {
		bad("mx_port: must be between 1 and 65535, got %d", c.MXPort)
	}
	lifetimeOK := c.Lifetime >= MinLifetime && c.Lifetime <= MaxLifetime
	if !lifetimeOK {
		bad("lifetime: must be between %v and %v, got %v", MinLifetime, MaxLifetime, c.Lifetime)
	}
	if len(c.Retry) == 0 {
		bad("retry: must list at least one wait")
	}
	for _, d := range c.Retry {
		if d < MinTimeout || d > MaxTimeout {
			bad("retry: each wait must be between %v and %v, got %v", MinTimeout, MaxTimeout, d)
			break
		}
	}
	if c.WarnAfter < 0 || lifetimeOK && c.WarnAfter >= c.Lifetime {
		bad("warn_after: must be 0 (no warning) or less than lifetime (%v), got %v", c.Lifetime, c.WarnAfter)
	}
	if c.Workers < 1 {
		bad("workers: must be at least 1, got %d", c.Workers)
	}
	for _, t := range []struct {
		key string
		v   time.Duration
	}{{"connect_timeout", c.ConnectTimeout}, {"command_timeout", c.CommandTimeout}, {"data_timeout", c.DataTimeout}} {
		if t.v < MinTimeout || t.v > MaxTimeout {
			bad("%s: must be between %v and %v, got %v", t.key, MinTimeout, MaxTimeout, t.v)
		}
	}
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxMaxMessageBytes {
		bad("max_message_bytes: must be between 1 and %d, got %d", int64(MaxMaxMessageBytes), c.MaxMessageBytes)
	}
	if a := c.Smarthost.Address; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("smarthost.address: not a host:port address: %q", a)
		}
	}
	if c.Smarthost.Username != "" && c.Smarthost.Password == "" {
		bad("smarthost.password: needed with smarthost.username")
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MXPort == 0 {
		c.MXPort = d.MXPort
	}
	if c.Lifetime == 0 {
		c.Lifetime = d.Lifetime
	}
	if len(c.Retry) == 0 {
		c.Retry = d.Retry
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	if c.DataTimeout == 0 {
		c.DataTimeout = d.DataTimeout
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	return c
}
