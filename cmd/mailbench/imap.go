package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func init() {
	register(mode{
		name:    "imap",
		summary: "IMAP: SELECT INBOX, UID FETCH 1:* (UID FLAGS), (ENVELOPE RFC822.SIZE), BODY.PEEK[] timings",
		run:     runIMAP,
	})
}

// imapStepTimeout bounds each measured command (a 100,000-message
// BODY.PEEK[] fetch is large but finite).
const imapStepTimeout = 10 * time.Minute

// imapResult is one JSON line: the median of each step over the runs.
type imapResult struct {
	mediansLine
	Messages uint32             `json:"messages"`
	MedianMS map[string]float64 `json:"median_ms"`
	// CPUMS is the median CPU time the server (-pid and its descendants)
	// used in each step, from /proc in 10 ms ticks.
	CPUMS map[string]float64 `json:"server_cpu_ms,omitempty"`
}

// imapStep is one timed FETCH.
type imapStep struct {
	name  string
	fetch *imap.FetchOptions
}

// imapSteps are the measured commands, in order, on one connection.
var imapSteps = []imapStep{
	{"uid_flags", &imap.FetchOptions{UID: true, Flags: true}},
	{"envelope_size", &imap.FetchOptions{UID: true, Envelope: true, RFC822Size: true}},
	{"body_peek", &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}},
}

func runIMAP(args []string, out io.Writer) error {
	fs := newFlagSet("imap")
	conn := addIMAPConnFlags(fs, "127.0.0.1:143", false)
	runs := fs.Int("runs", 5, "repeat and report the median")
	only := fs.String("fetch", "uid_flags,envelope_size,body_peek", "FETCH steps to time after SELECT, comma-separated (empty: SELECT only)")
	pid := fs.Int("pid", 0, "server process whose CPU time (with its descendants') each step reports; 0 = none")
	hold := fs.Bool("hold", false, "keep another connection in IDLE on INBOX meanwhile (its SELECT is reported as select_held)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 || *runs > 100 {
		return fmt.Errorf("-runs %d out of range 1..100", *runs)
	}
	want := map[string]bool{}
	for _, name := range strings.Split(*only, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.ContainsFunc(imapSteps, func(st imapStep) bool { return st.name == name }) {
			return fmt.Errorf("-fetch: unknown step %q", name)
		}
		want[name] = true
	}
	if *hold {
		// A client that already has the folder open, such as a phone
		// in IDLE: the server may share its view of the folder.
		held, _, err := idleSession(conn)
		if err != nil {
			return fmt.Errorf("held connection: %w", err)
		}
		defer held.close()
	}
	samples, cpu := map[string][]float64{}, map[string][]float64{}
	var count uint32
	for i := 0; i < *runs; i++ {
		n, times, err := imapRunOnce(conn, want, *pid)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		count = n
		add := func(to map[string][]float64, from map[string]time.Duration) {
			for k, d := range from {
				if k == "select" && *hold {
					k = "select_held"
				}
				to[k] = append(to[k], float64(d)/float64(time.Millisecond))
			}
		}
		add(samples, times.wall)
		add(cpu, times.cpu)
	}
	res := imapResult{mediansLine: mediansLine{Mode: "imap", Addr: *conn.addr, Runs: *runs}, Messages: count, MedianMS: medians(samples)}
	if *pid != 0 {
		res.CPUMS = medians(cpu)
	}
	return writeResult(out, res)
}

// medians returns the median of every key's samples.
func medians(samples map[string][]float64) map[string]float64 {
	m := make(map[string]float64, len(samples))
	for k, v := range samples {
		m[k] = Median(v)
	}
	return m
}

// stepTimes are one run's wall-clock and server CPU times by step.
type stepTimes struct {
	wall, cpu map[string]time.Duration
}

// imapConnFlags are the flags saying how to reach and log in to the
// server, shared by the IMAP modes.
type imapConnFlags struct {
	addr, user, pass        *string
	tls, startTLS, insecure *bool
}

// addIMAPConnFlags defines -addr -user -pass -tls -starttls -insecure.
func addIMAPConnFlags(fs *flag.FlagSet, addr string, implicitTLS bool) imapConnFlags {
	return imapConnFlags{
		addr:     fs.String("addr", addr, "server address"),
		user:     fs.String("user", "", "login user"),
		pass:     fs.String("pass", "", "login password"),
		tls:      fs.Bool("tls", implicitTLS, "implicit TLS"),
		startTLS: fs.Bool("starttls", false, "STARTTLS (with -tls=false)"),
		insecure: fs.Bool("insecure", false, "skip certificate verification"),
	}
}

// dial connects with implicit TLS, STARTTLS or neither.
func (f imapConnFlags) dial() (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: *f.insecure}}
	var c *imapclient.Client
	var err error
	switch {
	case *f.tls:
		c, err = imapclient.DialTLS(*f.addr, opts)
	case *f.startTLS:
		c, err = imapclient.DialStartTLS(*f.addr, opts)
	default:
		c, err = imapclient.DialInsecure(*f.addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", *f.addr, err)
	}
	return c, nil
}

// login dials and logs in.
func (f imapConnFlags) login() (*imapclient.Client, error) {
	c, err := f.dial()
	if err != nil {
		return nil, err
	}
	if err := c.Login(*f.user, *f.pass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}

// imapRunOnce logs in, times SELECT and each fetch step, and logs out.
func imapRunOnce(conn imapConnFlags, want map[string]bool, pid int) (uint32, stepTimes, error) {
	times := stepTimes{wall: map[string]time.Duration{}, cpu: map[string]time.Duration{}}
	c, err := conn.login()
	if err != nil {
		return 0, times, err
	}
	defer c.Close()
	var cpu0 time.Duration
	var start time.Time
	begin := func() error { // starts timing a step
		if pid != 0 {
			if cpu0, err = treeCPU(pid); err != nil {
				return err
			}
		}
		start = time.Now()
		return nil
	}
	end := func(name string) error { // records the step begun last
		times.wall[name] = time.Since(start)
		if pid != 0 {
			cpu1, err := treeCPU(pid)
			if err != nil {
				return err
			}
			times.cpu[name] = cpu1 - cpu0
		}
		return nil
	}
	if err := begin(); err != nil {
		return 0, times, err
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return 0, times, fmt.Errorf("select: %w", err)
	}
	if err := end("select"); err != nil {
		return 0, times, err
	}
	if sel.NumMessages > 0 {
		all := imap.UIDSet{{Start: 1, Stop: 0}}
		for _, st := range imapSteps {
			if !want[st.name] {
				continue
			}
			if err := begin(); err != nil {
				return 0, times, err
			}
			deadline := time.AfterFunc(imapStepTimeout, func() { c.Close() })
			cmd := c.Fetch(all, st.fetch)
			for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
				for item := msg.Next(); item != nil; item = msg.Next() {
					if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
						if _, err := io.Copy(io.Discard, b.Literal); err != nil {
							deadline.Stop()
							return 0, times, fmt.Errorf("%s: %w", st.name, err)
						}
					}
				}
			}
			err := cmd.Close()
			deadline.Stop()
			if err != nil {
				return 0, times, fmt.Errorf("%s: %w", st.name, err)
			}
			if err := end(st.name); err != nil {
				return 0, times, err
			}
		}
	}
	if err := c.Logout().Wait(); err != nil {
		return 0, times, fmt.Errorf("logout: %w", err)
	}
	return sel.NumMessages, times, nil
}
