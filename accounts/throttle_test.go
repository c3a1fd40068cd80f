package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postern/accounts/testkit"
)

// Logins in progress take a check slot each, ConcurrentChecks per source
// and account, and add no delay: one more waits in line until a slot
// frees and then starts without delay. Only known failures make the next
// attempt wait. (Before, logins in progress beyond 8 counted as failures
// for the delay, so 50 correct logins at once waited up to 15 s each.)
func TestThrottleSlotsAddNoDelay(t *testing.T) {
	t.Parallel()
	th := newThrottle(ThrottleConfig{})
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ctx := context.Background()
	var held []*attempt
	for i := range ConcurrentChecks {
		at, err := th.begin(ctx, clock, "192.0.2.9", "anna@example.org")
		if err != nil || at.delay != 0 {
			t.Fatalf("login %d: delay %v, err %v", i+1, at.delay, err)
		}
		held = append(held, at)
	}
	type result struct {
		at  *attempt
		err error
	}
	next := make(chan result, 1)
	go func() {
		at, err := th.begin(ctx, clock, "192.0.2.9", "anna@example.org")
		next <- result{at, err}
	}()
	select {
	case r := <-next:
		t.Fatalf("login %d started with every slot taken (delay %v, err %v)", ConcurrentChecks+1, r.at.delay, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	th.end(clock(), held[0], succeeded, "")
	r := <-next
	if r.err != nil || r.at.delay != 0 {
		t.Fatalf("login in line: delay %v, err %v; want its turn without delay", r.at.delay, r.err)
	}

	// One in line whose context ends leaves without a slot.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, err := th.begin(cctx, clock, "192.0.2.9", "anna@example.org"); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned in line: %v", err)
	}
	for _, at := range append(held[1:], r.at) {
		th.end(clock(), at, succeeded, "")
	}
	if s := th.sources["192.0.2.9"]; s.active != 0 || len(s.line) != 0 {
		t.Fatalf("slots left: %+v", *s)
	}

	// Failures do count: after FreeFailures of them the next login waits.
	for range DefaultFreeFailures {
		at, _ := th.begin(ctx, clock, "192.0.2.10", "bob@example.org")
		th.end(clock(), at, failed, "wrong")
	}
	if at, _ := th.begin(ctx, clock, "192.0.2.10", "bob@example.org"); at.delay != DefaultInitialDelay {
		t.Fatalf("after %d failures: delay %v", DefaultFreeFailures, at.delay)
	}
}

// A login waiting in line behind a guess that gets the account banned is
// refused when its turn comes, without a password check.
func TestThrottleBanReachesLoginsInLine(t *testing.T) {
	t.Parallel()
	th := newThrottle(ThrottleConfig{AccountLimit: 1})
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ctx := context.Background()
	var held []*attempt
	for range ConcurrentChecks {
		at, err := th.begin(ctx, clock, "192.0.2.11", "carl@example.org")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, at)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := th.begin(ctx, clock, "198.51.100.1", "carl@example.org")
		waiting <- err
	}()
	time.Sleep(20 * time.Millisecond)
	for i, at := range held {
		th.end(clock(), at, failed, fmt.Sprint("guess", i))
	}
	if err := <-waiting; !errors.Is(err, errRefused) {
		t.Fatalf("login in line after the ban: %v; want refused", err)
	}
}

// cheapDirectory opens a Directory whose users have bcrypt hashes of the
// lowest cost whose check takes at least minCheck here (so that many
// checks under -race stay fast, yet overlap in time), with a frozen clock
// and a Sleep that records the throttling delays: sleepReal makes it wait
// them too.
func cheapDirectory(t *testing.T, users []string, password string, minCheck time.Duration, sleepReal bool) (*Directory, *delayLog) {
	t.Helper()
	var h []byte
	for cost := bcrypt.MinCost; ; cost++ {
		var err error
		if h, err = bcrypt.GenerateFromPassword([]byte(password), cost); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		bcrypt.CompareHashAndPassword(h, []byte(password))
		if time.Since(start) >= minCheck || cost >= DefaultBcryptCost {
			break
		}
	}
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s:%s%s::::::\n", u, SchemePrefix, h)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, UsersFile), []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dl := &delayLog{real: sleepReal}
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: -1,
		Now: func() time.Time { return frozen }, Sleep: dl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dl
}

