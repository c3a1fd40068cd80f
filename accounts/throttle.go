package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
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
// per account name (existing or not). Logins to an account from one of
// its known networks (see KnownSourcesFile) are counted per account and
// network instead of per account: a guesser elsewhere never slows them
// down or locks them out, and a guesser in one of them affects only it.
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
	// not count toward it. Logins from the account's known networks are
	// exempt; each such network has a limit of the same size of its own.
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

// ConcurrentChecks is how many password checks from one source, or for
// one account, run at once. Further logins wait in line for a free slot:
// no delay is added, they only wait for the checks ahead of them (a few
// bcrypt times each, or the delay those checks earned by failing). The
// delay an attempt waits is taken from the failures already known when its
// turn comes, so logins merely in progress never slow a correct one down,
// while a burst of parallel guesses gets at most this many checks before
// its first failures count, and every later guess waits as repeated
// failures do (and is refused once the source or account is banned).
const ConcurrentChecks = 4

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

// counter is the failure state of one source or account, and its check
// slots.
type counter struct {
	failures    int
	last        time.Time
	bannedUntil time.Time
	recent      []pwMark // accounts only

	active int // checks holding a slot (waiting their delay or hashing)
	// line holds the arrival numbers of the attempts waiting for a slot,
	// oldest first: free slots go to the oldest, so no login waits while
	// later ones are served.
	line  []uint64
	freed chan struct{} // closed (and cleared) when a slot frees or the line moves
}

// inUse reports whether an attempt holds or waits for one of c's slots;
// such a counter is never forgotten or replaced.
func (c *counter) inUse() bool { return c.active > 0 || len(c.line) > 0 }

// mayStart reports whether the attempt that arrived as n gets a slot now:
// the slots left after the running checks go to the oldest in line.
func (c *counter) mayStart(n uint64) bool {
	ahead := 0
	for _, m := range c.line {
		if m == n {
			break
		}
		ahead++
	}
	return c.active+ahead < ConcurrentChecks
}

// leave takes the attempt that arrived as n out of the line and wakes the
// others, whose places moved.
func (c *counter) leave(n uint64) {
	for i, m := range c.line {
		if m == n {
			c.line = append(c.line[:i], c.line[i+1:]...)
			break
		}
	}
	c.wake()
}

// wake tells the attempts in line to look again.
func (c *counter) wake() {
	if c.freed != nil {
		close(c.freed)
		c.freed = nil
	}
}

// changed returns the channel closed at c's next change.
func (c *counter) changed() chan struct{} {
	if c.freed == nil {
		c.freed = make(chan struct{})
	}
	return c.freed
}

// stale reports whether c's failures are old enough to be forgotten.
func (c *counter) stale(now time.Time, window time.Duration) bool {
	return now.Sub(c.last) > window && !now.Before(c.bannedUntil)
}

// resetFailures forgets the failures, keeping the slots.
func (c *counter) resetFailures() {
	c.failures, c.last, c.bannedUntil, c.recent = 0, time.Time{}, time.Time{}, nil
}

// release gives back one slot and wakes those in line.
func (c *counter) release() {
	c.active = max(c.active-1, 0)
	c.wake()
}

// throttle holds the failure counters of one Directory.
type throttle struct {
	cfg      ThrottleConfig
	key      [32]byte
	mu       sync.Mutex
	sources  map[string]*counter
	accounts map[string]*counter
	arrivals uint64 // numbers the attempts in arrival order
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
	if !c.inUse() && c.stale(now, t.cfg.FailureWindow) {
		c.resetFailures()
	}
	return c
}

func (t *throttle) sweep(m map[string]*counter, now time.Time) {
	for k, c := range m {
		if !c.inUse() && c.stale(now, t.cfg.FailureWindow) {
			delete(m, k)
		}
	}
}

// attempt is one login between begin and end: it holds a check slot of
// its source and of its account.
type attempt struct {
	s, a  *counter
	delay time.Duration // the wait begin asked for
}

// errRefused is begin's answer for a banned source or account.
var errRefused = errors.New("accounts: source or account refused after too many failures")

// begin waits for a check slot of src and of acct (in line, in order of
// arrival, behind the checks running, without added delay), then returns
// the attempt and the delay it must wait before checking the password:
// the one its source's or account's failures known at that moment call
// for. acct is the account's throttling scope: its name for logins from
// unknown sources, knownScope(name, network) for logins from one of its
// known networks, which thus neither wait in line with nor are refused
// with the others. begin returns errRefused when the source or account
// is banned (checked on arrival and each time the line moves, so a login
// in line when a ban is set leaves without a check), or ctx's error if
// ctx ends while in line. now is read each time the state is looked at;
// t.mu is never held while waiting.
func (t *throttle) begin(ctx context.Context, now func() time.Time, src, acct string) (*attempt, error) {
	t.mu.Lock()
	at := now()
	s, a := t.get(t.sources, src, at), t.get(t.accounts, acct, at)
	t.arrivals++
	n := t.arrivals
	s.line = append(s.line, n)
	a.line = append(a.line, n)
	leave := func() {
		s.leave(n)
		a.leave(n)
	}
	for {
		if at.Before(s.bannedUntil) || at.Before(a.bannedUntil) {
			leave()
			t.mu.Unlock()
			return nil, errRefused
		}
		if s.mayStart(n) && a.mayStart(n) {
			break
		}
		sc, ac := s.changed(), a.changed()
		t.mu.Unlock()
		select {
		case <-sc:
		case <-ac:
		case <-ctx.Done():
			t.mu.Lock()
			leave()
			t.mu.Unlock()
			return nil, fmt.Errorf("accounts: login abandoned while waiting for its turn: %w", ctx.Err())
		}
		t.mu.Lock()
		at = now()
	}
	leave()
	s.active++
	a.active++
	delay := t.cfg.delayFor(max(s.failures, a.failures))
	t.mu.Unlock()
	return &attempt{s: s, a: a, delay: delay}, nil
}

// banned reports whether the source or account of at is refused now (a
// ban set while at waited its delay): the caller then refuses the login
// without checking its password.
func (t *throttle) banned(now time.Time, at *attempt) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Before(at.s.bannedUntil) || now.Before(at.a.bannedUntil)
}

// end finishes an attempt begun with begin and frees its slots: succeeded
// resets both counters, failed with pw counts a failure, abandoned (the
// caller gave up while waiting its delay) counts nothing.
func (t *throttle) end(now time.Time, at *attempt, outcome outcome, pw string) {
	var m pwMark
	if outcome == failed {
		m = t.mark(pw) // outside the lock
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, a := at.s, at.a
	s.release()
	a.release()
	switch outcome {
	case succeeded:
		s.resetFailures()
		a.resetFailures()
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
	ip, ok := remoteAddr(remote)
	if !ok {
		return remote
	}
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(IPv6PrefixBits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// remoteAddr parses the IP address of remote ("ip:port" or "ip"), without
// zone, IPv4-mapped IPv6 addresses as IPv4.
func remoteAddr(remote string) (netip.Addr, bool) {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.WithZone("").Unmap(), true
}
