package smtpd

import (
	"errors"
	"fmt"
	"math"
	"time"

	"postern/accounts/connguard"
)

// Config holds the SMTP servers' tunables (the [smtp] section of
// postern.toml). A zero field takes its default; Validate rejects the
// values a file may not set. Durations are strings such as "5m" in TOML,
// as in every section.
type Config struct {
	// MaxMessageBytes is the largest message accepted, advertised as
	// SIZE (RFC 1870); larger ones get 552 5.3.4.
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// MaxRecipients bounds RCPT commands per message; more get 452
	// 4.5.3. At least 100, the minimum RFC 5321 section 4.5.3.1.8
	// requires servers to accept (a Config built in Go with less is
	// raised to 100).
	MaxRecipients int `toml:"max_recipients"`
	// MaxLineLength bounds a command line and a line of message data, in
	// octets. RFC 5321 section 4.5.3.1.6 sets 1000 for text lines; real
	// mail exceeds it, so the default is generous. A longer line ends the
	// connection with 500 5.4.0 and nothing is delivered. At least 1000.
	MaxLineLength int `toml:"max_line_length"`
	// ReadTimeout bounds the wait for each command (RFC 5321 section
	// 4.5.3.2.7 asks servers to wait at least 5 minutes).
	ReadTimeout time.Duration `toml:"read_timeout"`
	// WriteTimeout bounds each reply written to the client.
	WriteTimeout time.Duration `toml:"write_timeout"`
	// DataTimeout bounds each read of message data (DATA or BDAT): a
	// client silent this long in the middle of a message is disconnected
	// and nothing is delivered (RFC 5321 section 4.5.3.2.5: 3 minutes on
	// the client's side; servers wait longer).
	DataTimeout time.Duration `toml:"data_timeout"`
	// Limits are the connection limits and pre-login deadlines
	// (max_connections, max_connections_per_ip,
	// max_connections_per_network, tls_handshake_timeout,
	// login_command_timeout, login_lifetime), counted per server: port
	// 25, or 587 and 465 together. Connections over a limit are answered
	// 421 4.7.0 and closed. Port 25 has no login: there the per-IP and
	// per-network limits hold for the whole session and the login
	// deadlines do not apply (read_timeout does).
	connguard.Limits
	// VerifyConfig is sender verification on port 25 (verify.go,
	// verifyconfig.go): verify_senders, dmarc_reject_to_junk,
	// dns_timeout.
	VerifyConfig

	// Port 25 defences (ratelimit.go, dnsbl.go, allow.go; docs/smtp.md,
	// "Rate limits and blocklists on port 25"). They apply to the MX
	// server only, never to submission.
	//
	// MaxConnectionsPerMinute, MaxMessagesPerMinute and
	// MaxRecipientsPerMinute are token buckets per source address (IPv4
	// address, IPv6 /64) that hold this many and refill at this rate per
	// minute; each source's network (IPv4 /24, IPv6 /48) has buckets
	// NetworkRateFactor times larger. A connection over its rate gets
	// 421 4.7.0 before the greeting; a MAIL or RCPT over its rate gets
	// 451 4.7.1.
	MaxConnectionsPerMinute int `toml:"max_connections_per_minute"`
	MaxMessagesPerMinute    int `toml:"max_messages_per_minute"`
	MaxRecipientsPerMinute  int `toml:"max_recipients_per_minute"`
	// MaxUnknownRecipients is how many RCPTs for addresses that do not
	// exist one connection may send; the next gets 421 4.7.0 and the
	// connection is closed (directory harvest).
	MaxUnknownRecipients int `toml:"max_unknown_recipients"`
	// MaxProtocolErrors is how many 500-503 replies (malformed or
	// out-of-sequence commands) one connection may get; with the last
	// one it also gets 421 4.7.0 and is closed.
	MaxProtocolErrors int `toml:"max_protocol_errors"`
	// DNSBLZones are DNS blocklists (such as "zen.spamhaus.org") asked
	// about every client address at connect; a listed client gets 554
	// 5.7.1 instead of the greeting. Empty: no lookups.
	DNSBLZones []string `toml:"dnsbl_zones"`
	// DNSBLTimeout bounds the lookups of one connection (all zones
	// together); past it the client is served as if unlisted.
	DNSBLTimeout time.Duration `toml:"dnsbl_timeout"`
	// AllowAddresses are addresses and networks ("192.0.2.0/24",
	// "2001:db8::1") exempt from the rate limits, the unknown-recipient
	// limit and the blocklists.
	AllowAddresses []string `toml:"allow_addresses"`
	// AllowSenderDomains are envelope sender domains whose messages are
	// exempt from the message and recipient rate limits and the
	// unknown-recipient limit (exact match; the sender is not verified,
	// see Server.AllowedSenderDomain).
	AllowSenderDomains []string `toml:"allow_sender_domains"`
}

