package smtpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// DNS blocklists (DNSBL, RFC 5782).
//
// At accept, the client's address is looked up under every zone of
// dnsbl_zones at once, in the background, all bounded together by
// dnsbl_timeout: the query for 192.0.2.99 under zen.spamhaus.org is an A
// query for 99.2.0.192.zen.spamhaus.org (IPv6: the 32 nibbles reversed,
// RFC 5782 section 2.4). An answer in 127.0.0.0/24 means listed. Other
// answers are errors, not listings: 127.255.255.x are Spamhaus's error
// codes (such as "queried through a public resolver"), and anything else
// comes from a resolver that rewrites NXDOMAIN. NXDOMAIN means not
// listed; a timeout or any error lets the client through, and is logged.
//
// go-smtp writes the greeting itself, right after accept, and offers no
// hook before it. The only place to answer instead is the connection
// below it: the greeting is the first thing go-smtp writes, so the
// trackedConn holds that write until the lookups end (ratelimit_conn.go).
// A listed client then gets "554 5.7.1 Service unavailable; client [ip]
// blocked using <zone>" instead of the greeting (RFC 5321 section 3.1
// allows 554 as the opening reply) and is disconnected; others get the
// greeting, later by at most dnsbl_timeout. Refusing before the greeting
// costs the blocked client nothing it can use: it never learns the
// server's capabilities and sends no command, and Postern parses none.
//
// Loopback, private, link-local and unspecified addresses are never
// looked up: no blocklist lists them, and the queries would leak internal
// addresses.

// dnsbl looks client addresses up in the configured zones.
type dnsbl struct {
	zones   []string
	timeout time.Duration
	// override replaces the resolver and allows loopback lookups; only
	// tests set it.
	override atomic.Pointer[dnsblOverride]
}

// dnsblOverride is the test hook of dnsbl.
type dnsblOverride struct {
	resolver *net.Resolver
	loopback bool
}

// dnsblResult is the outcome of the lookups of one address.
type dnsblResult struct {
	zone string  // the first zone (in configuration order) listing it, or ""
	errs []error // lookups that failed or timed out, each with its zone
}

// listedNet is where listings answer (RFC 5782 section 2.3).
var listedNet = netip.MustParsePrefix("127.0.0.0/24")

func newDNSBL(c Config) *dnsbl {
	if len(c.DNSBLZones) == 0 {
		return nil
	}
	d := &dnsbl{timeout: c.DNSBLTimeout}
	for _, z := range c.DNSBLZones {
		d.zones = append(d.zones, normDomain(z))
	}
	return d
}

// wanted reports whether ip is to be looked up.
func (d *dnsbl) wanted(ip netip.Addr) bool {
	if d == nil || !ip.IsValid() {
		return false
	}
	if o := d.override.Load(); o != nil && o.loopback {
		return true
	}
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
}

// lookup asks every zone about ip at once, within d.timeout.
func (d *dnsbl) lookup(ip netip.Addr) dnsblResult {
	r := net.DefaultResolver
	if o := d.override.Load(); o != nil && o.resolver != nil {
		r = o.resolver
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	type answer struct {
		listed bool
		err    error
	}
	answers := make([]chan answer, len(d.zones))
	for i, zone := range d.zones {
		answers[i] = make(chan answer, 1)
		go func() {
			listed, err := lookupZone(ctx, r, ip, zone)
			answers[i] <- answer{listed, err}
		}()
	}
	var res dnsblResult
	for i, ch := range answers {
		a := <-ch
		switch {
		case a.err != nil:
			res.errs = append(res.errs, fmt.Errorf("dnsbl %s: %w", d.zones[i], a.err))
		case a.listed && res.zone == "":
			res.zone = d.zones[i]
		}
	}
	return res
}

// lookupZone reports whether zone lists ip.
func lookupZone(ctx context.Context, r *net.Resolver, ip netip.Addr, zone string) (bool, error) {
	addrs, err := r.LookupNetIP(ctx, "ip4", dnsblName(ip, zone))
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", ip, err)
	}
	for _, a := range addrs {
		if listedNet.Contains(a.Unmap()) {
			return true, nil
		}
	}
	return false, fmt.Errorf("looking up %s: unexpected answer %v (an error code of the list, or a resolver rewriting NXDOMAIN)", ip, addrs)
}

// dnsblName is the name to query for ip under zone, fully qualified:
// the IPv4 octets or the IPv6 nibbles reversed (RFC 5782 section 2.1 and
// 2.4).
func dnsblName(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.", a[3], a[2], a[1], a[0])
	} else {
		a := ip.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	b.WriteByte('.')
	return b.String()
}
