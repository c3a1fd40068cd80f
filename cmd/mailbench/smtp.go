package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

func init() {
	register(mode{
		name:    "smtp",
		summary: "inbound: send N messages of S bytes over C connections; messages/s and latency of each MAIL..end-of-DATA",
		run:     runSMTP,
	})
}

// smtpFlags are the settings of one inbound benchmark: the server under
// test (Postern's port 25, Postfix delivering over LMTP to Dovecot, ...)
// must accept mail for -to. A message's latency runs from MAIL to the
// reply to the end of its data, so it includes the server's durable
// delivery when the server answers only after it.
type smtpFlags struct {
	queueFlags        // addr, user, pass, starttls, tls, insecure, from, n, c, size, runs, timeout
	to         string // recipient
}

// smtpResult is one run's JSON line.
type smtpResult struct {
	Mode  string  `json:"mode"`
	Addr  string  `json:"addr"`
	Run   int     `json:"run"`
	Size  int     `json:"size"`
	Conns int     `json:"conns"`
	Send  Summary `json:"send"`
}

// smtpMedian is the closing line: medians over the runs.
type smtpMedian struct {
	Mode      string  `json:"mode"`
	Addr      string  `json:"addr"`
	Runs      int     `json:"runs"`
	PerSec    float64 `json:"median_per_sec"`
	P50ms     float64 `json:"median_p50_ms"`
	P99ms     float64 `json:"median_p99_ms"`
	ErrorsAll int     `json:"errors"`
}

func runSMTP(args []string, out io.Writer) error {
	var f smtpFlags
	fs := newFlagSet("smtp")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:25", "server address (host:port)")
	fs.StringVar(&f.user, "user", "", "AUTH PLAIN user (submission); empty: no AUTH")
	fs.StringVar(&f.pass, "pass", "", "password")
	fs.BoolVar(&f.starttls, "starttls", false, "STARTTLS after EHLO")
	fs.BoolVar(&f.tls, "tls", false, "implicit TLS (port 465)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&f.from, "from", "mailbench@mailbench.test", "envelope sender")
	fs.StringVar(&f.to, "to", "", "recipient (required)")
	fs.IntVar(&f.n, "n", 1000, "messages per run (at most 100000)")
	fs.IntVar(&f.c, "c", 8, "concurrent connections")
	fs.IntVar(&f.size, "size", 4096, "message size in bytes (at most 10 MiB)")
	fs.IntVar(&f.runs, "runs", 3, "repeat and report medians (at most 50)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "bound on each run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.Contains(f.to, "@") {
		return errors.New("smtp: -to must be an address")
	}
	f.n = min(max(f.n, 1), 100000)
	f.c = min(max(f.c, 1), 256)
	f.size = min(max(f.size, 200), 10<<20)
	f.runs = min(max(f.runs, 1), 50)

	var rates, p50s, p99s []float64
	errs := 0
	for run := 1; run <= f.runs; run++ {
		r, err := smtpRun(f, run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		r.Mode, r.Addr, r.Run, r.Size, r.Conns = "smtp", f.addr, run, f.size, f.c
		if err := writeResult(out, r); err != nil {
			return err
		}
		rates = append(rates, r.Send.PerSec)
		p50s = append(p50s, r.Send.P50ms)
		p99s = append(p99s, r.Send.P99ms)
		errs += r.Send.Errors
	}
	return writeResult(out, smtpMedian{Mode: "smtp-median", Addr: f.addr, Runs: f.runs,
		PerSec: Median(rates), P50ms: Median(p50s), P99ms: Median(p99s), ErrorsAll: errs})
}

// smtpRun sends n messages over c connections (message i on connection
// i mod c) and times each one.
func smtpRun(f smtpFlags, run int) (smtpResult, error) {
	deadline := time.Now().Add(f.timeout)
	tag := fmt.Sprintf("r%d-%d", run, time.Now().UnixNano())
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < f.c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Quit()
				}
			}()
			for i := w; i < f.n && time.Now().Before(deadline); i += f.c {
				var err error
				if c == nil {
					c, err = queueDial(f.queueFlags)
				}
				t0 := time.Now()
				if err == nil {
					err = queueSend(c, f.from, f.to, benchBody(f.from, f.to, fmt.Sprintf("%s-%d", tag, i), f.size))
				}
				mu.Lock()
				if err != nil {
					errs++
					firstErr = cmp(firstErr, err)
				} else {
					lat = append(lat, time.Since(t0))
				}
				mu.Unlock()
				if err != nil && c != nil {
					c.Close()
					c = nil
				}
			}
		}(w)
	}
	wg.Wait()
	r := smtpResult{Send: Summarize(lat, errs, time.Since(start))}
	if len(lat) == 0 {
		return r, fmt.Errorf("no message accepted: %v", firstErr)
	}
	return r, nil
}
