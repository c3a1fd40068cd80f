package inbound

import (
	"context"
	"net"
)

// Resolver is the DNS the checks ask. *net.Resolver implements it; tests
// give one that asks a test server.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// txtLookup adapts r to the context-free LookupTXT hooks of go-msgauth's
// dkim and dmarc packages, bounded by ctx.
func txtLookup(ctx context.Context, r Resolver) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		return r.LookupTXT(ctx, name)
	}
}
