package main

// The imap-stress mode: -clients simulated IMAP clients send a random
// mix of commands to any IMAP server for -duration, each following its
// session with a state model (imapstress_model.go) fed from the wire
// (imapstress_wire.go), checked against what the other sessions observed
// (imapstress_world.go). This file holds the flags, the run and the
// report: one JSON line with the rate and latency of every command and
// the inconsistencies, hangs and errors found; the run fails when there
// is any inconsistency or hang.

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

func init() {
	register(mode{
		name:    "imap-stress",
		summary: "IMAP: N clients send a random command mix for a while; every response checked against a state model; inconsistencies, hangs, ops/s",
		run:     runIMAPStress,
	})
}

// Bounds of imap-stress's flags.
const (
	stressMaxClients  = 1000
	stressMaxDuration = 24 * time.Hour
	stressMaxHang     = 10 * time.Minute
	// stressMaxReported is how many inconsistencies, hangs and errors the
	// result describes (all are counted).
	stressMaxReported = 20
)

// stressUser is one login.
type stressUser struct{ name, pass string }

// stressConfig is a run's settings, from the flags.
type stressConfig struct {
	conn               imapConnFlags
	users              []stressUser
	clients            int
	duration           time.Duration
	mailboxes          []string
	seed               uint64
	runID              int64 // start time, in the Message-IDs of appended messages
	logoutEvery        int
	hang               time.Duration
	maxInconsistencies int
	maxMessages        int
	idle               time.Duration
	keywords           int
	maxOps             int
	transcript         int // commands and responses shown with an inconsistency
	sources            int // loopback source addresses to spread the clients over (0: the system's choice)
}