// delayLog records the throttling delays Authenticate waits.
type delayLog struct {
	real   bool
	mu     sync.Mutex
	delays []time.Duration
}

func (l *delayLog) sleep(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	l.delays = append(l.delays, d)
	l.mu.Unlock()
	if l.real {
		return sleepCtx(ctx, d)
	}
	return nil
}

func (l *delayLog) recorded() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.delays...)
}

// The household case: 50 sessions of one user from one address
// log in at once with the right password. None waits a throttling delay,
// and the slowest finishes within twice the time 50 password checks take
// one after the other (a single check measured here first) plus a second.
// Before, the same run waited delays of 2 s, 4 s, 8 s, then 15 s each:
// the slowest took over 16 s.
func TestCorrectLoginsNotDelayedByLoginsInProgress(t *testing.T) {
	t.Parallel()
	const sessions = 50
	// Checks of at least 25 ms, longer than the scheduler's time slice,
	// so that the 50 logins are truly in progress at once.
	d, dl := cheapDirectory(t, []string{"anna@example.org"}, "s3cret-pass", 25*time.Millisecond, true)
	ctx := context.Background()
	var single time.Duration
	for range 5 {
		start := time.Now()
		if _, err := d.Authenticate(ctx, "imap", "192.0.2.20:1000", "anna@example.org", "s3cret-pass"); err != nil {
			t.Fatal(err)
		}
		single = max(single, time.Since(start))
	}
	bound := 2*sessions*single + time.Second

	var wg sync.WaitGroup
	took := make([]time.Duration, sessions)
	errs := make([]error, sessions)
	startLine := make(chan struct{})
	var start time.Time
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			_, errs[i] = d.Authenticate(ctx, "imap", fmt.Sprintf("192.0.2.20:%d", 2000+i), "anna@example.org", "s3cret-pass")
			took[i] = time.Since(start) // from the common start: time in line counts
		}()
	}
	start = time.Now()
	close(startLine)
	wg.Wait()
	var slowest time.Duration
	for i := range sessions {
		if errs[i] != nil {
			t.Errorf("login %d: %v", i, errs[i])
		}
		slowest = max(slowest, took[i])
	}
	if delays := dl.recorded(); len(delays) != 0 {
		t.Errorf("correct logins waited throttling delays %v", delays)
	}
	if slowest > bound {
		t.Errorf("slowest of %d correct logins took %v; bound %v (single check %v)", sessions, slowest, bound, single)
	}
	t.Logf("single check %v; slowest of %d at once %v (bound %v)", single, sessions, slowest, bound)
}

// guessBurst runs one login per name at once from src with a wrong
// password each and counts the answers.
func guessBurst(d *Directory, src string, names []string) (failedN, throttledN int, other []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	startLine := make(chan struct{})
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			_, err := d.Authenticate(context.Background(), "imap", src, name, fmt.Sprint("guess-", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrAuthFailed):
				failedN++
			case errors.Is(err, ErrThrottled):
				throttledN++
			default:
				other = append(other, err)
			}
		}()
	}
	close(startLine)
	wg.Wait()
	return failedN, throttledN, other
}

