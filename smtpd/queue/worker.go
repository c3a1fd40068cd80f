package queue

import (
	"context"
	"log/slog"
	"time"
)

// outcome is the result of one delivery attempt for one recipient.
type outcome struct {
	ok     bool
	perm   bool   // permanent failure: bounce
	status string // RFC 3463 enhanced code, such as "5.1.1"
	text   string // the remote reply or our own reason
	remote string // host that answered, "" when none did
}

// process makes one pass over message e.id: it expires old recipients,
// attempts the due ones grouped by route, records the results durably,
// and then reschedules the message or finishes it (bounce, remove).
func (q *Queue) process(ctx context.Context, e entry) {
	log := q.log.With("id", e.id)
	env, err := loadEnvelope(q.dir, e.id)
	if err != nil {
		if !isNotExist(err) {
			log.Error("cannot read envelope", "err", err)
		}
		return
	}
	now := time.Now()
	expiry := q.expiry(env)
	changed := false
	groups := map[string][]*Recipient{}
	var order []string
	for _, r := range env.Rcpts {
		if r.State.final() {
			continue
		}
		if expire(r, now, expiry) {
			changed = true
			continue
		}
		if r.State == StatePending || e.force || !r.Next.After(now) {
			key := q.routeKey(r.Addr)
			if groups[key] == nil {
				order = append(order, key)
			}
			groups[key] = append(groups[key], r)
		}
	}
	for _, key := range order {
		rcpts := groups[key]
		res := q.deliverGroup(ctx, log, env, key, rcpts)
		for i, r := range rcpts {
			q.record(env, r, res[i], now, expiry)
		}
		changed = true
	}
	if deferred := q.delayWarning(env, now); len(deferred) > 0 {
		if err := q.warn(ctx, env, deferred); err != nil {
			log.Warn("cannot send delay warning", "err", err)
		} else {
			env.Warned, changed = true, true
		}
	}
	_, unfinished := env.next()
	// A message that is finished and owes no bounce is removed without
	// recording its final state: a crash before the removal redelivers,
	// exactly as a crash before the recording would.
	if changed && (unfinished || env.needsBounce()) {
		if err := saveEnvelope(q.dir, env); err != nil {
			log.Error("cannot record delivery state", "err", err)
			q.schedule(entry{at: time.Now().Add(q.retryDelay(1)), id: env.ID})
			return
		}
	}
	if next, ok := env.next(); ok {
		if changed {
			q.schedule(entry{at: next, id: env.ID})
		}
		return
	}
	q.finish(ctx, log, env)
}

// record applies one outcome to a recipient.
func (q *Queue) record(env *Envelope, r *Recipient, o outcome, now, expiry time.Time) {
	r.Attempts++
	r.LastError = o.text
	r.Status = o.status
	r.Remote = o.remote
	switch {
	case o.ok:
		r.State = StateDelivered
		r.LastError = ""
	case o.perm:
		r.State = StateFailed
	default:
		q.deferUntil(r, now, expiry)
	}
}

// finish handles a message whose recipients are all delivered or failed:
// one bounce for the failed ones (never for a bounce), then removal.
func (q *Queue) finish(ctx context.Context, log *slog.Logger, env *Envelope) {
	var failed []*Recipient
	for _, r := range env.Rcpts {
		if r.State == StateFailed {
			failed = append(failed, r)
		}
	}
	if env.needsBounce() {
		if err := q.bounce(ctx, env, failed); err != nil {
			if q.abandonBounce(env, time.Now()) {
				log.Error("cannot return bounce past the message lifetime; giving up", "err", err, "from", env.From)
				removeMessage(q.dir, env.ID)
				return
			}
			log.Error("cannot return bounce; will retry", "err", err)
			q.schedule(entry{at: time.Now().Add(q.retryDelay(1)), id: env.ID})
			return
		}
		env.Bounced = true
		if err := saveEnvelope(q.dir, env); err != nil {
			log.Error("cannot record bounce", "err", err)
		}
	}
	if err := removeMessage(q.dir, env.ID); err != nil {
		log.Error("cannot remove finished message", "err", err)
		return
	}
	log.Info("done", "failed", len(failed), "rcpts", len(env.Rcpts))
}

// needsBounce reports whether some recipient failed and no bounce was sent
// yet; a message with the null sender never gets one.
func (e *Envelope) needsBounce() bool {
	if e.From == "" || e.Bounced {
		return false
	}
	for _, r := range e.Rcpts {
		if r.State == StateFailed {
			return true
		}
	}
	return false
}
