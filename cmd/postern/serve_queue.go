package main

import (
	"context"
	"fmt"

	"postern/smtpd"
	"postern/smtpd/queue"
)

// openQueue opens the outbound queue under data_dir and starts its
// delivery workers; stop ends them (deliveries in progress stay queued
// for the next start). Local deliveries of the queue (retries of local
// recipients, bounces to local senders) go through smtpd's delivery code.
func (p *process) openQueue() (q *queue.Queue, stop func(), err error) {
	cfg := p.cfg.Queue
	if cfg.Hostname == "" {
		cfg.Hostname = p.cfg.Hostname
	}
	local := smtpd.LocalDelivery{Accounts: p.dir, Store: p.store}
	q, err = queue.Open(p.cfg.DataDir, cfg, queue.Options{Logger: p.log, Local: local})
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
