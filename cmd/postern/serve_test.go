package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// testConfig is a self-signed configuration on free loopback ports with
// the data in a temporary directory.
func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Hostname = "localhost"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.TLS = TLSConfig{Mode: "self-signed", RenewCheckInterval: time.Minute}
	cfg.Accounts.Domains = []string{"example.test"}
	a := "127.0.0.1:0"
	cfg.Listen = ListenConfig{SMTP: a, Submission: a, Submissions: a, IMAP: a, IMAPS: a, POP3: a, POP3S: a}
	return cfg
}

// Run in-process and stopped through its context (what SIGTERM does):
// every listener greets, run returns nil, and no goroutine is left behind.
func TestServeStopsCleanlyWithoutLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := testConfig(t)
	logs := &testkit.SyncBuffer{}
	p := newProcess(cfg, "", logs)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.run(ctx, runOptions{dev: true, onReady: func(*process) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	if len(p.started) != 7 {
		t.Fatalf("want 7 listeners, got %+v", p.started)
	}
	greetings := map[string]string{"smtp": "220 ", "submission": "220 ", "submissions": "220 ",
		"imap": "* OK", "imaps": "* OK", "pop3": "+OK", "pop3s": "+OK"}
	var open []net.Conn
	for _, l := range p.started {
		var c net.Conn
		var err error
		if l.TLS == "implicit" {
			c, err = tls.Dial("tcp", l.Addr, &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = net.Dial("tcp", l.Addr)
		}
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, greetings[l.Name]) {
			t.Errorf("%s greeting %q (%v)", l.Name, line, err)
		}
		open = append(open, c) // left open: shutdown must end them
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after stop: %v", err)
		}
	case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
		t.Fatal("run did not return after stop")
	}
	for _, c := range open {
		io.Copy(io.Discard, c) // the server closed it: EOF, not a timeout
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d before, %d after stop:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"listening", "shutting down", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
