// Command postern is the Postern mail server: one binary that serves SMTP,
// submission, IMAP and POP3 over one Maildir store, and manages its users,
// aliases, domains, queue and DKIM keys.
//
// Usage: postern <command> [flags] [args]. Run "postern help" for the list.
//
// # Implementation notes
//
// Shape: the subcommands are one table in main.go; each runs with a
// cmdEnv (stdin, stdout, stderr) so tests call them in-process, and the
// end-to-end tests run the real binary. This package only wires: protocol
// logic lives in smtpd, imapd, pop3d, the store in maildir, users in
// accounts.
//
// Configuration: config.go is the one Config struct with its documented
// defaults; config_load.go reads TOML keeping each key's line;
// config_validate.go checks the top-level keys and calls each section's
// Validate ([smtp], [imap], [pop3], [queue]), so `postern check` and
// `postern serve` report every problem as file:line: key: message.
//
// Lifecycle of `serve` (and `dev`, which runs the same process on an
// embedded configuration): serve_process.go's run binds every listener
// (bindAll), reads root-only files, drops privileges, opens the accounts
// and the store, the outbound queue and the certificates, then starts the
// front ends (serve_frontends.go). Port 25 starts without STARTTLS until
// the first certificate exists and moves to a server with it without
// closing the port (serve_handoff.go). SIGHUP re-reads the accounts and
// certificate files (serve_reload.go).
//
// Stop (serve_shutdown.go): SIGTERM or SIGINT starts the graceful stop in
// a goroutine of its own: front ends end their sessions politely (SMTP
// DATA may finish), then the queue, certificates, store and listeners
// close in reverse order of opening. Within shutdown_timeout it exits 0.
// At shutdown_timeout the sessions still open are logged (read through
// atomics and TryLock only, never a lock a stuck session may hold), cut
// off, and the rest gets shutdownGrace; the exit status is then 1. A
// watchdog that takes no lock exits with status 3 if even that hangs, and
// a second signal exits at once. Nothing in the stop waits without a
// bound.
package main
