package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"postern/accounts"
)

// Dev mode's fixed names.
const (
	devDomain          = "example.test"
	devUser            = "demo@" + devDomain
	devDefaultPortBase = 2000
	devShutdownTimeout = 5 * time.Second
	devPasswordLen     = 16
)

// devPortOffsets puts every listener at -port-base plus an offset that
// ends in its standard port number (2525, 2587, 2465, 2143, 2993, 2110,
// 2995 with the default base).
var devPortOffsets = []struct {
	name   string
	offset int
}{
	{"smtp", 525}, {"submission", 587}, {"submissions", 465},
	{"imap", 143}, {"imaps", 993}, {"pop3", 110}, {"pop3s", 995},
}

// runDev is "postern dev": the README's first command. No config file:
// every protocol on high ports of 127.0.0.1 (a taken port is replaced by
// a free one), a self-signed certificate for localhost, the data
// directory under the user's cache directory, the domain example.test and
// the user demo@example.test with a fresh random password, and on
// standard output the exact settings and one command per protocol.
func runDev(env *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	data := fs.String("data", "", "data directory (default: <user cache dir>/postern-dev)")
	base := fs.Int("port-base", devDefaultPortBase, "ports are this plus 525 (SMTP), 587, 465, 143, 993, 110, 995")
	jsonLog := fs.Bool("json", false, "log in JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(env.stderr, "postern dev: no cache directory (%v); pass -data DIR\n", err)
			return 1
		}
		*data = filepath.Join(cache, "postern-dev")
	}
	abs, err := filepath.Abs(*data)
	if err != nil {
		fmt.Fprintf(env.stderr, "postern dev: %v\n", err)
		return 1
	}
	cfg := devConfig(abs, *base)
	if *jsonLog {
		cfg.Log.Format = "json"
	}
	if probs := cfg.validate(); len(probs) > 0 {
		fmt.Fprintf(env.stderr, "postern dev: %v\n", configErrors(probs))
		return 2
	}
	password, err := devAccount(cfg)
	if err != nil {
		fmt.Fprintf(env.stderr, "postern dev: demo account: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p := newProcess(cfg, "", env.stderr)
	context.AfterFunc(ctx, stop) // the next signal has its default effect
	armWatchdog(ctx, cfg.ShutdownTimeout, p.log, os.Exit)
	err = p.run(ctx, runOptions{dev: true, onReady: func(p *process) { printDevSettings(env.stdout, p, password) }})
	if err != nil {
		p.log.Error("postern dev stopped", "err", err)
		return 1
	}
	return 0
}

// devConfig is the configuration of "postern dev".
func devConfig(dataDir string, base int) Config {
	cfg := defaultConfig()
	cfg.Hostname = "localhost"
	cfg.DataDir = dataDir
	cfg.User = ""
	cfg.ShutdownTimeout = devShutdownTimeout
	cfg.TLS = TLSConfig{Mode: "self-signed", RenewCheckInterval: defaultRenewCheckInterval}
	cfg.Accounts.Domains = []string{devDomain}
	// Its mail comes from tools on this machine: no sender verification
	// (whose DNS questions would go out to the Internet) and no
	// blocklists, which are off by default anyway.
	noVerify := false
	cfg.SMTP.VerifySenders = &noVerify
	// Nor port 25's rate limits for this machine's own clients (load
	// tools such as mailbench send far more than a remote MX would).
	cfg.SMTP.AllowAddresses = []string{"127.0.0.0/8", "::1/128"}
	addr := map[string]string{}
	for _, o := range devPortOffsets {
		addr[o.name] = net.JoinHostPort("127.0.0.1", strconv.Itoa(base+o.offset))
	}
	cfg.Listen = ListenConfig{
		SMTP: addr["smtp"], Submission: addr["submission"], Submissions: addr["submissions"],
		IMAP: addr["imap"], IMAPS: addr["imaps"], POP3: addr["pop3"], POP3S: addr["pop3s"],
	}
	return cfg
}

// devAccount makes sure demo@example.test exists and gives it a new
// random password, returned for printing.
func devAccount(cfg Config) (string, error) {
	accDir := filepath.Join(cfg.DataDir, "accounts")
	if err := os.MkdirAll(accDir, 0o700); err != nil {
		return "", err
	}
	dir, err := accounts.Open(accDir, accounts.Options{Domains: cfg.Accounts.Domains, ReloadInterval: -1})
	if err != nil {
		return "", err
	}
	defer dir.Close()
	pw := randomPassword(devPasswordLen)
	if dir.HasUser(devUser) {
		err = dir.SetPassword(devUser, pw)
	} else {
		err = dir.AddUser(devUser, pw)
	}
	if err != nil {
		return "", err
	}
	return pw, nil
}

// randomPassword returns n characters from an alphabet without look-alikes.
func randomPassword(n int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// printDevSettings writes what a person needs to try the server: the
// account, the certificate, every listener, and one command per protocol.
func printDevSettings(w io.Writer, p *process, password string) {
	addr := map[string]string{}
	for _, l := range p.started {
		addr[l.Name] = l.Addr
	}
	cert := filepath.Join(p.cfg.DataDir, "certs", "self-signed", "cert.pem")
	fmt.Fprintf(w, "Postern dev server is running. Data: %s. Stop with Ctrl-C.\n\n", p.cfg.DataDir)
	fmt.Fprintf(w, "Account:     %s\n", devUser)
	fmt.Fprintf(w, "Password:    %s\n", password)
	fmt.Fprintf(w, "Certificate: self-signed for localhost, %s (tell clients to accept it)\n\n", cert)
	fmt.Fprintln(w, "Listeners (host 127.0.0.1, user name = full address):")
	desc := map[string]string{
		"smtp": "incoming mail (MX), STARTTLS optional, no login", "submission": "sending, STARTTLS then login",
		"submissions": "sending, implicit TLS", "imap": "IMAP, STARTTLS then login", "imaps": "IMAP, implicit TLS",
		"pop3": "POP3, STLS then login", "pop3s": "POP3, implicit TLS",
	}
	for _, o := range devPortOffsets {
		if a, ok := addr[o.name]; ok {
			fmt.Fprintf(w, "  %-12s %-16s %s\n", o.name, a, desc[o.name])
		}
	}
	cred := devUser + ":" + password
	fmt.Fprintln(w, "\nTry:")
	fmt.Fprintf(w, "  swaks --server %s --to %s\n", addr["smtp"], devUser)
	fmt.Fprintf(w, "  printf 'Subject: hi\\r\\n\\r\\nhello\\r\\n' | curl -sk --ssl-reqd smtp://%s --user '%s' --mail-from %s --mail-rcpt %s -T -\n",
		addr["submission"], cred, devUser, devUser)
	fmt.Fprintf(w, "  curl -sk 'imaps://%s/INBOX;UID=1' --user '%s'\n", addr["imaps"], cred)
	fmt.Fprintf(w, "  curl -sk --ssl-reqd 'imap://%s/INBOX' -X 'STATUS INBOX (MESSAGES)' --user '%s'\n", addr["imap"], cred)
	fmt.Fprintf(w, "  curl -sk 'pop3s://%s/1' --user '%s'\n", addr["pop3s"], cred)
	fmt.Fprintf(w, "  curl -sk --ssl-reqd 'pop3://%s/' --user '%s'\n", addr["pop3"], cred)
}