// A burst of parallel wrong passwords from one address is still slowed
// and stopped: at most ConcurrentChecks guesses run before the first
// failures are known, every later guess waits the delay of the failures
// before it, and the account (distinct passwords) or the source (many
// accounts) is refused once its limit is reached, the guesses still in
// line included.
func TestParallelGuessBurstThrottled(t *testing.T) {
	t.Parallel()
	const burst = 50
	var users []string
	for i := range burst {
		users = append(users, fmt.Sprintf("u%d@example.org", i))
	}
	d, dl := cheapDirectory(t, append(users, "anna@example.org"), "s3cret-pass", 0, false)

	check := func(what string, failedN, throttledN int, other []error, limit int) {
		t.Helper()
		if len(other) > 0 {
			t.Fatalf("%s: unexpected errors %v", what, other)
		}
		if failedN < limit || failedN > limit+ConcurrentChecks-1 {
			t.Errorf("%s: %d wrong passwords checked; want %d to %d", what, failedN, limit, limit+ConcurrentChecks-1)
		}
		if failedN+throttledN != burst {
			t.Errorf("%s: %d failed + %d throttled of %d", what, failedN, throttledN, burst)
		}
		delays := dl.recorded() // only delays > 0 are waited
		if max := ConcurrentChecks + DefaultFreeFailures - 1; failedN-len(delays) > max {
			t.Errorf("%s: %d guesses checked without delay; want at most %d (delays %v)", what, failedN-len(delays), max, delays)
		}
		if len(delays) == 0 {
			t.Errorf("%s: no guess was delayed", what)
		}
	}

	// One account, distinct passwords: the account is refused after
	// AccountLimit failures, even with the right password.
	names := make([]string, burst)
	for i := range names {
		names[i] = "anna@example.org"
	}
	f, th, other := guessBurst(d, "203.0.113.5:4000", names)
	check("one account", f, th, other, DefaultAccountLimit)
	if _, err := d.Authenticate(context.Background(), "imap", "198.51.100.9", "anna@example.org", "s3cret-pass"); !errors.Is(err, ErrThrottled) {
		t.Errorf("account after the burst: %v; want ErrThrottled", err)
	}

	// Many accounts from one source: the source is refused after
	// SourceLimit failures.
	dl.mu.Lock()
	dl.delays = nil
	dl.mu.Unlock()
	f, th, other = guessBurst(d, "203.0.113.6:4000", users)
	check("one source", f, th, other, DefaultSourceLimit)
	if _, err := d.Authenticate(context.Background(), "imap", "203.0.113.6:5000", "u1@example.org", "s3cret-pass"); !errors.Is(err, ErrThrottled) {
		t.Errorf("source after the burst: %v; want ErrThrottled", err)
	}
}

// Free slots go to the logins in line in their order of arrival: with
// many logins of one user at once (a family's devices, a load test), none
// waits while later ones are served (before, every freed slot went to
// whichever waiter woke first, and some waited more than 10 s).
func TestThrottleLineIsFIFO(t *testing.T) {
	t.Parallel()
	th := newThrottle(ThrottleConfig{})
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ctx := context.Background()
	var held []*attempt
	for range ConcurrentChecks {
		at, err := th.begin(ctx, clock, "192.0.2.9", "anna@example.org")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, at)
	}
	lineLen := func() int {
		th.mu.Lock()
		defer th.mu.Unlock()
		return len(th.accounts["anna@example.org"].line)
	}
	const waiters = 12
	started := make(chan int, waiters)
	got := make(chan *attempt, waiters)
	for i := range waiters {
		go func() {
			at, err := th.begin(ctx, clock, "192.0.2.9", "anna@example.org")
			if err != nil {
				t.Error(err)
			}
			started <- i
			got <- at
		}()
		// The next one arrives only once this one is in line.
		for deadline := time.Now().Add(5 * time.Second); lineLen() != i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("waiter %d never got in line", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Free one slot at a time: the oldest in line takes it.
	for i := range waiters {
		th.end(clock(), held[0], succeeded, "")
		held = held[1:]
		if n := <-started; n != i {
			t.Fatalf("slot %d went to waiter %d, want %d (arrival order)", i, n, i)
		}
		held = append(held, <-got)
	}
	for _, at := range held {
		th.end(clock(), at, succeeded, "")
	}
}

// simClock is a simulated clock for throttling runs of many minutes: the
// test advances it in steps, and Sleep waits for simulated time to pass.
type simClock struct {
	mu   sync.Mutex
	cond *sync.Cond
	t    time.Time
}

func newSimClock(start time.Time) *simClock {
	c := &simClock{t: start}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for until := c.t.Add(d); c.t.Before(until); {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.cond.Wait()
	}
	return nil
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	c.cond.Broadcast()
}

// extraUsers is how many users x0@example.org ... testkitDirectory adds
// to anna and bob: guesses against existing users check cost-4 hashes,
// while unknown users check the dummy hash at cost 10 or more (slow under
// -race).
const extraUsers = 2 * DefaultSourceLimit

// extraUser names the i-th extra user.
func extraUser(i int) string { return fmt.Sprintf("x%d@example.org", i%extraUsers) }

// testkitDirectory opens a Directory over the test kit's users (anna and
// bob, bcrypt cost 4) and extraUsers more in dir, with the background
// reload off.
func testkitDirectory(t *testing.T, dir string, opts Options) *Directory {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, UsersFile)); os.IsNotExist(err) {
		passwd := testkit.Passwd()
		for i := range extraUsers {
			passwd += testkit.PasswdLine(extraUser(i), "extra-user-pass")
		}
		testkit.WritePasswd(t, filepath.Join(dir, UsersFile), passwd)
	}
	opts.Domains, opts.ReloadInterval = []string{testkit.Domain}, -1
	d, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// The attacker test of issue 16, at the default limits over 14 simulated
