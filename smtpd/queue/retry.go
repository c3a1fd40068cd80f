package queue

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The retry policy: when a deferred recipient is tried again, when it
// gives up, and when its sender hears that it is late. The waits come from
// [queue] retry ((Config).retryAfter, defaults in defaultRetry), each
// spread by jitter; a recipient still deferred at the message's expiry
// fails with 4.4.7 (expire); a sender whose message is still deferred
// after [queue] warn_after gets one "delayed" notice (delayWarning). The
// bounce itself is (*Queue).finish and (*Queue).bounce; one that cannot
// be handed on is retried until abandonBounce. The table is in doc.go.

// jitterDivisor sets the spread of a retry wait: up to 1/jitterDivisor of
// the wait (10%) either way, so that messages deferred together (by one
// outage, or loaded together at start) do not retry in lockstep. chasquid
// adds up to a minute to each of its waits for the same reason.
const jitterDivisor = 10

// jitter returns d moved by a uniformly random amount within
// ±d/jitterDivisor; randN(n) returns a number in [0, n).
func jitter(d time.Duration, randN func(n int64) int64) time.Duration {
	spread := int64(d / jitterDivisor)
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(randN(2*spread+1))
}

// retryDelay is the wait after the n-th failed attempt (n starts at 1;
// past the end of the list, its last wait repeats): the configured
// schedule, with jitter.
func (q *Queue) retryDelay(n int) time.Duration {
	return jitter(q.cfg.retryAfter(n), rand.Int64N)
}

// expiry is when the deferred recipients of env stop being retried
// ([queue] lifetime after the message was queued).
func (q *Queue) expiry(env *Envelope) time.Time {
	return env.Created.Add(time.Duration(q.cfg.Lifetime))
}

// expire fails r when it is deferred and its message has expired, and
// reports whether it did. The status becomes 4.4.7 (RFC 3463: delivery
// time expired) unless the last answer was already permanent.
func expire(r *Recipient, now, expiry time.Time) bool {
	if r.State != StateDeferred || now.Before(expiry) {
		return false
	}
	r.State = StateFailed
	r.LastError = fmt.Sprintf("delivery time expired after %d attempts; last error: %s", r.Attempts, r.LastError)
	if !strings.HasPrefix(r.Status, "5") {
		r.Status = "4.4.7"
	}
	return true
}

// deferUntil marks r deferred and gives it its next attempt: after the
// retry wait for its attempt count, but never later than expiry, so that
// the last attempt happens at the deadline.
func (q *Queue) deferUntil(r *Recipient, now, expiry time.Time) {
	r.State = StateDeferred
	r.Next = now.Add(q.retryDelay(r.Attempts))
	if r.Next.After(expiry) {
		r.Next = expiry
	}
}

// abandonBounce reports whether a bounce for env that cannot be handed on
// (say, the local sender's mailbox is full) is given up at now rather than
// retried: bounceGrace past the message's expiry.
func (q *Queue) abandonBounce(env *Envelope, now time.Time) bool {
	return now.After(q.expiry(env).Add(bounceGrace))
}

// delayWarning returns the recipients of env to name in a "delayed"
// notice at now: every deferred one, once the message is warn_after old.
// It returns nil when no notice is due: warnings are off, the sender is
// null, one was already sent, or nothing is deferred.
func (q *Queue) delayWarning(env *Envelope, now time.Time) []*Recipient {
	if q.cfg.WarnAfter <= 0 || env.From == "" || env.Warned || now.Sub(env.Created) < time.Duration(q.cfg.WarnAfter) {
		return nil
	}
	var deferred []*Recipient
	for _, r := range env.Rcpts {
		if r.State == StateDeferred {
			deferred = append(deferred, r)
		}
	}
	return deferred
}

// defaultRetry is the wait before each retry: about 1, 5, 15, 30 minutes,
// then hourly.
var defaultRetry = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}

// retryAfter is the wait after the n-th failed attempt (n starts at 1).
func (c Config) retryAfter(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > len(c.Retry) {
		n = len(c.Retry)
	}
	return c.Retry[n-1]
}
