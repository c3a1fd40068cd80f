package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
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
	Mode     string             `json:"mode"`
	Addr     string             `json:"addr"`
	Runs     int                `json:"runs"`
	Messages uint32             `json:"messages"`
	MedianMS map[string]float64 `json:"median_ms"`
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
	samples := map[string][]float64{}
	var count uint32
	for i := 0; i < *runs; i++ {
		n, times, err := imapRunOnce(conn, want)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		count = n
		for k, d := range times {
			if k == "select" && *hold {
				k = "select_held"
			}
			samples[k] = append(samples[k], float64(d)/float64(time.Millisecond))
		}
	}
	res := imapResult{Mode: "imap", Addr: *conn.addr, Runs: *runs, Messages: count, MedianMS: map[string]float64{}}
	keys := make([]string, 0, len(samples))
	for k := range samples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		res.MedianMS[k] = Median(samples[k])
	}
	return writeResult(out, res)
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
func imapRunOnce(conn imapConnFlags, want map[string]bool) (uint32, map[string]time.Duration, error) {
	c, err := conn.login()
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	times := map[string]time.Duration{}
	start := time.Now()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return 0, nil, fmt.Errorf("select: %w", err)
	}
	times["select"] = time.Since(start)
	if sel.NumMessages > 0 {
		all := imap.UIDSet{{Start: 1, Stop: 0}}
		for _, st := range imapSteps {
			if !want[st.name] {
				continue
			}
			deadline := time.AfterFunc(imapStepTimeout, func() { c.Close() })
			start = time.Now()
			cmd := c.Fetch(all, st.fetch)
			for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
				for item := msg.Next(); item != nil; item = msg.Next() {
					if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
						if _, err := io.Copy(io.Discard, b.Literal); err != nil {
							deadline.Stop()
							return 0, nil, fmt.Errorf("%s: %w", st.name, err)
						}
					}
				}
			}
			err := cmd.Close()
			deadline.Stop()
			if err != nil {
				return 0, nil, fmt.Errorf("%s: %w", st.name, err)
			}
			times[st.name] = time.Since(start)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		return 0, nil, fmt.Errorf("logout: %w", err)
	}
	return sel.NumMessages, times, nil
}
