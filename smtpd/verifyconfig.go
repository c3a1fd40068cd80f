package smtpd

import (
	"fmt"
	"time"

	"postern/smtpd/inbound"
)

// VerifyConfig holds the tunables of sender verification on port 25
// (verify.go), part of the [smtp] section.
type VerifyConfig struct {
	// VerifySenders turns on SPF, DKIM and DMARC checks of mail received
	// on port 25, the Authentication-Results header and the DMARC
	// policy. nil takes the default, on.
	VerifySenders *bool `toml:"verify_senders"`
	// DMARCRejectToJunk files a message whose DMARC policy says reject
	// into the recipient's Junk folder instead of refusing it with 550
	// 5.7.1.
	DMARCRejectToJunk bool `toml:"dmarc_reject_to_junk"`
	// DNSTimeout bounds the DNS lookups of one message, SPF, DKIM and
	// DMARC together; a check that runs out of time is a temperror.
	DNSTimeout time.Duration `toml:"dns_timeout"`
	// Resolver answers the checks' DNS questions; the system resolver
	// when nil. Not in the file: tests set it.
	Resolver inbound.Resolver `toml:"-"`
}

// verifying reports whether sender verification is on.
func (c VerifyConfig) verifying() bool { return c.VerifySenders == nil || *c.VerifySenders }

// DefaultDNSTimeout is dns_timeout's default.
const DefaultDNSTimeout = inbound.DefaultTimeout

// defaultVerifyConfig is VerifyConfig's part of DefaultConfig.
func defaultVerifyConfig() VerifyConfig {
	on := true
	return VerifyConfig{VerifySenders: &on, DNSTimeout: DefaultDNSTimeout}
}

// validate reports a dns_timeout out of MinTimeout..MaxTimeout.
func (c VerifyConfig) validate() error {
	if c.DNSTimeout < MinTimeout || c.DNSTimeout > MaxTimeout {
		return fmt.Errorf("dns_timeout: must be between %v and %v, got %v", MinTimeout, MaxTimeout, c.DNSTimeout)
	}
	return nil
}

// withDefaults fills in a nil VerifySenders and a zero DNSTimeout.
func (c VerifyConfig) withDefaults() VerifyConfig {
	if c.VerifySenders == nil {
		c.VerifySenders = defaultVerifyConfig().VerifySenders
	}
	if c.DNSTimeout <= 0 {
		c.DNSTimeout = DefaultDNSTimeout
	}
	return c
}
