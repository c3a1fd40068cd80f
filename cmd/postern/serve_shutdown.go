package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"postern/accounts"
	"postern/imapd"
	"postern/pop3d"
	"postern/smtpd"
)

// The bounds of a stop (SIGTERM, SIGINT). shutdown_timeout is the part
// the sessions get; these are what the process adds to it.
const (
	// shutdownGrace is how long the stop may still take after
	// shutdown_timeout, once the sessions still busy have been logged and
	// cut off: closing their sockets, stopping the queue, saving the mail
	// store's indexes. If it has not finished by then, run returns anyway.
	shutdownGrace = 3 * time.Second
	// watchdogSlack is how much later still the watchdog ends the process
	// (exit status exitWatchdog), should even run's return path be stuck.
	watchdogSlack = 2 * time.Second
	// watchdogLogWait bounds the watchdog's attempt to log why it fires
	// (the log's writer might be what is stuck).
	watchdogLogWait = 200 * time.Millisecond
	// maxBusyLogged bounds the lines logged for busy sessions at one stop;
	// a summary line counts them all.
	maxBusyLogged = 200
	// exitWatchdog is the exit status when the watchdog ends the process.
	// A stop that reached shutdown_timeout but then ended exits with 1.
	exitWatchdog = 3
)

// errStopTimedOut is returned by run when the stop reached
// shutdown_timeout: sessions were cut off (and, if the stop did not
// finish within shutdownGrace either, something was left running).
var errStopTimedOut = errors.New("shutdown_timeout reached")

// closers are what run opened and must close at the end, in reverse
// order: at once when the start fails, within the bounded stop otherwise.
type closers struct {
	list []closer
}

type closer struct {
	name  string // what it closes, for the log of a stop that hangs
	close func()
}

func (c *closers) add(name string, f func()) { c.list = append(c.list, closer{name, f}) }

// closeAll runs the closers in reverse order, reporting each step first.
func (c *closers) closeAll(step func(string)) {
	for i := len(c.list) - 1; i >= 0; i-- {
		step(c.list[i].name)
		c.list[i].close()
	}
	c.list = nil
}

// stop is the graceful stop, run under shutdown_timeout. In a goroutine
// of its own it shuts the front ends down (sessions end politely, SMTP
// DATA may finish), then the ACME challenge listeners and what cl holds
// (queue, certificates, mail store, listeners). When that takes longer
// than shutdown_timeout, stop logs the sessions still busy (read without
// taking any lock a stuck session may hold), cuts them off and gives the
// rest shutdownGrace; it then returns errStopTimedOut, finished or not,
// and the process exits non-zero. Nothing here waits without a bound.
func (p *process) stop(stopChallenges func(context.Context), cl *closers) error {
	timeout := p.cfg.ShutdownTimeout
	p.log.Info("shutting down", "timeout", timeout)
	// Cancelled at the deadline, after the busy sessions are logged, so
	// that the front ends cut off exactly the sessions that were listed.
	fctx, cut := context.WithCancel(context.Background())
	defer cut()
	var step atomic.Pointer[string]
	setStep := func(s string) { step.Store(&s) }
	setStep("front ends")
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.shutdown(fctx)
		setStep("ACME challenge listeners")
		stopChallenges(fctx)
		cl.closeAll(setStep)
	}()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-done:
		p.log.Info("stopped")
		return nil
	case <-deadline.C:
	}
	busy := p.logBusySessions()
	p.log.Error("shutdown_timeout reached; cutting off the sessions still busy",
		"timeout", timeout, "busy_sessions", busy, "stop_waiting_for", *step.Load())
	cut()
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		p.log.Error("stopped after shutdown_timeout", "busy_sessions", busy)
		return fmt.Errorf("%w (%v): %d sessions were still busy and were cut off", errStopTimedOut, timeout, busy)
	case <-grace.C:
		p.log.Error("stop still not finished; exiting without it", "stop_waiting_for", *step.Load(), "grace", shutdownGrace)
		go func() { <-done; p.log.Info("stop finished late") }() // seen only if the process lives on
		return fmt.Errorf("%w (%v), and the stop was still at %q %v later", errStopTimedOut, timeout, *step.Load(), shutdownGrace)
	}
}

// busyLister is a front end that can list its sessions still open
// without blocking on a lock a session may hold (smtpd, imapd and pop3d
// servers); complete is false when it could not read its session table
// in time.
type busyLister interface {
	BusySessions() (list []accounts.BusySession, complete bool)
}

var (
	_ busyLister = (*smtpd.Server)(nil)
	_ busyLister = (*imapd.Server)(nil)
	_ busyLister = (*pop3d.Server)(nil)
)

// logBusySessions logs one line per session still open (at most
// maxBusyLogged) and returns how many there are. A front end serving
// several listeners is asked once.
func (p *process) logBusySessions() int {
	p.mu.Lock()
	fes := append([]frontEnd(nil), p.frontEnds...)
	p.mu.Unlock()
	seen := map[frontEnd]bool{}
	total := 0
	now := time.Now()
	for _, fe := range fes {
		if seen[fe] {
			continue
		}
		seen[fe] = true
		bl, ok := fe.(busyLister)
		if !ok {
			continue
		}
		list, complete := bl.BusySessions()
		if !complete {
			p.log.Error("session still busy: cannot list them, their table stays locked", "front_end", fmt.Sprintf("%T", fe))
		}
		for _, b := range list {
			total++
			if total > maxBusyLogged {
				continue
			}
			attrs := []any{"proto", b.Proto, "session", b.ID, "remote", b.Remote, "user", b.User}
			if b.Command != "" {
				attrs = append(attrs, "command", b.Command)
			}
			if !b.Since.IsZero() {
				attrs = append(attrs, "for", now.Sub(b.Since).Round(time.Millisecond))
			}
			p.log.Error("session still busy at shutdown_timeout", attrs...)
		}
	}
	if total > maxBusyLogged {
		p.log.Error("more sessions still busy", "not_listed", total-maxBusyLogged)
	}
	return total
}

// armWatchdog makes sure the process ends after a stop: once ctx is done
// (the stop began), a timer of timeout (shutdown_timeout) + shutdownGrace
// + watchdogSlack calls exit(exitWatchdog), whatever any goroutine or
// lock is doing. The timer's goroutine takes no lock before exit: its
// attempt to log runs in a goroutine of its own and is waited for at most
// watchdogLogWait.
func armWatchdog(ctx context.Context, timeout time.Duration, log *slog.Logger, exit func(int)) {
	context.AfterFunc(ctx, func() {
		time.AfterFunc(timeout+shutdownGrace+watchdogSlack, func() {
			logged := make(chan struct{})
			go func() {
				log.Error("stop still running after shutdown_timeout and its grace; the watchdog ends the process",
					"exit_status", exitWatchdog)
				close(logged)
			}()
			select {
			case <-logged:
			case <-time.After(watchdogLogWait):
			}
			exit(exitWatchdog)
		})
	})
}
