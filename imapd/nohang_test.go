package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/smtp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/accounts/testkit"
	"postern/pop3d"
	"postern/smtpd"
)

// noHangDuration is how long TestSelectAgainstWritersNoHang runs its load,
// and noHangLimit how long any one command may wait before the test fails
// with a goroutine dump (issue 14).
const (
	noHangDuration = 20 * time.Second
	noHangLimit    = 10 * time.Second
)

// TestSelectAgainstWritersNoHang runs the pattern that deadlocked a
// mailbox for good (issue 14) for 20 s: one session loops SELECT INBOX
// while another loops APPEND, STORE 1:* +FLAGS (\Deleted), EXPUNGE on the
// same INBOX; meanwhile SMTP delivers to it, a POP3 session reads and
// deletes from it, and short sessions log in, SELECT, FETCH, STORE,
// EXPUNGE, APPEND, MOVE and log out. Any command that waits more than 10 s
// fails the test with every goroutine's stack. Run it under -race (CI
// does).
func TestSelectAgainstWritersNoHang(t *testing.T) {
	e := newEnv(t, Config{})
	srvTLS := testkit.ServerTLS()

	// Loopback is allowlisted: the writer sends far more than port 25's
	// per-address message rate.
	mx := smtpd.NewMX(smtpd.Options{Store: e.store, Accounts: e.accts, Hostname: "mx.example.org", Logger: discardLogger(),
		Config: smtpd.Config{AllowAddresses: []string{"127.0.0.0/8"}}})
	mxLn := testkit.Listen(t)
	go mx.Serve(mxLn)
	t.Cleanup(func() { mx.Shutdown(shutdownCtx(t)) })

	pop := pop3d.New(pop3d.Options{Store: e.store, Accounts: e.accts, TLSConfig: srvTLS, Hostname: "pop.example.org", Logger: discardLogger()})
	popLn := testkit.Listen(t)
	go pop.ServeTLS(popLn)
	t.Cleanup(func() { pop.Shutdown(shutdownCtx(t)) })

	archive := "Work"
	c0 := e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
	if err := c0.Create(archive, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c0.Logout()
	for i := range 40 {
		e.put(testkit.AnnaUser, "INBOX", msg(fmt.Sprintf("seed %d", i), "x"))
	}

	w := &watchdog{t: t, stop: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), noHangDuration)
	defer cancel()
	var wg sync.WaitGroup
	// run starts a worker that calls body until the time is up; body's
	// do(what, cmd) runs one command under the watchdog.
	run := func(name string, body func(do func(string, func() error) error) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			step := w.worker(name)
			do := func(what string, cmd func() error) error {
				defer step(what)()
				return cmd()
			}
			for ctx.Err() == nil {
				if err := body(do); err != nil && ctx.Err() == nil {
					w.fail(fmt.Sprintf("%s: %v", name, err))
					return
				}
			}
		}()
	}
	// session logs in and selects mbox.
	session := func(do func(string, func() error) error, mbox string) (*imapclient.Client, error) {
		var c *imapclient.Client
		err := do("LOGIN", func() (err error) {
			if c, err = imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTC}); err != nil {
				return err
			}
			return c.Login(testkit.AnnaUser, testkit.AnnaPass).Wait()
		})
		if err == nil {
			err = do("SELECT "+mbox, func() error { _, err := c.Select(mbox, nil).Wait(); return err })
		}
		if err != nil && c != nil {
			c.Close()
		}
		return c, err
	}
	// store runs STORE set op flags, allowing a NO for messages expunged
	// meanwhile.
	store := func(do func(string, func() error) error, c *imapclient.Client, set imap.SeqSet, op imap.StoreFlagsOp, flags ...imap.Flag) error {
		return allowNo(do("STORE", func() error {
			return c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close()
		}))
	}
	expunge := func(do func(string, func() error) error, c *imapclient.Client) error {
		return do("EXPUNGE", func() error { return c.Expunge().Close() })
	}

	// A: SELECT INBOX, over and over, on one session (and two more
	// like it, for contention).
	for n := range 3 {
		run(fmt.Sprintf("selector%d", n), func(do func(string, func() error) error) error {
			c, err := session(do, "INBOX")
			if err != nil {
				return err
			}
			defer c.Close()
			for err == nil && ctx.Err() == nil {
				err = do("SELECT", func() error { _, err := c.Select("INBOX", nil).Wait(); return err })
			}
			return err
		})
	}
	// A flagger keeps flag events coming: STORE 1:* +/-FLAGS on INBOX,
	// which holds the folder while it renames every file.
	run("flagger", func(do func(string, func() error) error) error {
		c, err := session(do, "INBOX")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; err == nil && ctx.Err() == nil; i++ {
			op := imap.StoreFlagsAdd
			if i%2 == 1 {
				op = imap.StoreFlagsDel
			}
			err = store(do, c, allSeq(), op, imap.FlagFlagged)
		}
		return err
	})
	// B: APPEND, STORE 1:* +FLAGS (\Deleted), EXPUNGE on another session.
	run("writer", func(do func(string, func() error) error) error {
		c, err := session(do, "INBOX")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; err == nil && ctx.Err() == nil; i++ {
			err = do("APPEND", func() error { return appendMsg(c, "INBOX", msg(fmt.Sprintf("append %d", i), "hello")) })
			if err == nil {
				err = store(do, c, allSeq(), imap.StoreFlagsAdd, imap.FlagDeleted)
			}
			if err == nil {
				err = expunge(do, c)
			}
		}
		return err
	})
	// Short sessions: log in, SELECT, FETCH, STORE, MOVE, APPEND,
	// EXPUNGE in INBOX and in the other folder, log out.
	for n := range 3 {
		run(fmt.Sprintf("short%d", n), func(do func(string, func() error) error) error {
			c, err := session(do, "INBOX")
			if err != nil {
				return err
			}
			defer c.Close()
			for _, mbox := range []string{"INBOX", archive} {
				dest := archive
				if mbox == archive {
					dest = "INBOX"
				}
				steps := []struct {
					what string
					cmd  func() error
				}{
					{"SELECT", func() error { _, err := c.Select(mbox, nil).Wait(); return err }},
					{"FETCH", func() error {
						_, err := c.Fetch(allSeq(), &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
						return allowNo(err)
					}},
					{"STORE", func() error {
						return allowNo(c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, "$Label1"}}, nil).Close())
					}},
					{"MOVE", func() error { _, err := c.Move(imap.SeqSetNum(1), dest).Wait(); return allowNo(err) }},
					{"APPEND", func() error { return appendMsg(c, mbox, msg("short", "hi")) }},
					{"EXPUNGE", func() error { return c.Expunge().Close() }},
				}
				for _, st := range steps {
					if err := do(st.what, st.cmd); err != nil {
						return err
					}
				}
			}
			return do("LOGOUT", func() error { return c.Logout().Wait() })
		})
	}
	// RENAME and DELETE of a folder that another session has selected
	// (its view gets every message expunged), while that session keeps
	// selecting it and fetching from it.
	run("renamer", func(do func(string, func() error) error) error {
		c, err := session(do, "INBOX")
		if err != nil {
			return err
		}
		defer c.Close()
		steps := []struct {
			what string
			cmd  func() error
		}{
			{"CREATE", func() error { return allowNo(c.Create("Tmp", nil).Wait()) }},
			{"APPEND", func() error { return appendMsg(c, "Tmp", msg("tmp", "x")) }},
			{"RENAME", func() error { return allowNo(c.Rename("Tmp", "Tmp2", nil).Wait()) }},
			{"RENAME", func() error { return allowNo(c.Rename("Tmp2", "Tmp", nil).Wait()) }},
			{"DELETE", func() error { return allowNo(c.Delete("Tmp").Wait()) }},
		}
		for _, st := range steps {
			if err := do(st.what, st.cmd); err != nil {
				return err
			}
		}
		return nil
	})
	run("renamed", func(do func(string, func() error) error) error {
		c, err := session(do, "INBOX")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			if err := do("SELECT Tmp", func() error { _, err := c.Select("Tmp", nil).Wait(); return allowNo(err) }); err != nil {
				return err
			}
			if err := do("FETCH", func() error {
				_, err := c.Fetch(allSeq(), &imap.FetchOptions{UID: true, Flags: true}).Collect()
				return allowNo(err)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	// SMTP deliveries to the same INBOX.
	run("smtp", func(do func(string, func() error) error) error {
		return do("SMTP", func() error {
			return smtp.SendMail(mxLn.Addr().String(), nil, "carol@example.net", []string{testkit.AnnaUser},
				[]byte(msg("delivered", "by smtp")))
		})
	})
	// A POP3 session: STAT, RETR 1, DELE 1, QUIT.
	run("pop3", func(do func(string, func() error) error) error {
		return do("POP3", func() error { return popRound(popLn.Addr().String(), e.clientTC) })
	})

	select {
	case <-ctx.Done():
	case <-w.stop:
	}
	cancel()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * noHangLimit):
		w.dump("workers did not stop")
	}
	w.report()
}

// watchdog fails a test when a worker's command waits longer than
// noHangLimit, with every goroutine's stack.
type watchdog struct {
	t        *testing.T
	mu       sync.Mutex
	workers  []*workerState
	failures []string
	stop     chan struct{}
	stopped  atomic.Bool
}

// workerState is what one worker is waiting for, if anything.
type workerState struct {
	name  string
	since atomic.Int64 // UnixNano of the current command's start; 0 = none
	what  atomic.Value // string
	count atomic.Int64
}

// worker registers a worker and returns its step function: step(cmd)
// marks the start of cmd and returns the function that marks its end.
// It also starts the monitor on first use.
func (w *watchdog) worker(name string) func(string) func() {
	ws := &workerState{name: name}
	w.mu.Lock()
	first := len(w.workers) == 0
	w.workers = append(w.workers, ws)
	w.mu.Unlock()
	if first {
		go w.monitor()
	}
	return func(cmd string) func() {
		ws.what.Store(cmd)
		ws.since.Store(time.Now().UnixNano())
		return func() {
			ws.since.Store(0)
			ws.count.Add(1)
		}
	}
}

// monitor checks the workers twice a second until the test stops.
func (w *watchdog) monitor() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if w.stopped.Load() {
			return
		}
		w.mu.Lock()
		ws := append([]*workerState(nil), w.workers...)
		w.mu.Unlock()
		for _, s := range ws {
			if since := s.since.Load(); since != 0 && time.Since(time.Unix(0, since)) > noHangLimit {
				w.dump(fmt.Sprintf("%s: %v waited more than %v", s.name, s.what.Load(), noHangLimit))
				return
			}
		}
	}
}

