package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Throttling defaults (ThrottleConfig fields left zero take these). They
// follow Dovecot's auth penalty (2 s growing to 15 s) and mox's limits on
// failed logins per source.
const (
	DefaultFreeFailures        = 3
	DefaultInitialDelay        = 2 * time.Second
	DefaultMaxDelay            = 15 * time.Second
	DefaultSourceLimit         = 20
	DefaultSourceBan           = 15 * time.Minute
	DefaultAccountLimit        = 10
	DefaultAccountBan          = 5 * time.Minute
	DefaultFailureWindow       = 15 * time.Minute
	DefaultRememberedPasswords = 8
	DefaultMaxTracked          = 100_000
	// IPv6PrefixBits: IPv6 sources are counted by their /64, since one
	// host usually owns a whole /64.
	IPv6PrefixBits = 64
)

// ThrottleConfig sets how failed logins slow down and lock out further
// attempts. Failures are counted per source (IPv4 address, IPv6 /64) and
// per account name (existing or not).
type ThrottleConfig struct {
	// FreeFailures is how many recent failures cost no delay.
	FreeFailures int
	// InitialDelay is the wait before the first attempt after FreeFailures
	// failures; it doubles with each further failure up to MaxDelay.
	InitialDelay time.Duration
	MaxDelay     time.Duration
	// SourceLimit failures from one source refuse it for SourceBan.
	SourceLimit int
	SourceBan   time.Duration
	// AccountLimit distinct wrong passwords for one account refuse logins
	// to it for AccountBan. Repeating a recently tried wrong password does
	// not count toward it.
	AccountLimit int
	AccountBan   time.Duration
	// FailureWindow: a counter with no failure for this long is forgotten.
	FailureWindow time.Duration
	// RememberedPasswords is how many recent wrong passwords (as keyed
	// hashes, never the passwords) are remembered per account.
	RememberedPasswords int
	// MaxTracked bounds the number of sources and of accounts tracked.
	MaxTracked int
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt(&c.FreeFailures, DefaultFreeFailures)
	setDur(&c.InitialDelay, DefaultInitialDelay)
	setDur(&c.MaxDelay, DefaultMaxDelay)
	setInt(&c.SourceLimit, DefaultSourceLimit)
	setDur(&c.SourceBan, DefaultSourceBan)
	setInt(&c.AccountLimit, DefaultAccountLimit)
	setDur(&c.AccountBan, DefaultAccountBan)
	setDur(&c.FailureWindow, DefaultFailureWindow)
	setInt(&c.RememberedPasswords, DefaultRememberedPasswords)
	setInt(&c.MaxTracked, DefaultMaxTracked)
	return c
}

// FreeConcurrent is how many logins from one source, or to one account,
// may be in progress at once before further ones count as failures for
// the delay: a mail client opens several connections at start
// (Thunderbird up to five, plus a phone behind the same router), while
// a password-guessing burst beyond it waits like repeated failures.
const FreeConcurrent = 8

// extraPending is the number of logins in progress beyond FreeConcurrent.
func extraPending(pending int) int { return max(pending-FreeConcurrent, 0) }

// delayFor is the wait before an attempt after n recent failures.
func (c ThrottleConfig) delayFor(n int) time.Duration {
	if n < c.FreeFailures {
		return 0
	}
	d := c.InitialDelay
	for i := c.FreeFailures; i < n && d < c.MaxDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxDelay)
}

// pwMark is a keyed hash of a wrong password.
type pwMark [16]byte

// counter is the failure state of one source or account.
type counter struct {
	failures    int
	pending     int // attempts in progress; those past FreeConcurrent count as failures for delays
	last        time.Time
	bannedUntil time.Time
	recent      []pwMark // accounts only
}

// throttle holds the failure counters of one Directory.
type throttle struct {
	cfg      ThrottleConfig
	key      [32]byte
	mu       sync.Mutex
	sources  map[string]*counter
	accounts map[string]*counter
}

func newThrottle(cfg ThrottleConfig) *throttle {
	t := &throttle{cfg: cfg.withDefaults(), sources: map[string]*counter{}, accounts: map[string]*counter{}}
	if _, err := rand.Read(t.key[:]); err != nil {
		panic("accounts: no randomness: " + err.Error())
	}
	return t
}

// mark returns the keyed hash of a wrong password.
func (t *throttle) mark(pw string) pwMark {
	h := hmac.New(sha256.New, t.key[:])
	h.Write([]byte(pw))
	var m pwMark
	copy(m[:], h.Sum(nil))
	return m
}

// get returns the counter for key, creating it, or a throwaway counter
// when the table is full even after forgetting stale entries.
func (t *throttle) get(m map[string]*counter, key string, now time.Time) *counter {
	c := m[key]
	if c == nil {
		if len(m) >= t.cfg.MaxTracked {
			t.sweep(m, now)
		}
		c = &counter{}
		if len(m) < t.cfg.MaxTracked {
			m[key] = c
		}
	}
	if c.pending == 0 && now.Sub(c.last) > t.cfg.FailureWindow && !now.Before(c.bannedUntil) {
		c.failures, c.recent = 0, nil
	}
	return c
}

func (t *throttle) sweep(m map[string]*counter, now time.Time) {
	for k, c := range m {
		if c.pending == 0 && now.Sub(c.last) > t.cfg.FailureWindow && !now.Before(c.bannedUntil) {
			delete(m, k)
		}
	}
}

// begin registers an attempt. It reports whether the attempt is refused
// outright and, if not, how long it must wait first.
func (t *throttle) begin(now time.Time, src, acct string) (delay time.Duration, refused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, a := t.get(t.sources, src, now), t.get(t.accounts, acct, now)
	if now.Before(s.bannedUntil) || now.Before(a.bannedUntil) {
		return 0, true
	}
	n := max(s.failures+extraPending(s.pending), a.failures+extraPending(a.pending))
	s.pending++
	a.pending++
	return t.cfg.delayFor(n), false
}

// end finishes an attempt begun with begin: ok for a success (resets both
// counters), !ok with pw for a failure, abandoned for neither (the caller
// gave up while waiting).
func (t *throttle) end(now time.Time, src, acct string, outcome outcome, pw string) {
	var m pwMark
	if outcome == failed {
		m = t.mark(pw) // outside the lock
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, a := t.get(t.sources, src, now), t.get(t.accounts, acct, now)
	s.pending = max(s.pending-1, 0)
	a.pending = max(a.pending-1, 0)
	switch outcome {
	case succeeded:
		*s = counter{pending: s.pending}
		*a = counter{pending: a.pending}
	case failed:
		s.failures++
		s.last = now
		if s.failures >= t.cfg.SourceLimit {
			s.bannedUntil = now.Add(t.cfg.SourceBan)
		}
		repeat := false
		for _, r := range a.recent {
			if hmac.Equal(r[:], m[:]) {
				repeat = true
				break
			}
		}
		if !repeat {
			a.failures++
			a.last = now
			if len(a.recent) >= t.cfg.RememberedPasswords {
				a.recent = a.recent[1:]
			}
			a.recent = append(a.recent, m)
			if a.failures >= t.cfg.AccountLimit {
				a.bannedUntil = now.Add(t.cfg.AccountBan)
			}
		}
	}
}

type outcome int

const (
	abandoned outcome = iota
	succeeded
	failed
)

// sourceKey maps a remote address ("ip:port" or "ip") to the key failures
// are counted under: the IPv4 address, or the IPv6 /64.
func sourceKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return remote
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(IPv6PrefixBits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
