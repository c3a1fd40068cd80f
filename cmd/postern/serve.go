package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// runServe is "postern serve -config FILE": load the configuration, start
// every listener and run until SIGTERM or SIGINT; SIGHUP reloads. The
// stop is bounded (see process.stop): exit status 0 after a clean stop, 1
// when shutdown_timeout was reached (the sessions still busy are logged
// and cut off), exitWatchdog when even the stop's grace ran out. A second
// SIGTERM or SIGINT during the stop ends the process at once.
func runServe(env *cmdEnv, args []string) int {
	fs, path, ok := parseConfigFlag(env, "serve", args)
	if !ok {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "postern serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, warns, err := readConfig(path)
	for _, w := range warns {
		fmt.Fprintf(env.stderr, "postern serve: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "postern serve: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	p := newProcess(cfg, path, env.stderr)
	context.AfterFunc(ctx, stop) // the next signal has its default effect
	armWatchdog(ctx, cfg.ShutdownTimeout, p.log, os.Exit)
	if err := p.run(ctx, runOptions{hup: hup}); err != nil {
		p.log.Error("postern stopped", "err", err)
		return 1
	}
	return 0
}