// fail records a worker's error and stops the test.
func (w *watchdog) fail(msg string) {
	w.mu.Lock()
	w.failures = append(w.failures, msg)
	w.mu.Unlock()
	if w.stopped.CompareAndSwap(false, true) {
		close(w.stop)
	}
}

// dump records a hang with every goroutine's stack and stops the test.
func (w *watchdog) dump(why string) {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	w.fail(why + "\n\ngoroutines:\n" + string(buf))
}

// report fails the test with what went wrong, or logs the counts.
func (w *watchdog) report() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped.Store(true)
	var counts []string
	for _, s := range w.workers {
		counts = append(counts, fmt.Sprintf("%s=%d", s.name, s.count.Load()))
	}
	w.t.Logf("commands done: %s", strings.Join(counts, " "))
	for _, f := range w.failures {
		w.t.Error(f)
	}
	for _, s := range w.workers {
		if s.count.Load() == 0 {
			w.t.Errorf("worker %s completed no command", s.name)
		}
	}
}

// allSeq is 1:*.
func allSeq() imap.SeqSet {
	var s imap.SeqSet
	s.AddRange(1, 0)
	return s
}

// appendMsg APPENDs body to mbox.
func appendMsg(c *imapclient.Client, mbox, body string) error {
	cmd := c.Append(mbox, int64(len(body)), nil)
	if _, err := cmd.Write([]byte(body)); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// allowNo drops a tagged NO or BAD: the answer to a sequence set naming
// messages that are gone or not there yet, legitimate while other
// sessions expunge. Anything else (a BYE, a broken connection) stays.
func allowNo(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type != imap.StatusResponseTypeBye {
		return nil
	}
	return err
}

// popRound logs in over POP3S, reads and deletes the first message, and
// QUITs.
func popRound(addr string, tc *tls.Config) error {
	c, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * noHangLimit))
	br := bufio.NewReader(c)
	read := func() (string, error) {
		l, err := br.ReadString('\n')
		if err == nil && !strings.HasPrefix(l, "+OK") {
			err = fmt.Errorf("pop3: %q", strings.TrimSpace(l))
		}
		return l, err
	}
	cmd := func(s string) (string, error) {
		if _, err := fmt.Fprintf(c, "%s\r\n", s); err != nil {
			return "", err
		}
		return read()
	}
	if _, err := read(); err != nil {
		return err
	}
	if _, err := cmd("USER " + testkit.AnnaUser); err != nil {
		return err
	}
	if _, err := cmd("PASS " + testkit.AnnaPass); err != nil {
		return err
	}
	stat, err := cmd("STAT")
	if err != nil {
		return err
	}
	var n int
	fmt.Sscanf(stat, "+OK %d", &n)
	if n > 0 {
		if _, err := cmd("RETR 1"); err != nil && !strings.Contains(err.Error(), "-ERR") {
			return err
		} else if err == nil {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				if l == ".\r\n" {
					break
				}
			}
		}
		if _, err := cmd("DELE 1"); err != nil {
			return err
		}
	}
	_, err = cmd("QUIT")
	return err
}

// discardLogger drops the other servers' logs.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
