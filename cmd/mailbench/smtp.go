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
	runLine
	Size  int     `json:"size"`
	Conns int     `json:"conns"`
	Send  Summary `json:"send"`
}

// smtpMedian is the closing line: medians over the runs.
type smtpMedian struct {
	mediansLine
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
	fs.BoolVar(&f.starttls, "starttls", false, "STARTTLS after EHLO")
	fs.StringVar(&f.from, "from", "mailbench@mailbench.test", "envelope sender")
	fs.StringVar(&f.to, "to", "", "recipient (required)")
	fs.IntVar(&f.c, "c", 8, "concurrent connections")
	f.addSharedFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.Contains(f.to, "@") {
		return errors.New("smtp: -to must be an address")
	}
	f.clamp()

	var rates, p50s, p99s []float64
	errs := 0
	err := eachRun(out, f.runs, func(run int) (smtpResult, error) {
		r, err := smtpRun(f, run)
		if err != nil {
			return r, err
		}
		r.Mode, r.Addr, r.Run, r.Size, r.Conns = "smtp", f.addr, run, f.size, f.c
		rates = append(rates, r.Send.PerSec)
		p50s = append(p50s, r.Send.P50ms)
		p99s = append(p99s, r.Send.P99ms)
		errs += r.Send.Errors
		return r, nil
	})
	if err != nil {
		return err
	}
	return writeResult(out, smtpMedian{mediansLine: mediansLine{Mode: "smtp-median", Addr: f.addr, Runs: f.runs},
		PerSec: Median(rates), P50ms: Median(p50s), P99ms: Median(p99s), ErrorsAll: errs})
}

// smtpRun sends n messages over c connections (message i on connection
// i mod c) and times each one.
func smtpRun(f smtpFlags, run int) (smtpResult, error) {
	deadline := time.Now().Add(f.timeout)
	tag := fmt.Sprintf("r%d-%d", run, time.Now().UnixNano())
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	errs, firstErr := sendEach(f.queueFlags, deadline, func(c *smtp.Client, i int) error {
		t0 := time.Now()
		err := queueSend(c, f.from, f.to, benchBody(f.from, f.to, fmt.Sprintf("%s-%d", tag, i), f.size))
		if err == nil {
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}
		return err
	})
	r := smtpResult{Send: Summarize(lat, errs, time.Since(start))}
	if len(lat) == 0 {
		return r, fmt.Errorf("no message accepted: %v", firstErr)
	}
	return r, nil
}
