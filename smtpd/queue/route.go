package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// smarthostKey is the route key of recipients relayed through the
// smarthost; every other key is a recipient domain in A-label form.
const smarthostKey = "\x00smarthost"

// target is one server to try for a route.
type target struct {
	host        string // name for TLS and logs
	addr        string // host:port to dial
	implicitTLS bool
	smarthost   bool // TLS required and verified, AUTH when configured
}

// resolver looks up MX and address records, at the configured server or
// through the system resolver.
type resolver struct {
	r *net.Resolver
}

func newResolver(addr string) *resolver {
	if addr == "" {
		return &resolver{r: net.DefaultResolver}
	}
	return &resolver{r: &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// domainOf returns the A-label form of addr's domain, lower case.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	d := strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}

// localKey is the route key of recipients that are local accounts: they
// are stored directly, never sent over the network.
const localKey = "\x00local"

// routeKey returns the group a recipient is delivered with: local
// delivery for local accounts, the smarthost when it applies to the
// recipient's domain, else the domain.
func (q *Queue) routeKey(addr string) string {
	if q.local != nil {
		if _, ok := q.local.LocalUser(addr); ok {
			return localKey
		}
	}
	d := domainOf(addr)
	sh := q.cfg.Smarthost
	if sh.Address == "" {
		return d
	}
	if len(sh.Domains) == 0 {
		return smarthostKey
	}
	for _, s := range sh.Domains {
		if strings.EqualFold(strings.TrimSuffix(s, "."), d) {
			return smarthostKey
		}
	}
	return d
}

// routeError is a failure to find any server for a route.
type routeError struct {
	perm   bool
	status string
	msg    string
}

func (e *routeError) Error() string { return e.msg }

// targets returns the servers to try for a route key, in order.
func (q *Queue) targets(ctx context.Context, key string) ([]target, error) {
	if key == smarthostKey {
		host, _, err := net.SplitHostPort(q.cfg.Smarthost.Address)
		if err != nil {
			return nil, &routeError{status: "4.3.5", msg: fmt.Sprintf("bad smarthost address %q: %v", q.cfg.Smarthost.Address, err)}
		}
		return []target{{host: host, addr: q.cfg.Smarthost.Address, implicitTLS: q.cfg.Smarthost.ImplicitTLS, smarthost: true}}, nil
	}
	port := strconv.Itoa(q.cfg.MXPort)
	mxs, err := q.res.r.LookupMX(ctx, key+".")
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(mxs) == 1 && mxs[0].Host == ".":
		// RFC 7505: the domain accepts no mail.
		return nil, &routeError{perm: true, status: "5.1.10", msg: fmt.Sprintf("domain %s accepts no mail (null MX)", key)}
	case err == nil && len(mxs) > 0:
		var out []target
		for _, mx := range mxs {
			h := strings.TrimSuffix(mx.Host, ".")
			if h == "" {
				continue
			}
			out = append(out, target{host: h, addr: net.JoinHostPort(h, port)})
		}
		return out, nil
	case err == nil || errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// No MX: the domain's own address is the implicit MX (RFC 5321
		// section 5.1), if it has one.
		addrs, aerr := q.res.r.LookupIPAddr(ctx, key+".")
		if aerr == nil && len(addrs) > 0 {
			return []target{{host: key, addr: net.JoinHostPort(key, port)}}, nil
		}
		if errors.As(aerr, &dnsErr) && dnsErr.IsNotFound || aerr == nil {
			return nil, &routeError{perm: true, status: "5.1.2", msg: fmt.Sprintf("domain %s has no MX and no address record", key)}
		}
		return nil, &routeError{status: "4.4.3", msg: fmt.Sprintf("address lookup for %s: %v", key, aerr)}
	default:
		return nil, &routeError{status: "4.4.3", msg: fmt.Sprintf("MX lookup for %s: %v", key, err)}
	}
}

// dial connects to a target's address, resolving names with the queue's
// resolver.
func (q *Queue) dial(ctx context.Context, t target) (net.Conn, error) {
	d := net.Dialer{Timeout: q.cfg.ConnectTimeout, Resolver: q.res.r}
	return d.DialContext(ctx, "tcp", t.addr)
}
