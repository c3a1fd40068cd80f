package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
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
