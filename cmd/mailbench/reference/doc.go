// Package reference holds the scripts that run the reference servers
// mailbench measures Postern against, on 127.0.0.1:
//
//   - setup.sh DIR and stop.sh DIR start and stop Debian's Postfix
//     delivering over LMTP to Debian's Dovecot, which serves the Maildir
//     over IMAP and POP3 (its IMAP limits are raised so 1,000+ connections
//     fit; one imap-login and one imap process per connection, as
//     Dovecot's default configuration has it).
//   - imap-compare.sh [WORKDIR] measures issue 5's IMAP speed and memory
//     figures side by side (see docs/imap.md, "Speed and memory"): it
//     builds postern and mailbench from a commit (REV, default HEAD),
//     generates a Maildir of MESSAGES (100,000) messages with
//     `mailbench maildir`, gives Postern (`postern serve`) and Dovecot
//     each their own copy, warms both, times SELECT (also with another
//     session in IDLE on the folder) and three `UID FETCH 1:*` with
//     `mailbench imap` alternately RUNS (5) times (wall clock, and the
//     CPU time of each server's processes), holds CONNS (1,000) TLS
//     connections in IDLE on each with
//     `mailbench imap-idle` (server memory read from /proc), and prints
//     the table of medians and ratios with `mailbench imap-report`.
//     Run as root: `sudo cmd/mailbench/reference/imap-compare.sh /tmp/cmp`.
//   - imap-stress-compare.sh [WORKDIR] runs `mailbench imap-stress` (a
//     randomized multi-session command mix checked against a state
//     model, see docs/imap.md, "Consistency under load") against
//     Postern and Dovecot in turn, each with its own copy of the same
//     MESSAGES (100) messages and user: RUNS (3) times in both modes
//     (sessions kept, a logout after every few commands), CLIENTS (10)
//     clients for DURATION (60s); it prints the median ops/s of each
//     server, the ratio and the inconsistencies, hangs and errors of
//     each, and exits 1 when there was an inconsistency or a hang.
//     REV=worktree builds the checkout with its uncommitted changes.
//
// Nothing here runs in `go test`: the 100,000-message measurement takes
// about ten minutes and 2.5 GB of disk.
package reference