// minutes (inside the source's 15-minute ban): 200 connections of one
// address guess in parallel, each reconnecting at once after a wrong
// password and 5 s after a refusal. The passwords checked stay within
// SourceLimit + ConcurrentChecks in all, and after the first refusal come
// at far less than 0.5 a second: guesses in line or waiting their delay
// when a ban is set are refused unchecked. Against one account the
// account ban stops them; against many accounts, the source ban.
func TestGuessRateAfterBan(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		target func(i, n int) string
	}{
		{"one account", func(i, n int) string { return testkit.AnnaUser }},
		{"many accounts", func(i, n int) string { return extraUser(i + n) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const guessers = 200
			const run = 14 * time.Minute
			start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			clk := newSimClock(start)
			d := testkitDirectory(t, t.TempDir(), Options{Now: clk.Now, Sleep: clk.Sleep})
			end := start.Add(run)

			var mu sync.Mutex
			var checked []time.Time // when each wrong password's answer came
			var firstRefusal time.Time
			var other []error
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for i := range guessers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; clk.Now().Before(end) && ctx.Err() == nil; n++ {
						_, err := d.Authenticate(ctx, "imap", fmt.Sprintf("127.0.0.1:%d", 10000+i), c.target(i, n), fmt.Sprintf("guess-%d-%d", i, n))
						now := clk.Now()
						mu.Lock()
						switch {
						case errors.Is(err, ErrAuthFailed):
							checked = append(checked, now)
						case errors.Is(err, ErrThrottled):
							if firstRefusal.IsZero() {
								firstRefusal = now
							}
						case ctx.Err() == nil:
							other = append(other, err)
						}
						mu.Unlock()
						if errors.Is(err, ErrThrottled) {
							clk.Sleep(ctx, 5*time.Second)
						}
					}
				}()
			}
			// Half a simulated second each real millisecond or so: a check
			// at bcrypt cost 4 takes a simulated second or two.
			for clk.Now().Before(end) {
				clk.advance(500 * time.Millisecond)
				time.Sleep(time.Millisecond)
			}
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for deadline := time.Now().Add(10 * time.Second); ; clk.advance(0) { // wake the sleepers to see ctx end
				select {
				case <-done:
				case <-time.After(time.Millisecond):
					if time.Now().After(deadline) {
						t.Fatal("guessers did not stop")
					}
					continue
				}
				break
			}
			if len(other) > 0 {
				t.Fatalf("unexpected errors: %v", other[:min(len(other), 5)])
			}
			if firstRefusal.IsZero() {
				t.Fatalf("no guess refused in %v (%d checked)", run, len(checked))
			}
			if max := DefaultSourceLimit + ConcurrentChecks; len(checked) > max {
				t.Errorf("%d passwords checked; want at most SourceLimit + ConcurrentChecks = %d", len(checked), max)
			}
			after := 0
			for _, at := range checked {
				if at.After(firstRefusal) {
					after++
				}
			}
			window := end.Sub(firstRefusal)
			rate := float64(after) / window.Seconds()
			if rate > 0.5 {
				t.Errorf("%d passwords checked in the %v after the first refusal: %.3f/s; want at most 0.5/s", after, window, rate)
			}
			t.Logf("%d passwords checked in %v; first refusal after %v; then %d in %v (%.4f/s)",
				len(checked), run, firstRefusal.Sub(start), after, window.Round(time.Second), rate)
		})
	}
}

// blockingSleep is a Directory Sleep that holds the logins whose context
// carries holdKey until release is closed (counting them in held) and
// returns at once for the others.
type blockingSleep struct {
	release chan struct{}
	held    atomic.Int32
}

type holdKey struct{}

