package smtpd

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
	"postern/smtpd/queue"
)

// A recipient whose mailbox was full when the message came in is retried
// by the queue through LocalDelivery: deferred while the mailbox is still
// full, then stored once there is room, byte for byte the copy the other
// recipient got at DATA (same trace headers), and the queue is empty.
func TestQueuedLocalRecipientRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{withQ: true})
	e.overflowBob("retried").Expect("250 ")
	if envs := e.queued(); len(envs) != 1 || envs[0].Rcpts[0].Addr != testkit.BobUser {
		t.Fatalf("queue: %+v", envs)
	}

	// The process's queue, as cmd/postern wires it, over the same data.
	qc := queue.DefaultConfig()
	qc.Hostname = "mx.example.org"
	qc.Retry = []queue.Duration{queue.Duration(50 * time.Millisecond)}
	q, err := queue.Open(e.dir, qc, queue.Options{
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Local:  LocalDelivery{Accounts: e.accts, Store: e.store},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	testkit.WaitFor(t, "a deferred local attempt", func() bool {
		envs := e.queued()
		return len(envs) == 1 && envs[0].Rcpts[0].State == queue.StateDeferred &&
			strings.Contains(envs[0].Rcpts[0].LastError, "local delivery")
	})
	if n := len(e.inbox(testkit.BobUser)); n != 0 {
		t.Fatalf("bob has %d messages while over quota", n)
	}
	if err := e.accts.SetQuota(testkit.BobUser, 0, 0); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the retry", func() bool { return len(e.queued()) == 0 })
	anna, bob := e.inbox(testkit.AnnaUser), e.inbox(testkit.BobUser)
	if len(anna) != 1 || len(bob) != 1 {
		t.Fatalf("anna has %d messages, bob %d; want 1 each", len(anna), len(bob))
	}
	if bob[0] != anna[0] {
		t.Errorf("bob's copy differs from anna's:\n got %q\nwant %q", bob[0], anna[0])
	}
}

// overflowBob gives bob a 100-byte quota and sends a message to anna and
// bob on port 25, up to its end; the caller reads the reply to DATA.
func (e *testEnv) overflowBob(subject string) *client {
	e.t.Helper()
	if err := e.accts.SetQuota(testkit.BobUser, 100, 0); err != nil {
		e.t.Fatal(err)
	}
	c := e.mxToAnna()
	c.Do("RCPT TO:<bob@example.org>", "250 ")
	c.Do("DATA", "354 ")
	c.Send(testMessage("sender@example.net", subject) + ".\r\n")
	return c
}
