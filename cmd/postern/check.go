package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"

	"postern/accounts"
)

// runCheck is "postern check -config FILE": it loads and validates the
// configuration (every problem listed with its line, and a warning for
// each old key name still in use) and, if the data
// directory exists, parses the accounts files. Nothing is started and
// nothing is written. Exit status 0 means ready to serve.
func runCheck(env *cmdEnv, args []string) int {
	_, path, ok := parseConfigFlag(env, "check", args)
	if !ok {
		return 2
	}
	cfg, warns, err := readConfig(path)
	for _, w := range warns {
		fmt.Fprintln(env.stderr, w.String())
	}
	if err != nil {
		if probs, ok := err.(configErrors); ok {
			for _, p := range probs {
				fmt.Fprintln(env.stderr, p.String())
			}
			fmt.Fprintf(env.stderr, "%d problem(s) in %s\n", len(probs), path)
		} else {
			fmt.Fprintf(env.stderr, "postern check: %v\n", err)
		}
		return 1
	}
	if os.Geteuid() == 0 {
		// serve would drop to this user: make sure it can.
		if cfg.User == "" {
			fmt.Fprintf(env.stderr, "%s: user: empty, and started as root Postern refuses to run the mail store as root\n", path)
			return 1
		}
		if u, err := user.Lookup(cfg.User); err != nil || u.Uid == "0" {
			fmt.Fprintf(env.stderr, "%s: user: %q is not an unprivileged account on this machine (%v)\n", path, cfg.User, err)
			return 1
		}
	}
	accDir := filepath.Join(cfg.DataDir, "accounts")
	if _, err := os.Stat(accDir); err == nil {
		// accounts logs (and skips) each bad line at error level: collect
		// those as problems.
		col := &problemCollector{}
		dir, err := accounts.Open(accDir, accounts.Options{Domains: cfg.Accounts.Domains, ReloadInterval: -1, Logger: slog.New(col)})
		if err != nil {
			fmt.Fprintf(env.stderr, "%s: %v\n", accDir, err)
			return 1
		}
		dir.Close()
		if len(col.problems) > 0 {
			for _, p := range col.problems {
				fmt.Fprintf(env.stderr, "%s: %s\n", accDir, p)
			}
			fmt.Fprintf(env.stderr, "%d problem(s) in %s\n", len(col.problems), accDir)
			return 1
		}
		fmt.Fprintf(env.stdout, "%s: accounts OK\n", accDir)
	} else {
		fmt.Fprintf(env.stdout, "%s: not created yet (created on first start)\n", accDir)
	}
	fmt.Fprintf(env.stdout, "%s: OK\n", path)
	return 0
}

// problemCollector is a slog.Handler keeping every warning and error as
// one line "message key=value ...".
type problemCollector struct {
	mu       sync.Mutex
	problems []string
}

func (c *problemCollector) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (c *problemCollector) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	r.Attrs(add)
	c.mu.Lock()
	c.problems = append(c.problems, b.String())
	c.mu.Unlock()
	return nil
}

func (c *problemCollector) WithAttrs(as []slog.Attr) slog.Handler {
	// Records from the derived handler land in this collector.
	return &collectorWith{c: c, attrs: as}
}

func (c *problemCollector) WithGroup(string) slog.Handler { return c }

// collectorWith adds attributes in front of a collector's records.
type collectorWith struct {
	c     *problemCollector
	attrs []slog.Attr
}

func (w *collectorWith) Enabled(ctx context.Context, l slog.Level) bool { return w.c.Enabled(ctx, l) }
func (w *collectorWith) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(w.attrs...)
	return w.c.Handle(ctx, r)
}
func (w *collectorWith) WithAttrs(as []slog.Attr) slog.Handler {
	return &collectorWith{c: w.c, attrs: append(append([]slog.Attr(nil), w.attrs...), as...)}
}
func (w *collectorWith) WithGroup(string) slog.Handler { return w }
