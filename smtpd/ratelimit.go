package smtpd

import (
	"net/netip"
	"sync"
	"time"
)

// Rate limits of port 25.
//
// Each limit is a token bucket per key: a bucket holds at most limit
// tokens, starts full, and refills at limit tokens per minute (one every
// 60s/limit); each connection, MAIL or RCPT takes one token from its
// source address's bucket (IPv4 address, IPv6 /64) and one from its
// network's (IPv4 /24, IPv6 /48, NetworkRateFactor times larger), both or
// neither. So a source may burst up to limit at once and then keeps
// limit per minute; an idle bucket is full again after a minute and is
// then forgotten (its state equals a fresh one). The tables are bounded
// by maxRateKeys: when full, idle buckets are swept out, and if none is
// idle an arbitrary one is dropped (an attacker spread over that many
// networks gains at most a fresh bucket).

// maxRateKeys bounds the buckets of one rate table.
const maxRateKeys = 50_000

// rateKind names a rate limit; it is the "limit" attribute of the log
// line.
type rateKind string

// The rate limits.
const (
	rateConnections rateKind = "connections_per_minute"
	rateMessages    rateKind = "messages_per_minute"
	rateRecipients  rateKind = "recipients_per_minute"
)

// bucket is one key's tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// rateTable is one rate limit over sources and networks. Safe for
// concurrent use.
type rateTable struct {
	kind     rateKind
	perSrc   float64 // capacity and refill per minute of a source
	perNet   float64 // the same for a network
	maxKeys  int
	now      func() time.Time
	mu       sync.Mutex
	src, net map[netip.Prefix]*bucket
}

func newRateTable(kind rateKind, perMinute int) *rateTable {
	return &rateTable{kind: kind, perSrc: float64(perMinute), perNet: float64(perMinute * NetworkRateFactor),
		maxKeys: maxRateKeys, now: time.Now,
		src: map[netip.Prefix]*bucket{}, net: map[netip.Prefix]*bucket{}}
}

// take takes a token for src and network; it returns "" when both had
// one, else which was empty ("address" or "network"), taking nothing.
func (t *rateTable) take(src, network netip.Prefix) string {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.refill(t.src, src, t.perSrc, now)
	n := t.refill(t.net, network, t.perNet, now)
	switch {
	case s.tokens < 1:
		return "address"
	case n.tokens < 1:
		return "network"
	}
	s.tokens--
	n.tokens--
	return ""
}

// refill returns k's bucket in m, created full or brought up to now.
func (t *rateTable) refill(m map[netip.Prefix]*bucket, k netip.Prefix, capacity float64, now time.Time) *bucket {
	b := m[k]
	if b == nil {
		if len(m) >= t.maxKeys {
			t.evict(m, now)
		}
		b = &bucket{tokens: capacity, at: now}
		m[k] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(capacity, b.tokens+capacity*d.Minutes())
		b.at = now
	}
	return b
}

// evict makes room in m: it drops every bucket idle for a minute (full
// again), or one arbitrary bucket if none is.
func (t *rateTable) evict(m map[netip.Prefix]*bucket, now time.Time) {
	for k, b := range m {
		if now.Sub(b.at) >= time.Minute {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < t.maxKeys {
			break
		}
		delete(m, k)
	}
}

// size returns the number of buckets held (for tests).
func (t *rateTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.src) + len(t.net)
}