// Defaults of the Config fields, named so the documentation can cite them.
const (
	// DefaultMaxMessageBytes is 50 MiB, the queue's own default limit.
	DefaultMaxMessageBytes = 50 << 20
	// DefaultMaxRecipients is RFC 5321 section 4.5.3.1.8's minimum.
	DefaultMaxRecipients = 100
	// MinMaxRecipients is the floor of MaxRecipients (RFC 5321 section
	// 4.5.3.1.8).
	MinMaxRecipients = 100
	// MaxMaxMessageBytes is the hard maximum of MaxMessageBytes: a larger
	// message could not be read over IMAP, whose sizes are 32-bit
	// numbers (see imapd.MaxMaxMessageBytes).
	MaxMaxMessageBytes = math.MaxUint32
	// DefaultMaxLineLength is eight times RFC 5321's 1000 octets.
	DefaultMaxLineLength = 8000
	// MinMaxLineLength is RFC 5321 section 4.5.3.1.6's text line length,
	// the least a server must accept.
	MinMaxLineLength = 1000
	// DefaultReadTimeout is RFC 5321 section 4.5.3.2.7's 5 minutes.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultWriteTimeout bounds one reply.
	DefaultWriteTimeout = time.Minute
	// DefaultDataTimeout bounds each read inside a message.
	DefaultDataTimeout = 5 * time.Minute
	// DefaultMaxConnections bounds one server's concurrent connections.
	DefaultMaxConnections = 500
	// DefaultMaxConnectionsPerIP bounds one source's concurrent
	// connections (Postfix's smtpd_client_connection_count_limit is 50;
	// a personal server needs fewer).
	DefaultMaxConnectionsPerIP = connguard.DefaultMaxConnectionsPerIP
	// Port 25 defences (see Config.MaxConnectionsPerMinute and below).
	DefaultMaxConnectionsPerMinute = 60
	DefaultMaxMessagesPerMinute    = 30
	DefaultMaxRecipientsPerMinute  = 100
	// NetworkRateFactor: a network's rate limits are this many times
	// its addresses' (a /24 of a few busy senders stays served).
	NetworkRateFactor = 5
	// DefaultMaxUnknownRecipients is the directory-harvest bound.
	DefaultMaxUnknownRecipients = 5
	// DefaultMaxProtocolErrors is chasquid's bound on errors per
	// connection.
	DefaultMaxProtocolErrors = 3
	// DefaultDNSBLTimeout bounds the blocklist lookups of a connection;
	// MaxDNSBLTimeout is the most it may be set to (the greeting waits
	// for the lookups).
	DefaultDNSBLTimeout = 5 * time.Second
	MaxDNSBLTimeout     = 30 * time.Second
	// MaxPerMinute bounds the per-minute limits.
	MaxPerMinute = 1_000_000
	// MinTimeout and MaxTimeout bound every duration of Config.
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		MaxMessageBytes: DefaultMaxMessageBytes,
		MaxRecipients:   DefaultMaxRecipients,
		MaxLineLength:   DefaultMaxLineLength,
		ReadTimeout:     time.Duration(DefaultReadTimeout),
		WriteTimeout:    time.Duration(DefaultWriteTimeout),
		DataTimeout:     time.Duration(DefaultDataTimeout),
		Limits:          connguard.DefaultLimits(DefaultMaxConnections),
		VerifyConfig:    defaultVerifyConfig(),

		MaxConnectionsPerMinute: DefaultMaxConnectionsPerMinute,
		MaxMessagesPerMinute:    DefaultMaxMessagesPerMinute,
		MaxRecipientsPerMinute:  DefaultMaxRecipientsPerMinute,
		MaxUnknownRecipients:    DefaultMaxUnknownRecipients,
		MaxProtocolErrors:       DefaultMaxProtocolErrors,
		DNSBLTimeout:            DefaultDNSBLTimeout,
	}
}

// Validate reports every field out of its range, one error per field,
// each starting with the field's TOML key ("max_connections: must be at
// least 1, got 0").
func (c Config) Validate() error {
	var errs []error
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxMaxMessageBytes {
		errs = append(errs, fmt.Errorf("max_message_bytes: must be between 1 and %d, got %d", int64(MaxMaxMessageBytes), c.MaxMessageBytes))
	}
	if c.MaxRecipients < MinMaxRecipients {
		errs = append(errs, fmt.Errorf("max_recipients: must be at least %d (RFC 5321 section 4.5.3.1.8), got %d", MinMaxRecipients, c.MaxRecipients))
	}
	if c.MaxLineLength < MinMaxLineLength {
		errs = append(errs, fmt.Errorf("max_line_length: must be at least %d (RFC 5321 section 4.5.3.1.6), got %d", MinMaxLineLength, c.MaxLineLength))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"read_timeout", c.ReadTimeout}, {"write_timeout", c.WriteTimeout}, {"data_timeout", c.DataTimeout}} {
		if d.v < MinTimeout || d.v > MaxTimeout {
			errs = append(errs, fmt.Errorf("%s: must be between %v and %v, got %v", d.key, MinTimeout, MaxTimeout, d.v))
		}
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.VerifyConfig.validate(); err != nil { // verifyconfig.go
		errs = append(errs, err)
	}
	errs = append(errs, c.validatePort25Defences()...) // ratelimit_config.go
	return errors.Join(errs...)
}

// withDefaults returns c with zero (or negative) fields replaced by their
// defaults and MaxRecipients raised to MinMaxRecipients: a Config built
// in Go may leave out what it does not care about, and one read from a
// file has passed Validate.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = d.MaxRecipients
	}
	c.MaxRecipients = max(c.MaxRecipients, MinMaxRecipients)
	if c.MaxLineLength <= 0 {
		c.MaxLineLength = d.MaxLineLength
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = d.DataTimeout
	}
	c.Limits = c.Limits.WithDefaults(d.Limits)
	c.VerifyConfig = c.VerifyConfig.withDefaults()
	c = c.withPort25Defaults(d) // ratelimit_config.go
	return c
}
