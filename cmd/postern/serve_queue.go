package main

import (
	"context"
	"fmt"
	"io"

	"postern/accounts"
	"postern/maildir"
	"postern/smtpd/queue"
)

// openQueue opens the outbound queue under data_dir and starts its
// delivery workers; stop ends them (deliveries in progress stay queued
// for the next start).
func (p *process) openQueue() (q *queue.Queue, stop func(), err error) {
	cfg := p.cfg.Queue
	if cfg.Hostname == "" {
		cfg.Hostname = p.cfg.Hostname
	}
	q, err = queue.Open(p.cfg.DataDir, cfg, queue.Options{Logger: p.log, Local: localDelivery{dir: p.dir, store: p.store}})
	if err != nil {
		return nil, nil, fmt.Errorf("queue: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := q.Run(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("queue stopped", "err", err)
		}
	}()
	return q, func() { cancel(); <-done }, nil
}

// localDelivery lets the queue put bounces for local senders straight
// into their INBOX.
type localDelivery struct {
	dir   *accounts.Directory
	store *maildir.Store
}

func (l localDelivery) LocalUser(addr string) (string, bool) {
	res, err := l.dir.Resolve(addr)
	if err != nil || len(res.Local) == 0 {
		return "", false
	}
	return res.Local[0].User, true
}

func (l localDelivery) DeliverLocal(ctx context.Context, user string, msg io.Reader) error {
	errs, err := l.store.Deliver(ctx, msg, []maildir.Target{{User: user}})
	if err != nil {
		return fmt.Errorf("deliver bounce to %s: %w", user, err)
	}
	if len(errs) > 0 && errs[0] != nil {
		return fmt.Errorf("deliver bounce to %s: %w", user, errs[0])
	}
	return nil
}
