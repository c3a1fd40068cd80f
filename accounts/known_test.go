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
	"syscall"
	"testing"
	"time"

	"postern/accounts/testkit"
)

func TestKnownNetwork(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.77:993", "192.0.2.0/24"},
		{"192.0.2.77", "192.0.2.0/24"},
		{"[::ffff:192.0.2.77]:993", "192.0.2.0/24"},
		{"[2001:db8:1:2:3::4]:143", "2001:db8:1::/48"},
		{"[fe80::1%eth0]:143", "fe80::/48"},
		{"2001:db8:ffff:ffff::1", "2001:db8:ffff::/48"},
		{"not-an-address", ""},
		{"", ""},
	} {
		p, ok := knownNetwork(c.remote)
		if got := map[bool]string{true: p.String(), false: ""}[ok]; got != c.want {
			t.Errorf("knownNetwork(%q) = %q; want %q", c.remote, got, c.want)
		}
	}
}

// guessBurstHeld starts one wrong-password login of anna per guesser from
// src, each waiting its throttling delay (if any) until bs.release is
// closed, and returns a function waiting for all of them and counting
// their answers.
func guessBurstHeld(d *Directory, ctx context.Context, src string, guessers int) func() (failedN, throttledN int, other []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failedN, throttledN int
	var other []error
	hctx := context.WithValue(ctx, holdKey{}, true)
	for i := range guessers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Authenticate(hctx, "imap", fmt.Sprintf("%s:%d", src, 20000+i), testkit.AnnaUser, fmt.Sprint("guess-", i))
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
	return func() (int, int, []error) {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return failedN, throttledN, other
	}
}

// The attacker test of issue 16. 200 parallel connections from 127.0.0.1
// guess anna's password. While their guesses fill anna's check line (the
// first few checked, the next holding every check slot through their
// throttling delays, the rest in line), anna logs in from 127.1.0.5,
// whose /24 she has logged in from before: she is answered at once, not
// behind the guessers. Then the guesses run to the account ban; anna from
// 127.1.0.5 still logs in, promptly, while a source she never used (and
// the guesser's) stays refused: the account ban still protects her from
// the rest of the world, and her own logins do not lift it.
func TestKnownSourcePassesGuesserLineAndBan(t *testing.T) {
	t.Parallel()
	const guessers = 200
	bs := &blockingSleep{release: make(chan struct{})}
	d := testkitDirectory(t, t.TempDir(), Options{Sleep: bs.sleep})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const home, elsewhere, guesser = "127.1.0.5", "198.51.100.7", "127.0.0.1"
	if _, err := d.Authenticate(ctx, "imap", home+":5000", testkit.AnnaUser, testkit.AnnaPass); err != nil {
		t.Fatal(err)
	}

	wait := guessBurstHeld(d, ctx, guesser, guessers)
	bs.waitHeld(t, ConcurrentChecks) // every slot of anna's account held by a delayed guess
	lineLen := func() int {
		d.thr.mu.Lock()
		defer d.thr.mu.Unlock()
		return len(d.thr.accounts[testkit.AnnaUser].line)
	}
	for deadline := time.Now().Add(10 * time.Second); lineLen() < guessers-ConcurrentChecks-(DefaultFreeFailures+ConcurrentChecks-1); {
		if time.Now().After(deadline) {
			t.Fatalf("only %d guesses in line", lineLen())
		}
		time.Sleep(time.Millisecond)
	}
	inLine := lineLen()

	login := func(src string, within time.Duration) (time.Duration, error) {
		lctx, lcancel := context.WithTimeout(ctx, within)
		defer lcancel()
		start := time.Now()
		_, err := d.Authenticate(lctx, "imap", src+":6000", testkit.AnnaUser, testkit.AnnaPass)
		return time.Since(start), err
	}
	took, err := login(home, 5*time.Second)
	if err != nil || took > time.Second {
		t.Fatalf("anna from her known network with %d guesses in line: %v after %v; want success within 1s", inLine, err, took)
	}
	t.Logf("anna from her known network, %d guesses in line and %d in their delay: %v", inLine, ConcurrentChecks, took)
	if _, err := login(elsewhere, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("anna from a new source during the burst: %v; want to wait in line (deadline exceeded)", err)
	}

	close(bs.release)
	failedN, throttledN, other := wait()
	if len(other) > 0 {
		t.Fatalf("guesses: unexpected errors %v", other[:min(len(other), 5)])
	}
	if failedN < DefaultAccountLimit || failedN > DefaultAccountLimit+ConcurrentChecks-1 || failedN+throttledN != guessers {
		t.Fatalf("guesses: %d checked, %d refused; want %d to %d checked, the rest refused",
			failedN, throttledN, DefaultAccountLimit, DefaultAccountLimit+ConcurrentChecks-1)
	}

	took, err = login(home, 5*time.Second)
	if err != nil || took > time.Second {
		t.Fatalf("anna from her known network during the account ban: %v after %v; want success within 1s", err, took)
	}
	t.Logf("anna from her known network during the account ban: %v", took)
	for _, src := range []string{elsewhere, guesser} {
		if _, err := login(src, 5*time.Second); !errors.Is(err, ErrThrottled) {
			t.Errorf("anna from %s during the account ban: %v; want ErrThrottled", src, err)
		}
	}
}

