package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

func init() {
	register(mode{
		name:    "pop3",
		summary: "POP3: login+STAT+UIDL latency, then RETR of every message (MB/s)",
		run:     runPOP3,
	})
}

// pop3Flags are the settings of one pop3 benchmark.
type pop3Flags struct {
	addr     string
	n        int // login+STAT+UIDL sessions per run
	c        int // concurrent connections
	user     string
	pass     string
	tls      bool
	starttls bool
	insecure bool
	runs     int
	pipeline int // RETR commands in flight
	timeout  time.Duration
	skipRetr bool
}

// pop3Result is one run's JSON line.
type pop3Result struct {
	runLine
	Login    Summary `json:"login_stat_uidl"`
	Messages int     `json:"messages"`
	Bytes    int64   `json:"retr_bytes,omitempty"`
	RetrSecs float64 `json:"retr_seconds,omitempty"`
	MBps     float64 `json:"retr_mb_per_sec,omitempty"`
}

// pop3Median is the closing JSON line: medians over the runs.
type pop3Median struct {
	mediansLine
	LoginP50ms  float64 `json:"median_login_stat_uidl_p50_ms"`
	LoginPerSec float64 `json:"median_login_stat_uidl_per_sec"`
	MBps        float64 `json:"median_retr_mb_per_sec"`
}

func runPOP3(args []string, out io.Writer) error {
	var f pop3Flags
	fs := newFlagSet("pop3")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:110", "server address (host:port)")
	fs.IntVar(&f.n, "n", 20, "login+STAT+UIDL sessions per run (at most 10000)")
	fs.IntVar(&f.c, "c", 1, "concurrent connections; with c>1 put %d in -user for one user per connection (POP3 locks the maildrop)")
	fs.StringVar(&f.user, "user", "", "user name (may contain %d, replaced by the connection number)")
	fs.StringVar(&f.pass, "pass", "", "password")
	fs.BoolVar(&f.tls, "tls", false, "implicit TLS (port 995)")
	fs.BoolVar(&f.starttls, "starttls", false, "STLS before logging in")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate")
	fs.IntVar(&f.runs, "runs", 3, "repeat the whole benchmark and report medians (at most 50)")
	fs.IntVar(&f.pipeline, "pipeline", 16, "RETR commands sent before reading replies (PIPELINING)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "bound on each run")
	fs.BoolVar(&f.skipRetr, "no-retr", false, "skip the RETR phase")
	_ = fs.Int("size", 0, "unused in pop3 mode (messages are read, not written)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.user == "" {
		return errors.New("pop3: -user is required")
	}
	f.n = min(max(f.n, 1), 10000)
	f.c = min(max(f.c, 1), 256)
	f.runs = min(max(f.runs, 1), 50)
	f.pipeline = min(max(f.pipeline, 1), 1000)
	var login, perSec, mbps []float64
	err := eachRun(out, f.runs, func(run int) (pop3Result, error) {
		r, err := pop3Run(f)
		if err != nil {
			return r, err
		}
		r.Mode, r.Addr, r.Run = "pop3", f.addr, run
		login = append(login, r.Login.P50ms)
		perSec = append(perSec, r.Login.PerSec)
		mbps = append(mbps, r.MBps)
		return r, nil
	})
	if err != nil {
		return err
	}
	return writeResult(out, pop3Median{
		mediansLine: mediansLine{Mode: "pop3", Addr: f.addr, Runs: f.runs},
		LoginP50ms:  Median(login),
		LoginPerSec: Median(perSec),
		MBps:        Median(mbps),
	})
}

// pop3Run does one run: n login+STAT+UIDL sessions over c connections,
// then one session retrieving every message.
func pop3Run(f pop3Flags) (pop3Result, error) {
	deadline := time.Now().Add(f.timeout)
	var (
		mu      sync.Mutex
		samples []time.Duration
		errs    int
		msgs    int
		wg      sync.WaitGroup
		lastErr error
	)
	jobs := make(chan struct{})
	start := time.Now()
	for w := 0; w < f.c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := f.user
			if strings.Contains(user, "%d") {
				user = fmt.Sprintf(user, w)
			}
			for range jobs {
				t0 := time.Now()
				n, err := pop3LoginStatUIDL(f, user, deadline)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
					lastErr = err
				} else {
					samples = append(samples, d)
					msgs = n
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < f.n && time.Now().Before(deadline); i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	r := pop3Result{Login: Summarize(samples, errs, time.Since(start)), Messages: msgs}
	if len(samples) == 0 {
		return r, fmt.Errorf("every session failed: %w", lastErr)
	}
	if f.skipRetr {
		return r, nil
	}
	user := f.user
	if strings.Contains(user, "%d") {
		user = fmt.Sprintf(user, 0)
	}
	t0 := time.Now()
	n, bytes, err := pop3RetrAll(f, user, deadline)
	if err != nil {
		return r, fmt.Errorf("RETR phase: %w", err)
	}
	secs := time.Since(t0).Seconds()
	r.Messages, r.Bytes, r.RetrSecs = n, bytes, secs
	if secs > 0 {
		r.MBps = float64(bytes) / 1e6 / secs
	}
	return r, nil
}

// pop3Conn is a minimal POP3 client connection.
type pop3Conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// pop3Dial connects, reads the greeting, does STLS if asked and logs in.
func pop3Dial(f pop3Flags, user string, deadline time.Time) (*pop3Conn, error) {
	tc := &tls.Config{InsecureSkipVerify: f.insecure}
	if host, _, err := net.SplitHostPort(f.addr); err == nil {
		tc.ServerName = host
	}
	var nc net.Conn
	var err error
	d := &net.Dialer{Timeout: 30 * time.Second, Deadline: deadline}
	if f.tls {
		nc, err = tls.DialWithDialer(d, "tcp", f.addr, tc)
	} else {
		nc, err = d.Dial("tcp", f.addr)
	}
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(deadline)
	c := &pop3Conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriter(nc)}
	fail := func(err error) (*pop3Conn, error) {
		nc.Close()
		return nil, err
	}
	if _, err := c.status(); err != nil {
		return fail(fmt.Errorf("greeting: %w", err))
	}
	if f.starttls {
		if _, err := c.cmd("STLS"); err != nil {
			return fail(err)
		}
		t := tls.Client(nc, tc)
		if err := t.Handshake(); err != nil {
			return fail(err)
		}
		c.nc, c.r, c.w = t, bufio.NewReaderSize(t, 64<<10), bufio.NewWriter(t)
	}
	if _, err := c.cmd("USER " + user); err != nil {
		return fail(err)
	}
	if _, err := c.cmd("PASS " + f.pass); err != nil {
		return fail(err)
	}
	return c, nil
}

// cmd sends one command and reads its status line.
func (c *pop3Conn) cmd(line string) (string, error) {
	c.w.WriteString(line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.status()
}

// status reads a status line and turns -ERR into an error.
func (c *pop3Conn) status() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(l, "+OK") {
		return "", fmt.Errorf("server said %q", strings.TrimSpace(l))
	}
	return l, nil
}

// body reads a multi-line body and returns its lines and octets.
func (c *pop3Conn) body() (lines int, octets int64, err error) {
	for {
		l, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			octets += int64(len(l))
			continue
		}
		if err != nil {
			return lines, octets, err
		}
		if len(l) == 3 && l[0] == '.' && l[1] == '\r' {
			return lines, octets, nil
		}
		lines++
		octets += int64(len(l))
	}
}

