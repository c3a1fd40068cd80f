// Package reference holds setup.sh and stop.sh, which start and stop the
// reference mail stack mailbench measures Postern against: Debian's
// Postfix delivering over LMTP to Debian's Dovecot on 127.0.0.1 (see
// docs/benchmarks.md). The package's test runs the scripts and checks
// that mail sent to Postfix lands in the Maildir and is served by Dovecot.
package reference
