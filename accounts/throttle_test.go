package accounts

import (
	"testing"
	"time"
)

// Logins in progress cost no delay up to FreeConcurrent at once (a mail
// client's first connections); past that they count like failures, so a
// burst of parallel guesses waits. Failures still count at once.
func TestThrottleConcurrentLogins(t *testing.T) {
	th := newThrottle(ThrottleConfig{}.withDefaults())
	now := time.Unix(1_800_000_000, 0)
	var delays []time.Duration
	for range FreeConcurrent + DefaultFreeFailures + 2 {
		d, refused := th.begin(now, "192.0.2.9", "anna@example.org")
		if refused {
			t.Fatal("refused")
		}
		delays = append(delays, d)
	}
	free := FreeConcurrent + DefaultFreeFailures
	for i, d := range delays {
		if i < free && d != 0 {
			t.Fatalf("login %d in progress delayed %v: %v", i+1, d, delays)
		}
		if i >= free && d == 0 {
			t.Fatalf("login %d of a burst not delayed: %v", i+1, delays)
		}
	}
	// The logins end in failure: the next one waits, whatever is in
	// progress.
	th2 := newThrottle(ThrottleConfig{}.withDefaults())
	for range DefaultFreeFailures {
		th2.begin(now, "192.0.2.10", "bob@example.org")
		th2.end(now, "192.0.2.10", "bob@example.org", failed, "wrong")
	}
	if d, _ := th2.begin(now, "192.0.2.10", "bob@example.org"); d != DefaultInitialDelay {
		t.Fatalf("after %d failures: delay %v", DefaultFreeFailures, d)
	}
}