// A source never seen before is still refused during the account ban,
// even with the right password, while the user's known network is not;
// once the ban is over the new source logs in and becomes known itself.
// A network last seen more than KnownSourceExpiry ago is a stranger again.
func TestNewSourceRefusedDuringAccountBan(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	d := testkitDirectory(t, t.TempDir(), Options{Now: clk.Now, Sleep: clk.Sleep})
	ctx := context.Background()
	login := func(src string) error {
		_, err := d.Authenticate(ctx, "imap", src, testkit.AnnaUser, testkit.AnnaPass)
		return err
	}
	if err := login("192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	banAnnaFromElsewhere(d)
	if err := login("203.0.113.50"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("new source during the ban: %v; want ErrThrottled", err)
	}
	if err := login("192.0.2.99"); err != nil {
		t.Fatalf("known network during the ban: %v", err)
	}
	if err := login("203.0.113.50"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("new source during the ban, after a known login: %v; want ErrThrottled (the ban stays)", err)
	}
	clk.Sleep(ctx, DefaultAccountBan)
	if err := login("203.0.113.50"); err != nil {
		t.Fatalf("new source after the ban: %v", err)
	}
	if !d.known.has(testkit.AnnaUser, netip.MustParsePrefix("203.0.113.0/24"), clk.Now()) {
		t.Fatal("a successful login did not make its network known")
	}

	clk.Sleep(ctx, KnownSourceExpiry+time.Hour)
	banAnnaFromElsewhere(d)
	if err := login("192.0.2.99"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("network last seen %v ago, during a ban: %v; want ErrThrottled", KnownSourceExpiry+time.Hour, err)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// The known networks survive reopening the Directory, in a 0600 file that
// is replaced whole (a new inode each write, no temporary file left) and
// only when the set changes; refreshed last-seen times reach it at Close.
// A bad line is skipped with a warning, the rest loaded.
func TestKnownSourcesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, KnownSourcesFile)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: t0}
	var logs testkit.SyncBuffer
	d := testkitDirectory(t, dir, Options{Now: clk.Now, Sleep: clk.Sleep, Logger: testkit.DebugLogger(&logs)})
	ctx := context.Background()
	login := func(d *Directory, user, pass, src string) {
		t.Helper()
		if _, err := d.Authenticate(ctx, "imap", src, user, pass); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file before any login: %v", err)
	}
	login(d, testkit.AnnaUser, testkit.AnnaPass, "192.0.2.7:1000")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", st.Mode().Perm())
	}
	ino := inode(t, path)
	clk.Sleep(ctx, time.Minute)
	login(d, testkit.AnnaUser, testkit.AnnaPass, "192.0.2.8:1000") // same /24: no write
	if inode(t, path) != ino {
		t.Error("file rewritten for a network already known")
	}
	os.Chmod(path, 0o644)
	login(d, testkit.BobUser, testkit.BobPass, "[2001:db8:1:2::5]:1000")
	if inode(t, path) == ino {
		t.Error("file not replaced (renamed over) for a new network")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after a rewrite %v; want 0600", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	clk.Sleep(ctx, time.Minute)
	login(d, testkit.AnnaUser, testkit.AnnaPass, "192.0.2.9:1000") // refreshed in memory only
	data, _ := os.ReadFile(path)
	// The time of the second login, written with bob's new network; not
	// yet the third's.
	want := fmt.Sprintf("%s\t192.0.2.0/24\t%d\n", testkit.AnnaUser, t0.Add(time.Minute).Unix())
	if !strings.Contains(string(data), want) {
		t.Fatalf("file:\n%s\nwant line %q", data, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	refreshed := fmt.Sprintf("%s\t192.0.2.0/24\t%d\n", testkit.AnnaUser, clk.Now().Unix())
	if !strings.Contains(string(data), refreshed) || !strings.Contains(string(data), testkit.BobUser+"\t2001:db8:1::/48\t") {
		t.Fatalf("file after Close:\n%s\nwant %q and bob's /48", data, refreshed)
	}

	bad := []string{
		"garbage",
		testkit.AnnaUser + "\t10.0.0.0/8\t1772366400",
		testkit.AnnaUser + "\t198.51.100.0/24\tyesterday",
		"no user\t198.51.100.0/24\t1772366400",
		testkit.AnnaUser + "\t2001:db8::/64\t1772366400",
	}
	extra := fmt.Sprintf("%s\t203.0.113.0/24\t%d", testkit.AnnaUser, t0.Unix())
	if err := os.WriteFile(path, append(data, []byte(strings.Join(append(bad, extra), "\n")+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := testkitDirectory(t, dir, Options{Now: clk.Now, Sleep: clk.Sleep, Logger: testkit.DebugLogger(&logs)})
	if n := strings.Count(logs.String(), "skipping a bad line"); n != len(bad) {
		t.Errorf("%d warnings for %d bad lines:\n%s", n, len(bad), logs.String())
	}
	now := clk.Now()
	for _, c := range []struct {
		user, network string
		want          bool
	}{
		{testkit.AnnaUser, "192.0.2.0/24", true},
		{testkit.AnnaUser, "203.0.113.0/24", true},
		{testkit.BobUser, "2001:db8:1::/48", true},
		{testkit.AnnaUser, "198.51.100.0/24", false},
		{testkit.BobUser, "192.0.2.0/24", false},
	} {
		if got := d2.known.has(c.user, netip.MustParsePrefix(c.network), now); got != c.want {
			t.Errorf("after reopening, %s known from %s: %v; want %v", c.user, c.network, got, c.want)
		}
	}
}

// A missing file is an empty set, an unreadable one is logged, not fatal.
func TestKnownSourcesFileMissingOrUnreadable(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	dir := t.TempDir()
	k := loadKnownSources(filepath.Join(dir, KnownSourcesFile), testkit.DebugLogger(&logs), time.Now())
	if len(k.users) != 0 || logs.String() != "" {
		t.Fatalf("missing file: %d users, log %q", len(k.users), logs.String())
	}
	if err := os.Mkdir(filepath.Join(dir, "is-a-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	k = loadKnownSources(filepath.Join(dir, "is-a-dir"), testkit.DebugLogger(&logs), time.Now())
	if len(k.users) != 0 || !logs.Contains("cannot read the known login networks") {
		t.Fatalf("unreadable file: %d users, log %q", len(k.users), logs.String())
	}
}

// At most MaxKnownSources networks per user: a new one beyond them
// replaces the one seen least recently (a login refreshes a network).
// A network is known for KnownSourceExpiry after it was last seen, and
// expired entries are left out of the file (and skipped when loading).
// Refreshed times are written at most once an hour.
func TestKnownSourcesExpiryAndCap(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), KnownSourcesFile)
	var logs testkit.SyncBuffer
	log := testkit.DebugLogger(&logs)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k := loadKnownSources(path, log, t0)
	nw := func(i int) netip.Prefix { return netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)) }
	const user = "anna@example.org"
	for i := range MaxKnownSources {
		if !k.saw(user, nw(i), t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("network %d not new", i)
		}
	}
	at := t0.Add(time.Hour)
	k.saw(user, nw(0), at) // the oldest, refreshed: nw(1) is now the least recent
	k.saw(user, nw(MaxKnownSources), at)
	for i, want := range map[int]bool{0: true, 1: false, 2: true, MaxKnownSources - 1: true, MaxKnownSources: true} {
		if got := k.has(user, nw(i), at); got != want {
			t.Errorf("network %d known: %v; want %v", i, got, want)
		}
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), user+"\t"); n != MaxKnownSources {
		t.Errorf("%d lines for %s in the file; want %d", n, user, MaxKnownSources)
	}

	// Expiry, counted from the last time seen.
	last := t0.Add(time.Duration(MaxKnownSources-1) * time.Minute) // nw(MaxKnownSources-1)
	if !k.has(user, nw(MaxKnownSources-1), last.Add(KnownSourceExpiry-time.Second)) {
		t.Error("network forgotten before its expiry")
	}
	if k.has(user, nw(MaxKnownSources-1), last.Add(KnownSourceExpiry)) {
		t.Error("network still known at its expiry")
	}
	later := at.Add(KnownSourceExpiry - time.Minute) // only nw(0) and nw(MaxKnownSources), seen at `at`, remain
	k2 := loadKnownSources(path, log, later)
	if n := len(k2.users[user]); n != 2 {
		t.Errorf("loaded %d networks at %v; want the 2 not expired", n, later)
	}
	k2.saw("bob@example.org", nw(500), later)
	data, _ = os.ReadFile(path)
	if n := strings.Count(string(data), user+"\t"); n != 2 {
		t.Errorf("file after a write at %v has %d lines for %s; want 2:\n%s", later, n, user, data)
	}

	// Refreshes: not written within the hour, written after it.
	ino := inode(t, path)
	k2.saw("bob@example.org", nw(500), later.Add(30*time.Minute))
	if inode(t, path) != ino {
		t.Error("file rewritten for a refresh within the hour")
	}
	k2.saw("bob@example.org", nw(500), later.Add(61*time.Minute))
	if inode(t, path) == ino {
		t.Error("refresh not written after an hour")
	}
	if logs.Contains("level=ERROR") || logs.Contains("level=WARN") {
		t.Errorf("log: %s", logs.String())
	}
}
