package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"postern/accounts"
	"postern/maildir"
	"postern/smtpd/queue"
)

// process is one running server: the configuration, the store, the
// accounts, the certificates, the listeners and the front ends on them.
type process struct {
	cfg        Config
	configPath string // "" when not from a file (postern dev)
	log        *slog.Logger
	level      *slog.LevelVar

	store *maildir.Store
	dir   *accounts.Directory
	queue *queue.Queue
	certs *certSource

	// bound holds the listeners by config key ("smtp", "imaps", ...), in
	// the order of ListenConfig.all; nil entries are disabled.
	bound map[string]net.Listener
	// started lists what is being served, for the startup lines.
	started []startedListener

	mu        sync.Mutex
	frontEnds []frontEnd // every server to shut down
	serveWG   sync.WaitGroup
}

// startedListener is one line of the startup report.
type startedListener struct {
	Name, Proto, Addr string
	TLS               string // "implicit", "starttls" or "none"
}

// runOptions are the differences between "serve" and "dev".
type runOptions struct {
	// hup delivers SIGHUP (nil: no reload).
	hup <-chan os.Signal
	// dev allows running as root without dropping privileges and binds a
	// free port when a configured one is taken.
	dev bool
	// onReady is called once every listener serves.
	onReady func(p *process)
}

func newProcess(cfg Config, configPath string, logOut io.Writer) *process {
	log, level := newLogger(cfg.Log, logOut)
	return &process{cfg: cfg, configPath: configPath, log: log, level: level, bound: map[string]net.Listener{}}
}

// run starts everything, blocks until ctx is done, then stops (see stop):
// gracefully within cfg.ShutdownTimeout, and in any case within it plus
// shutdownGrace. A startup failure is returned; a clean stop returns nil,
// one that reached shutdown_timeout errStopTimedOut (wrapped).
func (p *process) run(ctx context.Context, o runOptions) error {
	// What is opened is closed at once when the start fails, or by the
	// bounded stop (which may leave a stuck close behind).
	var cl closers
	stopping := false
	defer func() {
		if !stopping {
			cl.closeAll(func(string) {})
		}
	}()
	cl.add("listeners", p.closeListeners)
	if err := p.bindAll(o.dev); err != nil {
		return err
	}
	// Files only root may read are read before the drop.
	ch := acmeListeners{http: p.bound["http"], https: p.bound["https"]}
	if p.cfg.TLS.Mode == "acme" && p.cfg.TLS.CARoot != "" {
		pool, err := loadCertPool(p.cfg.TLS.CARoot)
		if err != nil {
			return fmt.Errorf("tls.ca_root: %w", err)
		}
		ch.roots = pool
	}
	if !o.dev || os.Geteuid() != 0 {
		as, err := dropPrivileges(p.cfg.User, p.cfg.DataDir)
		if err != nil {
			return err
		}
		if as != "" {
			p.log.Info("privileges dropped", "user", as)
		}
	}
	if err := p.openData(); err != nil {
		return err
	}
	cl.add("mail store and accounts", p.closeData)
	q, stopQueue, err := p.openQueue()
	if err != nil {
		return err
	}
	p.queue = q
	cl.add("outbound queue", stopQueue)

	certCtx, stopCerts := context.WithCancel(context.Background())
	cl.add("certificate renewal", stopCerts)
	cs, err := newCertSource(certCtx, p.cfg, p.log, ch)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	p.certs = cs
	cl.add("certificates", cs.stop)
	stopChallenges := func(context.Context) {}
	if p.cfg.TLS.Mode == "acme" {
		stopChallenges = cs.serveACMEChallenges(ch, p.log)
	}

	p.startFrontEnds(ctx)
	for _, l := range p.started {
		p.log.Info("listening", "listener", l.Name, "proto", l.Proto, "addr", l.Addr, "tls", l.TLS)
	}
	if o.onReady != nil {
		o.onReady(p)
	}

	for {
		select {
		case <-ctx.Done():
			stopping = true
			return p.stop(stopChallenges, &cl)
		case <-o.hup:
			p.reload()
		}
	}
}

// openData opens (creating on first start) the accounts directory and the
// mail store under data_dir, after tightening the modes there (modes.go).
func (p *process) openData() error {
	if err := prepareDataDir(p.cfg.DataDir, p.cfg.TLS, p.log); err != nil {
		return err
	}
	dir, err := accounts.Open(p.accountsDir(), accounts.Options{Domains: p.cfg.Accounts.Domains, Logger: p.log.With("proto", "accounts")})
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	store, err := maildir.Open(p.mailDir(), maildir.Options{Hostname: p.cfg.Hostname, Quota: dir.Quota, Logger: p.log.With("proto", "maildir")})
	if err != nil {
		dir.Close()
		return fmt.Errorf("mail store: %w", err)
	}
	p.dir, p.store = dir, store
	return nil
}

func (p *process) closeData() {
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			p.log.Error("closing mail store", "err", err)
		}
	}
	if p.dir != nil {
		p.dir.Close()
	}
}

func (p *process) mailDir() string     { return filepath.Join(p.cfg.DataDir, "mail") }
func (p *process) accountsDir() string { return filepath.Join(p.cfg.DataDir, "accounts") }

// bindAll opens every configured listener before privileges are dropped.
// The ACME challenge ports are bound only in acme mode, and a failure
// there is a warning (another web server may hold the port). In dev mode
// a taken port is replaced by a free one on the same host.
func (p *process) bindAll(dev bool) error {
	for _, l := range p.cfg.Listen.all() {
		if l.addr == "" {
			continue
		}
		challenge := l.name == "http" || l.name == "https"
		if challenge && p.cfg.TLS.Mode != "acme" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil && dev {
			host, _, _ := net.SplitHostPort(l.addr)
			ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
		}
		if err != nil {
			if challenge {
				p.log.Warn("cannot hold ACME challenge port; that challenge is disabled", "listener", l.name, "addr", l.addr, "err", err)
				continue
			}
			return fmt.Errorf("listen.%s: %w", l.name, err)
		}
		p.bound[l.name] = ln
	}
	return nil
}

func (p *process) closeListeners() {
	for _, ln := range p.bound {
		ln.Close()
	}
}

// shutdown stops every front end at once (each ends its sessions
// politely and lets SMTP DATA finish until ctx is done) and waits for
// them, and then at most a second for their Serve calls to return. A
// front end stuck in Shutdown keeps it waiting: stop bounds it.
func (p *process) shutdown(ctx context.Context) {
	p.mu.Lock()
	fes := append([]frontEnd(nil), p.frontEnds...)
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, fe := range fes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fe.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
				p.log.Warn("shutdown incomplete", "err", err)
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { p.serveWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.log.Warn("shutdown bound reached; some listeners still open")
	case <-time.After(time.Second):
	}
}
