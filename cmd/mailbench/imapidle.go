package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

func init() {
	register(mode{
		name:    "imap-idle",
		summary: "IMAP: memory per connection in IDLE (N connections log in, SELECT INBOX, IDLE; server Pss/RSS delta from /proc)",
		run:     runIMAPIdle,
	})
}

// imapIdleMax bounds -conns.
const imapIdleMax = 10_000

// imapIdleResult is the JSON line of the imap-idle mode. Memory is the
// server's, read from /proc before and after the connections: the process
// -pid and all its descendants (Dovecot's per-connection processes
// included), as Pss (shared pages divided among their sharers) and RSS.
type imapIdleResult struct {
	Mode      string             `json:"mode"`
	Addr      string             `json:"addr"`
	Conns     int                `json:"conns"`
	Messages  uint32             `json:"messages"`
	PID       int                `json:"pid"`
	OpenSec   float64            `json:"open_seconds"`
	Before    procMem            `json:"before"`
	After     procMem            `json:"after"`
	Delta     map[string]procMem `json:"delta_by_command"`
	PssPerKiB float64            `json:"pss_kib_per_conn"`
	RSSPerKiB float64            `json:"rss_kib_per_conn"`
}

func runIMAPIdle(args []string, out io.Writer) error {
	fs := newFlagSet("imap-idle")
	conn := addIMAPConnFlags(fs, "127.0.0.1:993", true)
	conns := fs.Int("conns", 100, "connections to hold in IDLE")
	pid := fs.Int("pid", 0, "server process to measure (with its descendants); 0 = no memory figures")
	settle := fs.Duration("settle", 5*time.Second, "wait before each memory reading")
	// More than 3 logins in flight from one address count as possible
	// failures in Postern's throttling (accounts.DefaultFreeFailures) and
	// get delayed by seconds.
	parallel := fs.Int("parallel", 3, "connections being set up at the same time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *conns > imapIdleMax {
		return fmt.Errorf("-conns %d out of range 1..%d", *conns, imapIdleMax)
	}
	if *parallel < 1 || *parallel > 100 {
		return fmt.Errorf("-parallel %d out of range 1..100", *parallel)
	}
	if *settle < 0 || *settle > time.Minute {
		return fmt.Errorf("-settle %v out of range 0..1m", *settle)
	}
	res := imapIdleResult{Mode: "imap-idle", Addr: *conn.addr, Conns: *conns, PID: *pid}

	// A first connection, not counted, loads what all sessions share (the
	// folder's index in the server) before the baseline is read.
	primer, n, err := idleSession(conn)
	if err != nil {
		return fmt.Errorf("first connection: %w", err)
	}
	defer primer.close()
	res.Messages = n
	time.Sleep(*settle)
	var before map[string]procMem
	if *pid != 0 {
		if before, err = treeMem(*pid); err != nil {
			return err
		}
	}

	start := time.Now()
	held, err := openIdleSessions(conn, *conns, *parallel)
	defer func() {
		for _, s := range held {
			s.close()
		}
	}()
	if err != nil {
		return err
	}
	res.OpenSec = time.Since(start).Seconds()
	time.Sleep(*settle)
	if *pid != 0 {
		after, err := treeMem(*pid)
		if err != nil {
			return err
		}
		res.Before, res.After = sumMem(before), sumMem(after)
		res.Delta = memDelta(before, after)
		res.PssPerKiB = float64(res.After.PssKB-res.Before.PssKB) / float64(*conns)
		res.RSSPerKiB = float64(res.After.RSSKB-res.Before.RSSKB) / float64(*conns)
	}
	return writeResult(out, res)
}

// idleConn is one connection sitting in IDLE.
type idleConn struct {
	c    *imapclient.Client
	idle *imapclient.IdleCommand
}

// close ends IDLE and the connection without waiting for the server.
func (s idleConn) close() {
	s.c.Close()
}

// idleSession logs in, selects INBOX and starts IDLE; it returns the
// number of messages in INBOX.
func idleSession(conn imapConnFlags) (idleConn, uint32, error) {
	c, err := conn.login()
	if err != nil {
		return idleConn{}, 0, err
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		c.Close()
		return idleConn{}, 0, fmt.Errorf("select: %w", err)
	}
	idle, err := c.Idle()
	if err != nil {
		c.Close()
		return idleConn{}, 0, fmt.Errorf("idle: %w", err)
	}
	return idleConn{c, idle}, sel.NumMessages, nil
}

// openIdleSessions sets up n sessions in IDLE, parallel at a time. On an
// error it returns the sessions opened so far with the first error.
func openIdleSessions(conn imapConnFlags, n, parallel int) ([]idleConn, error) {
	var (
		mu   sync.Mutex
		held []idleConn
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s, _, err := idleSession(conn)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("connection %d: %w", i+1, err))
				} else {
					held = append(held, s)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return held, errors.Join(errs...)
}

// memDelta is after minus before for every command name in either.
func memDelta(before, after map[string]procMem) map[string]procMem {
	d := map[string]procMem{}
	for _, m := range []map[string]procMem{before, after} {
		for k := range m {
			a, b := after[k], before[k]
			d[k] = procMem{Procs: a.Procs - b.Procs, PssKB: a.PssKB - b.PssKB, RSSKB: a.RSSKB - b.RSSKB}
		}
	}
	return d
}
