package inbound

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
)

// SPFResult is the SPF verdict for the message's envelope.
type SPFResult struct {
	// Value is pass, fail, softfail, neutral, none, temperror or
	// permerror.
	Value authres.ResultValue
	// MailFrom is the envelope sender checked; "" for the null sender,
	// when Helo was checked instead (RFC 7208 section 2.4).
	MailFrom string
	// Helo is the HELO/EHLO name, reported when MailFrom is "".
	Helo string
	// Domain is the domain whose policy was evaluated: MAIL FROM's, or
	// the HELO name. DMARC aligns it with the From: domain.
	Domain string
	// Err says why, for the log only.
	Err error
}

// checkSPF evaluates the SPF policy of the envelope sender's domain (or
// of the HELO name for the null sender) for ip.
func checkSPF(ctx context.Context, r Resolver, ip netip.Addr, helo, mailFrom string) SPFResult {
	res := SPFResult{MailFrom: mailFrom, Domain: domainOf(mailFrom)}
	if mailFrom == "" {
		res.Helo = helo
		res.Domain = strings.ToLower(strings.TrimSuffix(helo, "."))
	}
	if res.Domain == "" {
		res.Value = authres.ResultNone
		return res
	}
	v, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), helo, mailFrom,
		spf.WithResolver(r), spf.WithContext(ctx))
	res.Value = authres.ResultValue(v)
	res.Err = err
	return res
}

// domainOf returns the lower-case domain of an address, "" without one.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}
