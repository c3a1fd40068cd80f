package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGHUP re-reads the config: a new log level applies, a broken file is
// reported and the server keeps running on the old configuration.
func TestSIGHUPReloadsConfig(t *testing.T) {
	t.Parallel()
	data := filepath.Join(openTempDir(t), "data")
	top := fmt.Sprintf("hostname = \"localhost\"\ndata_dir = %q\nshutdown_timeout = \"5s\"\n", data)
	srv, ls := serveOnLoopback(t, top, "[tls]\nmode = \"self-signed\"\n[log]\nlevel = \"info\"\n")
	srv.waitFor(regexp.MustCompile(`listener=pop3s`), 30*time.Second)
	confPath := srv.cmd.Args[len(srv.cmd.Args)-1]
	conf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}

	os.WriteFile(confPath, []byte(strings.Replace(string(conf), `level = "info"`, `level = "debug"`, 1)), 0o644)
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitFor(regexp.MustCompile(`msg=reloaded log_level=debug`), 10*time.Second)

	os.WriteFile(confPath, []byte(string(conf)+"bogus = 1\n"), 0o644)
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitFor(regexp.MustCompile(`config not reloaded; keeping the running one.*bogus: unknown key`), 10*time.Second)
	waitListening(t, ls["imaps"])

	if err, took := srv.signalAndWait(sigTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}