func (b *blockingSleep) sleep(ctx context.Context, d time.Duration) error {
	if ctx.Value(holdKey{}) == nil {
		return ctx.Err()
	}
	b.held.Add(1)
	defer b.held.Add(-1)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitHeld waits until n logins are held in their delay.
func (b *blockingSleep) waitHeld(t *testing.T, n int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); b.held.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d logins held in their delay; want %d", b.held.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A login waiting its throttling delay when its source, or (from an
// unknown source) its account, gets banned is refused without a password
// check: it carries the right password, which a check would accept. A
// login from a known network of the account is not refused by the
// account's ban, only by its source's.
func TestBanDuringDelayRefusesUnchecked(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name     string
		knownNet string // where anna logged in from before, if anywhere
		waiter   string // the source of anna's delayed login
		ban      func(d *Directory)
		refused  bool
	}{
		{"source banned", "", "203.0.113.7", func(d *Directory) {
			for i := range DefaultSourceLimit {
				d.Authenticate(context.Background(), "imap", "203.0.113.7", extraUser(i), "wrong")
			}
		}, true},
		{"account banned, unknown source", "", "203.0.113.7", banAnnaFromElsewhere, true},
		{"account banned, known source", "203.0.113.80", "203.0.113.7", banAnnaFromElsewhere, false},
		{"known source banned", "203.0.113.80", "203.0.113.7", func(d *Directory) {
			for i := range DefaultSourceLimit {
				d.Authenticate(context.Background(), "imap", "203.0.113.7", extraUser(i), "wrong")
			}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bs := &blockingSleep{release: make(chan struct{})}
			d := testkitDirectory(t, t.TempDir(), Options{Now: clk.Now, Sleep: bs.sleep})
			ctx := context.Background()
			if c.knownNet != "" {
				if _, err := d.Authenticate(ctx, "imap", c.knownNet, testkit.AnnaUser, testkit.AnnaPass); err != nil {
					t.Fatal(err)
				}
			}
			// FreeFailures wrong passwords from the waiter's source (to
			// bob, so anna's account is untouched): anna's next login
			// from there waits a delay.
			for i := range DefaultFreeFailures {
				d.Authenticate(ctx, "imap", c.waiter, testkit.BobUser, fmt.Sprint("wrong-", i))
			}
			got := make(chan error, 1)
			go func() {
				_, err := d.Authenticate(context.WithValue(ctx, holdKey{}, true), "imap", c.waiter, testkit.AnnaUser, testkit.AnnaPass)
				got <- err
			}()
			bs.waitHeld(t, 1)
			c.ban(d)
			close(bs.release)
			err := <-got
			if c.refused && !errors.Is(err, ErrThrottled) {
				t.Fatalf("login waiting its delay when the ban came: %v; want ErrThrottled without a check", err)
			}
			if !c.refused && err != nil {
				t.Fatalf("login from a known network waiting its delay when the account ban came: %v; want success", err)
			}
		})
	}
}

// banAnnaFromElsewhere gets anna's account banned by distinct wrong
// passwords from sources never used elsewhere in the tests (one each, so
// none is banned itself).
func banAnnaFromElsewhere(d *Directory) {
	for i := range DefaultAccountLimit {
		d.Authenticate(context.Background(), "imap", fmt.Sprintf("198.18.%d.1", i), testkit.AnnaUser, fmt.Sprint("guess-", i))
	}
}

// A login of a known network waiting in line for a check slot of its
// source is refused when the source gets banned, like any other.
func TestSourceBanReachesKnownLoginsInLine(t *testing.T) {
	t.Parallel()
	th := newThrottle(ThrottleConfig{SourceLimit: 1})
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ctx := context.Background()
	scope := knownScope("anna@example.org", netip.MustParsePrefix("192.0.2.0/24"))
	var held []*attempt
	for range ConcurrentChecks {
		at, err := th.begin(ctx, clock, "192.0.2.11", scope)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, at)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := th.begin(ctx, clock, "192.0.2.11", scope)
		waiting <- err
	}()
	time.Sleep(20 * time.Millisecond)
	th.end(clock(), held[0], failed, "guess")
	if err := <-waiting; !errors.Is(err, errRefused) {
		t.Fatalf("known login in line after its source's ban: %v; want refused", err)
	}
	for _, at := range held[1:] {
		th.end(clock(), at, abandoned, "")
	}
}
