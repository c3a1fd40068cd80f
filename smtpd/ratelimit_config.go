package smtpd

import (
	"fmt"
	"net/netip"
	"strings"
)

// validatePort25Defences is the part of Config.Validate for the port 25
// defences: one error per key, each starting with the key.
func (c Config) validatePort25Defences() []error {
	var errs []error
	for _, l := range []struct {
		key string
		v   int
	}{
		{"max_connections_per_minute", c.MaxConnectionsPerMinute},
		{"max_messages_per_minute", c.MaxMessagesPerMinute},
		{"max_recipients_per_minute", c.MaxRecipientsPerMinute},
		{"max_unknown_recipients", c.MaxUnknownRecipients},
		{"max_protocol_errors", c.MaxProtocolErrors},
	} {
		if l.v < 1 || l.v > MaxPerMinute {
			errs = append(errs, fmt.Errorf("%s: must be between 1 and %d, got %d", l.key, MaxPerMinute, l.v))
		}
	}
	if c.DNSBLTimeout < MinTimeout || c.DNSBLTimeout > MaxDNSBLTimeout {
		errs = append(errs, fmt.Errorf("dnsbl_timeout: must be between %v and %v, got %v", MinTimeout, MaxDNSBLTimeout, c.DNSBLTimeout))
	}
	for _, z := range c.DNSBLZones {
		if !validDomain(z) {
			errs = append(errs, fmt.Errorf("dnsbl_zones: %q is not a domain name such as \"zen.spamhaus.org\"", z))
		}
	}
	for _, a := range c.AllowAddresses {
		if _, err := parseAllowPrefix(a); err != nil {
			errs = append(errs, fmt.Errorf("allow_addresses: %q is not an address or network such as \"192.0.2.0/24\"", a))
		}
	}
	for _, d := range c.AllowSenderDomains {
		if !validDomain(d) {
			errs = append(errs, fmt.Errorf("allow_sender_domains: %q is not a domain name such as \"partner.example\"", d))
		}
	}
	return errs
}

// withPort25Defaults is the part of Config.withDefaults for the port 25
// defences.
func (c Config) withPort25Defaults(d Config) Config {
	if c.MaxConnectionsPerMinute <= 0 {
		c.MaxConnectionsPerMinute = d.MaxConnectionsPerMinute
	}
	if c.MaxMessagesPerMinute <= 0 {
		c.MaxMessagesPerMinute = d.MaxMessagesPerMinute
	}
	if c.MaxRecipientsPerMinute <= 0 {
		c.MaxRecipientsPerMinute = d.MaxRecipientsPerMinute
	}
	if c.MaxUnknownRecipients <= 0 {
		c.MaxUnknownRecipients = d.MaxUnknownRecipients
	}
	if c.MaxProtocolErrors <= 0 {
		c.MaxProtocolErrors = d.MaxProtocolErrors
	}
	if c.DNSBLTimeout <= 0 {
		c.DNSBLTimeout = d.DNSBLTimeout
	}
	return c
}

// validDomain reports whether s looks like a DNS name with at least two
// labels: letters, digits, hyphens and underscores, no empty label, at
// most 253 octets (RFC 1035 section 2.3.4).
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
				return false
			}
		}
	}
	return true
}

// parseAllowPrefix parses an allow_addresses entry: a network
// ("192.0.2.0/24") or a single address ("2001:db8::1").
func parseAllowPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