// imapStressResult is the JSON line of an imap-stress run.
type imapStressResult struct {
	Mode        string   `json:"mode"`
	Addr        string   `json:"addr"`
	Clients     int      `json:"clients"`
	Users       int      `json:"users"`
	Mailboxes   []string `json:"mailboxes"`
	Duration    float64  `json:"duration_seconds"` // asked for
	Elapsed     float64  `json:"elapsed_seconds"`  // measured
	Seed        uint64   `json:"seed"`
	LogoutEvery int      `json:"logout_every"`
	// Ops counts commands that got a tagged reply; OpsPerSec is per
	// second of Elapsed.
	Ops       int     `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// Commands has, per command, the count, NO/BAD replies (errors), rate
	// and latency percentiles of its tagged replies.
	Commands map[string]Summary `json:"commands"`
	// Checks counts how often each check of the model ran.
	Checks map[string]int `json:"checks"`
	// Races counts NO replies explained by another session's EXPUNGE.
	Races             int            `json:"races"`
	Inconsistencies   int            `json:"inconsistencies"`
	ByCheck           map[string]int `json:"inconsistencies_by_check,omitempty"`
	InconsistencyList []stressIssue  `json:"first_inconsistencies,omitempty"`
	Hangs             int            `json:"hangs"`
	HangList          []stressIssue  `json:"first_hangs,omitempty"`
	Errors            int            `json:"errors"`
	ErrorList         []stressIssue  `json:"first_errors,omitempty"`
	// StoppedEarly says why the run ended before -duration, if it did.
	StoppedEarly string `json:"stopped_early,omitempty"`
}

// stressIssue describes one inconsistency, hang or error.
type stressIssue struct {
	AtS      float64 `json:"at_s"` // seconds into the run
	Client   int     `json:"client"`
	Mailbox  string  `json:"mailbox,omitempty"`
	Command  string  `json:"command"`
	Check    string  `json:"check,omitempty"`
	Expected string  `json:"expected,omitempty"`
	Seen     string  `json:"seen"`
	// Recent are the session's last commands (C:) and responses (S:)
	// up to the inconsistency, literals shortened.
	Recent []string `json:"recent,omitempty"`
}

// runIMAPStress runs the imap-stress mode: args are its flags, the
// result line goes to out. It returns an error when the run could not
// start (flags, setup), or after writing the result when it found an
// inconsistency or a hang.
func runIMAPStress(args []string, out io.Writer) error {
	cfg, err := parseStressFlags(args)
	if err != nil {
		return err
	}
	world := newStressWorld()
	rec := newStressRecorder(cfg.maxInconsistencies)
	if err := setupMailboxes(cfg, world, rec); err != nil {
		return err
	}
	rec.reset()
	start := time.Now()
	rec.start = start
	deadline := start.Add(cfg.duration)
	clients := make([]*stressClient, cfg.clients)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = newStressClient(i+1, cfg, world, rec, deadline)
		wg.Go(clients[i].run)
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := imapStressResult{
		Mode: "imap-stress", Addr: *cfg.conn.addr, Clients: cfg.clients, Users: len(cfg.users),
		Mailboxes: cfg.mailboxes, Duration: cfg.duration.Seconds(), Elapsed: elapsed.Seconds(),
		Seed: cfg.seed, LogoutEvery: cfg.logoutEvery, Commands: map[string]Summary{},
	}
	lat, nos := map[string][]time.Duration{}, map[string]int{}
	for _, cl := range clients {
		for k, v := range cl.lat {
			lat[k] = append(lat[k], v...)
		}
		for k, v := range cl.nos {
			nos[k] += v
		}
		res.Ops += cl.ops
	}
	for k, v := range lat {
		res.Commands[k] = Summarize(v, nos[k], elapsed)
	}
	res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	rec.fill(&res)
	if err := writeResult(out, res); err != nil {
		return err
	}
	if res.Inconsistencies > 0 || res.Hangs > 0 {
		return fmt.Errorf("imap-stress: %d inconsistencies, %d hangs (%d errors)", res.Inconsistencies, res.Hangs, res.Errors)
	}
	return nil
}

// parseStressFlags reads and bounds the flags of imap-stress.
func parseStressFlags(args []string) (*stressConfig, error) {
	fs := newFlagSet("imap-stress")
	cfg := &stressConfig{conn: addIMAPConnFlags(fs, "127.0.0.1:143", false)}
	users := fs.String("users", "", "logins to spread the clients over, as user:pass,user:pass (instead of -user/-pass)")
	fs.IntVar(&cfg.clients, "clients", 10, "simulated clients (connections at a time)")
	fs.DurationVar(&cfg.duration, "duration", time.Minute, "how long the clients run")
	mailboxes := fs.String("mailboxes", "INBOX,Stress", "mailboxes the clients use, comma-separated (missing ones are created)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock; the result says which)")
	fs.IntVar(&cfg.logoutEvery, "logout-every", 0, "0: sessions are kept; N: each client logs out and in again after a random 1..N commands")
	fs.DurationVar(&cfg.hang, "hang", 10*time.Second, "a command without a tagged reply for this long is a hang (the connection is closed)")
	fs.IntVar(&cfg.maxInconsistencies, "max-inconsistencies", 100, "stop early after this many inconsistencies (0: never)")
	fs.IntVar(&cfg.maxMessages, "max-messages", 200, "keep each mailbox about this size (expunge more above it, append less)")
	fs.DurationVar(&cfg.idle, "idle", 2*time.Second, "longest IDLE (each lasts half to all of it)")
	fs.IntVar(&cfg.keywords, "keywords", 2, "keywords per client ($s<client>x<n>); at most 20 distinct keywords are used in all")
	fs.IntVar(&cfg.maxOps, "max-ops", 0, "stop each client after this many commands (0: only -duration)")
	fs.IntVar(&cfg.sources, "sources", 0, "spread the clients over this many source addresses 127.0.1.1 and up, as distinct devices (1 to 250; 0: the system's choice); for a server on loopback")
	fs.IntVar(&cfg.transcript, "transcript", 24, "last commands and responses of the session shown with each reported inconsistency")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *users != "":
		for _, up := range strings.Split(*users, ",") {
			name, pass, ok := strings.Cut(strings.TrimSpace(up), ":")
			if !ok || name == "" {
				return nil, fmt.Errorf("-users: %q is not user:pass", up)
			}
			cfg.users = append(cfg.users, stressUser{name, pass})
		}
	case *cfg.conn.user != "":
		cfg.users = []stressUser{{*cfg.conn.user, *cfg.conn.pass}}
	default:
		return nil, errors.New("-user (or -users) is required")
	}
	for _, name := range strings.Split(*mailboxes, ",") {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(cfg.mailboxes, name) {
			cfg.mailboxes = append(cfg.mailboxes, name)
		}
	}
	if len(cfg.mailboxes) == 0 {
		return nil, errors.New("-mailboxes is empty")
	}
	if cfg.clients < 1 || cfg.clients > stressMaxClients {
		return nil, fmt.Errorf("-clients %d out of range 1..%d", cfg.clients, stressMaxClients)
	}
	if cfg.sources < 0 || cfg.sources > 250 {
		return nil, fmt.Errorf("-sources %d out of range 0..250", cfg.sources)
	}
	if cfg.duration <= 0 || cfg.duration > stressMaxDuration {
		return nil, fmt.Errorf("-duration %v out of range (0, %v]", cfg.duration, stressMaxDuration)
	}
	if cfg.hang < 100*time.Millisecond || cfg.hang > stressMaxHang {
		return nil, fmt.Errorf("-hang %v out of range 100ms..%v", cfg.hang, stressMaxHang)
	}
	if cfg.logoutEvery < 0 || cfg.maxInconsistencies < 0 || cfg.maxOps < 0 {
		return nil, errors.New("-logout-every, -max-inconsistencies and -max-ops must not be negative")
	}
	if cfg.maxMessages < 10 || cfg.maxMessages > 100_000 {
		return nil, fmt.Errorf("-max-messages %d out of range 10..100000", cfg.maxMessages)
	}
	if cfg.idle < 10*time.Millisecond || cfg.idle > time.Minute {
		return nil, fmt.Errorf("-idle %v out of range 10ms..1m", cfg.idle)
	}
	if cfg.transcript < 0 || cfg.transcript > 1000 {
		return nil, fmt.Errorf("-transcript %d out of range 0..1000", cfg.transcript)
	}
	if cfg.keywords < 1 || cfg.keywords > stressKeywordPool {
		return nil, fmt.Errorf("-keywords %d out of range 1..%d", cfg.keywords, stressKeywordPool)
	}
	cfg.runID = time.Now().UnixNano()
	cfg.seed = *seed
	if cfg.seed == 0 {
		cfg.seed = uint64(cfg.runID)
	}
	return cfg, nil
}

// stressRecorder collects what the clients found; safe for concurrent use.
type stressRecorder struct {
	mu                  sync.Mutex
	start               time.Time
	maxIncons           int
	incons, hangs, errs issueList
	races               int
	checks              map[string]int
	failed              map[string]int // inconsistencies by check
	stopped             bool
	stopReason          string
}

// issueList counts issues and keeps the first few.
type issueList struct {
	n     int
	first []stressIssue
}

// add counts x and keeps it if it is among the first stressMaxReported.
func (l *issueList) add(x stressIssue) {
	l.n++
	if len(l.first) < stressMaxReported {
		l.first = append(l.first, x)
	}
}

// newStressRecorder returns a recorder that stops the run after
// maxIncons inconsistencies (0: never).
func newStressRecorder(maxIncons int) *stressRecorder {
	return &stressRecorder{start: time.Now(), maxIncons: maxIncons, checks: map[string]int{}, failed: map[string]int{}}
}

// reset forgets the checks counted during the setup (errors stay).
func (r *stressRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = map[string]int{}
}

// at is the time since the run started, in seconds.
func (r *stressRecorder) at() float64 {
	return float64(time.Since(r.start).Milliseconds()) / 1000
}

// inconsistency records a failed check.
func (r *stressRecorder) inconsistency(client int, mailbox, command, check, expected, seen string, recent []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.incons.add(stressIssue{AtS: r.at(), Client: client, Mailbox: mailbox, Command: command, Check: check, Expected: expected, Seen: seen, Recent: recent})
	r.failed[check]++
	if r.maxIncons > 0 && r.incons.n >= r.maxIncons && !r.stopped {
		r.stopped, r.stopReason = true, fmt.Sprintf("%d inconsistencies (-max-inconsistencies)", r.incons.n)
	}
}

// issueFunc returns the model's reporting callback for a client.
func (r *stressRecorder) issueFunc(client int) issueFunc {
	return func(check stressCheck, mailbox, command, expected, seen string, recent []string) {
		r.inconsistency(client, mailbox, command, check, expected, seen, recent)
	}
}

// hang records a command without a reply within limit.
func (r *stressRecorder) hang(client int, mailbox, command string, limit time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hangs.add(stressIssue{AtS: r.at(), Client: client, Mailbox: mailbox, Command: command, Seen: fmt.Sprintf("no tagged reply within %v", limit)})
}

// error records a NO/BAD reply that should have been OK, or a lost
// connection.
func (r *stressRecorder) error(client int, mailbox, command, reply string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs.add(stressIssue{AtS: r.at(), Client: client, Mailbox: mailbox, Command: command, Seen: reply})
}

// race counts a NO explained by a concurrent EXPUNGE.
func (r *stressRecorder) race() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.races++
}

// countCheck counts one run of a check.
func (r *stressRecorder) countCheck(check string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[check]++
}

// isStopped reports whether -max-inconsistencies was reached.
func (r *stressRecorder) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// fill copies the findings into res.
func (r *stressRecorder) fill(res *imapStressResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Checks = maps.Clone(r.checks)
	res.Races = r.races
	res.Inconsistencies, res.InconsistencyList = r.incons.n, r.incons.first
	if len(r.failed) > 0 {
		res.ByCheck = maps.Clone(r.failed)
	}
	res.Hangs, res.HangList = r.hangs.n, r.hangs.first
	res.Errors, res.ErrorList = r.errs.n, r.errs.first
	res.StoppedEarly = r.stopReason
}