func (c *pop3Conn) quit() error {
	_, err := c.cmd("QUIT")
	c.nc.Close()
	return err
}

// pop3LoginStatUIDL is the measured session: connect, login, STAT, UIDL,
// QUIT. It returns the number of messages.
func pop3LoginStatUIDL(f pop3Flags, user string, deadline time.Time) (int, error) {
	c, err := pop3Dial(f, user, deadline)
	if err != nil {
		return 0, err
	}
	if _, err := c.cmd("STAT"); err != nil {
		c.nc.Close()
		return 0, err
	}
	if _, err := c.cmd("UIDL"); err != nil {
		c.nc.Close()
		return 0, err
	}
	n, _, err := c.body()
	if err != nil {
		c.nc.Close()
		return 0, err
	}
	return n, c.quit()
}

// pop3RetrAll logs in and retrieves every message, keeping up to
// f.pipeline RETR commands in flight. Nothing is deleted.
func pop3RetrAll(f pop3Flags, user string, deadline time.Time) (int, int64, error) {
	c, err := pop3Dial(f, user, deadline)
	if err != nil {
		return 0, 0, err
	}
	defer c.nc.Close()
	st, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	var count int
	if _, err := fmt.Sscanf(st, "+OK %d", &count); err != nil {
		return 0, 0, fmt.Errorf("STAT reply %q: %w", st, err)
	}
	var total int64
	sent := 0
	for done := 0; done < count; done++ {
		for sent < count && sent-done < f.pipeline {
			sent++
			fmt.Fprintf(c.w, "RETR %d\r\n", sent)
		}
		if err := c.w.Flush(); err != nil {
			return done, total, err
		}
		if _, err := c.status(); err != nil {
			return done, total, fmt.Errorf("RETR %d: %w", done+1, err)
		}
		_, n, err := c.body()
		if err != nil {
			return done, total, err
		}
		total += n
	}
	return count, total, c.quit()
}
