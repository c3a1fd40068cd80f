package smtpd

import (
	"net/netip"
	"strings"
)

// allowlist is allow_addresses and allow_sender_domains, parsed: the
// clients and senders exempt from the port 25 defences (see
// Config.AllowAddresses). It is read-only after newAllowlist.
type allowlist struct {
	prefixes []netip.Prefix
	domains  map[string]bool // lower case, no trailing dot
}

// newAllowlist parses the Config's lists; entries that do not parse
// (only possible in a Config built in Go, since Validate rejects them)
// are skipped.
func newAllowlist(c Config) allowlist {
	a := allowlist{domains: map[string]bool{}}
	for _, s := range c.AllowAddresses {
		if p, err := parseAllowPrefix(s); err == nil {
			a.prefixes = append(a.prefixes, p)
		}
	}
	for _, d := range c.AllowSenderDomains {
		a.domains[normDomain(d)] = true
	}
	return a
}

// normDomain lower-cases d and drops a trailing dot.
func normDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

// address reports whether ip is in allow_addresses.
func (a allowlist) address(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// senderDomain reports whether the domain of the envelope sender addr
// ("user@domain", or a bare domain) is in allow_sender_domains.
func (a allowlist) senderDomain(addr string) bool {
	if len(a.domains) == 0 || addr == "" {
		return false
	}
	return a.domains[normDomain(addr[strings.LastIndexByte(addr, '@')+1:])]
}

// AllowedAddress reports whether ip is in the port 25 allowlist
// (allow_addresses): such clients skip the rate limits, the
// unknown-recipient limit and the DNS blocklists. Always false on the
// submission server.
func (s *Server) AllowedAddress(ip netip.Addr) bool {
	return s.defences != nil && s.defences.allow.address(ip)
}

// AllowedSenderDomain reports whether the domain of the envelope sender
// addr is in the port 25 allowlist (allow_sender_domains). The sender is
// whatever the client claimed in MAIL FROM: a check that trusts it for
// more than rate limits should require it to pass SPF or DMARC first.
// Always false on the submission server.
func (s *Server) AllowedSenderDomain(addr string) bool {
	return s.defences != nil && s.defences.allow.senderDomain(addr)
}

// allowlisted reports whether the session's client address, or the
// sender of its current transaction, is in the port 25 allowlist.
func (s *session) allowlisted() bool {
	return s.srv.AllowedAddress(s.remoteIP) || s.srv.AllowedSenderDomain(s.from)
}
