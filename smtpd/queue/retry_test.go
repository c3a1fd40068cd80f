package queue

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Jitter moves a wait by at most a tenth either way, reaches both sides,
// and leaves waits too short to spread alone.
func TestJitterBounds(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{50 * time.Millisecond, time.Minute, time.Hour} {
		lo, hi := d-d/jitterDivisor, d+d/jitterDivisor
		below, above := false, false
		for range 1000 {
			got := jitter(d, rand.Int64N)
			if got < lo || got > hi {
				t.Fatalf("jitter(%v) = %v, outside [%v, %v]", d, got, lo, hi)
			}
			below = below || got < d
			above = above || got > d
		}
		if !below || !above {
			t.Errorf("jitter(%v) never went below (%v) or above (%v)", d, below, above)
		}
		// The extremes of the random draw are the bounds themselves.
		if got := jitter(d, func(int64) int64 { return 0 }); got != lo {
			t.Errorf("jitter(%v) at the lowest draw = %v, want %v", d, got, lo)
		}
		if got := jitter(d, func(n int64) int64 { return n - 1 }); got != hi {
			t.Errorf("jitter(%v) at the highest draw = %v, want %v", d, got, hi)
		}
	}
	for _, d := range []time.Duration{0, 9} {
		if got := jitter(d, rand.Int64N); got != d {
			t.Errorf("jitter(%v) = %v, want it unchanged", d, got)
		}
	}
}

// Without its spread, the schedule is the configured one: 1, 5, 15, 30
// minutes, then hourly, and never past the expiry.
func TestRetryScheduleUnchangedByJitter(t *testing.T) {
	t.Parallel()
	q := &Queue{cfg: DefaultConfig().withDefaults()}
	want := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour, time.Hour}
	for i, w := range want {
		n := i + 1
		if got := q.cfg.retryAfter(n); got != w {
			t.Errorf("retryAfter(%d) = %v, want %v", n, got, w)
		}
		if got := jitter(w, func(m int64) int64 { return m / 2 }); got != w {
			t.Errorf("jitter(%v) at the middle draw = %v", w, got)
		}
		for range 100 {
			if got := q.retryDelay(n); got < w-w/jitterDivisor || got > w+w/jitterDivisor {
				t.Fatalf("retryDelay(%d) = %v, want %v ± 10%%", n, got, w)
			}
		}
	}

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &Recipient{Attempts: 5}
	q.deferUntil(r, now, now.Add(10*time.Minute))
	if r.State != StateDeferred || !r.Next.Equal(now.Add(10*time.Minute)) {
		t.Errorf("deferred near expiry: state %v, next %v, want the expiry", r.State, r.Next)
	}
	r = &Recipient{Attempts: 1}
	q.deferUntil(r, now, now.Add(time.Hour))
	if d := r.Next.Sub(now); d < 54*time.Second || d > 66*time.Second {
		t.Errorf("first retry after %v, want about a minute", d)
	}
}

// A deferred recipient fails at its expiry with 4.4.7, or keeps a
// permanent status it already had; others are left alone.
func TestExpire(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tt := range []struct {
		r          Recipient
		expiry     time.Time
		expired    bool
		wantStatus string
	}{
		{Recipient{State: StateDeferred, Status: "4.3.0"}, now, true, "4.4.7"},
		{Recipient{State: StateDeferred, Status: "5.7.1"}, now.Add(-time.Second), true, "5.7.1"},
		{Recipient{State: StateDeferred, Status: "4.3.0"}, now.Add(time.Second), false, "4.3.0"},
		{Recipient{State: StatePending}, now.Add(-time.Second), false, ""},
	} {
		r := tt.r
		if got := expire(&r, now, tt.expiry); got != tt.expired || r.Status != tt.wantStatus {
			t.Errorf("expire(%+v) = %v, status %q; want %v, %q", tt.r, got, r.Status, tt.expired, tt.wantStatus)
		}
		if tt.expired && r.State != StateFailed {
			t.Errorf("expired recipient in state %v", r.State)
		}
	}
}

// A bounce that cannot be handed on is retried until a day past the
// message's expiry, then given up.
func TestAbandonBounce(t *testing.T) {
	t.Parallel()
	q := &Queue{cfg: DefaultConfig().withDefaults()}
	env := &Envelope{Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	last := env.Created.Add(DefaultLifetime + bounceGrace)
	if q.abandonBounce(env, last) {
		t.Errorf("given up at %v, the last moment it is retried", last)
	}
	if !q.abandonBounce(env, last.Add(time.Second)) {
		t.Errorf("still retried at %v", last.Add(time.Second))
	}
}
