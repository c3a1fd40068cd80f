package inbound

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// CacheTTL is how long Cache keeps an answer. Shorter than the TTLs SPF,
// DKIM and DMARC records are published with (typically an hour or
// more), so a changed record is seen within a minute, while a burst of
// mail from one sender asks once.
const CacheTTL = time.Minute

// cacheMax bounds the answers kept; past it the cache starts over.
const cacheMax = 10_000

// Cache is a Resolver that keeps the answers of another (answers and
// "no such name", not failures) for CacheTTL, as a caching resolver on
// the host would. It is safe for concurrent use.
type Cache struct {
	r   Resolver
	now func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	kind byte // 't' TXT, 'm' MX, 'i' IP, 'p' PTR
	name string
}

type cacheEntry struct {
	val     any
	err     error
	expires time.Time
}

// NewCache returns a Cache in front of r (the system resolver when nil).
func NewCache(r Resolver) *Cache {
	if r == nil {
		r = net.DefaultResolver
	}
	return &Cache{r: r, now: time.Now, entries: map[cacheKey]cacheEntry{}}
}

// cacheable reports whether err is an answer worth keeping: none, or a
// name that does not exist.
func cacheable(err error) bool {
	var de *net.DNSError
	return err == nil || errors.As(err, &de) && de.IsNotFound
}

// lookup answers k from the cache or through ask.
func lookup[T any](c *Cache, k cacheKey, ask func() (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	if e, ok := c.entries[k]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		v, _ := e.val.(T)
		return v, e.err
	}
	c.mu.Unlock()
	v, err := ask()
	if cacheable(err) {
		c.mu.Lock()
		if len(c.entries) >= cacheMax {
			clear(c.entries)
		}
		c.entries[k] = cacheEntry{val: v, err: err, expires: now.Add(CacheTTL)}
		c.mu.Unlock()
	}
	return v, err
}

// LookupTXT answers from the cache or the resolver.
func (c *Cache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookup(c, cacheKey{'t', name}, func() ([]string, error) { return c.r.LookupTXT(ctx, name) })
}

// LookupMX answers from the cache or the resolver.
func (c *Cache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookup(c, cacheKey{'m', name}, func() ([]*net.MX, error) { return c.r.LookupMX(ctx, name) })
}

// LookupIPAddr answers from the cache or the resolver.
func (c *Cache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return lookup(c, cacheKey{'i', host}, func() ([]net.IPAddr, error) { return c.r.LookupIPAddr(ctx, host) })
}

// LookupAddr answers from the cache or the resolver.
func (c *Cache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookup(c, cacheKey{'p', addr}, func() ([]string, error) { return c.r.LookupAddr(ctx, addr) })
}
