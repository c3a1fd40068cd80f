package accounts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestNormalizeAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		err      error
	}{
		{"Anna@Example.ORG", "anna@example.org", nil},
		{"anna@example.org.", "anna@example.org", nil},
		{"anna@bücher.example", "anna@xn--bcher-kva.example", nil},
		{"anna+Shop@example.org", "anna+shop@example.org", nil},
		{`"anna"@example.org`, "", ErrQuotedLocalPart},
		{"anna", "", ErrBadAddress},
		{"a..b@example.org", "", ErrBadAddress},
		{"anna@[192.0.2.1]", "", ErrBadAddress},
		{"anna@-bad.org", "", ErrBadAddress},
	} {
		got, err := NormalizeAddress(c.in)
		if got != c.want || (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
}

// fakeClock is an injected clock whose Sleep advances time and records waits.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func openTest(t *testing.T, clk *fakeClock) *Directory {
	t.Helper()
	opts := Options{Domains: []string{"example.org"}, ReloadInterval: -1}
	if clk != nil {
		opts.Now, opts.Sleep = clk.Now, clk.Sleep
	}
	d, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, u := range []string{"anna@example.org", "bob@example.org"} {
		if err := d.AddUser(u, "s3cret-pass"); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestResolve(t *testing.T) {
	t.Parallel()
	d := openTest(t, nil)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.AddAlias("family@example.org", []string{"anna@example.org", "bob@example.org", "gran@remote.net"}))
	must(d.AddAlias("a@example.org", []string{"anna@example.org"}))
	must(d.AddAlias("b@example.org", []string{"a@example.org"}))
	if err := d.AddAlias("a@example.org", []string{"b@example.org"}); err != nil {
		t.Fatalf("partial loop that still reaches anna refused: %v", err)
	}
	if err := d.AddAlias("x@example.org", []string{"x@example.org"}); !errors.Is(err, ErrAliasLoop) {
		t.Fatalf("self alias: %v", err)
	}
	for _, c := range []struct {
		in     string
		local  []Local
		remote []string
		err    error
	}{
		{"Anna@example.org", []Local{{"anna@example.org", ""}}, nil, nil},
		{"anna+shop@example.org", []Local{{"anna@example.org", "shop"}}, nil, nil},
		{"family@example.org", []Local{{"anna@example.org", ""}, {"bob@example.org", ""}}, []string{"gran@remote.net"}, nil},
		{"b@example.org", []Local{{"anna@example.org", ""}}, nil, nil},
		{"postmaster@example.org", []Local{{"anna@example.org", ""}}, nil, nil},
		{"abuse@example.org", []Local{{"anna@example.org", ""}}, nil, nil},
		{"nobody@example.org", nil, nil, ErrNoSuchUser},
		{"anna@elsewhere.net", nil, nil, ErrNotLocal},
	} {
		r, err := d.Resolve(c.in)
		if !errors.Is(err, c.err) || !slices.Equal(r.Local, c.local) || !slices.Equal(r.Remote, c.remote) {
			t.Errorf("Resolve(%q) = %v, %v; want %v %v, %v", c.in, r, err, c.local, c.remote, c.err)
		}
	}
	must(d.AddAlias("@example.org", []string{"bob@example.org"}))
	if r, err := d.Resolve("nobody@example.org"); err != nil || r.Local[0].User != "bob@example.org" {
		t.Errorf("catch-all: %v, %v", r, err)
	}
	if !d.CanSendAs("anna@example.org", "family@example.org") || d.CanSendAs("anna@example.org", "bob@example.org") {
		t.Error("CanSendAs wrong")
	}
}

func TestAuthenticateAndThrottle(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := openTest(t, clk)
	ctx := context.Background()
	if u, err := d.Authenticate(ctx, "imap", "192.0.2.1:1234", "Anna@example.org", "s3cret-pass"); err != nil || u != "anna@example.org" {
		t.Fatalf("good login: %q %v", u, err)
	}
	if _, err := d.Authenticate(ctx, "imap", "192.0.2.1:1234", "ghost@example.org", "s3cret-pass"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	// Distinct wrong passwords: delays grow to the maximum.
	for i := 0; i < 8; i++ {
		d.Authenticate(ctx, "imap", "192.0.2.1:1234", "anna@example.org", "wrong"+string(rune('a'+i)))
	}
	if last := clk.slept[len(clk.slept)-1]; last != DefaultMaxDelay || clk.slept[0] != DefaultInitialDelay {
		t.Fatalf("delays %v", clk.slept)
	}
	// A success resets the count.
	if _, err := d.Authenticate(ctx, "imap", "192.0.2.1:1234", "anna@example.org", "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	n := len(clk.slept)
	if _, err := d.Authenticate(ctx, "imap", "192.0.2.1:1234", "anna@example.org", "s3cret-pass"); err != nil || len(clk.slept) != n {
		t.Fatalf("after success: err %v, slept again %v", err, clk.slept[n:])
	}
	// A stale password repeated from a phone never locks the account.
	for i := 0; i < 3*DefaultAccountLimit; i++ {
		src := "2001:db8:0:" + string(rune('a'+i%6)) + "::1"
		if _, err := d.Authenticate(ctx, "pop3", src, "bob@example.org", "old-password"); errors.Is(err, ErrThrottled) {
			t.Fatalf("attempt %d throttled", i)
		}
	}
	if _, err := d.Authenticate(ctx, "imap", "198.51.100.7", "bob@example.org", "s3cret-pass"); err != nil {
		t.Fatalf("household login after stale phone: %v", err)
	}
	// Beyond the source limit the source is refused.
	var err error
	for i := 0; i < DefaultSourceLimit+1; i++ {
		_, err = d.Authenticate(ctx, "smtp", "203.0.113.9", "u"+string(rune('a'+i))+"@example.org", "x")
	}
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("source not refused: %v", err)
	}
}
