// Package testkit is the shared support for Postern's tests: a
// self-signed certificate for 127.0.0.1 and localhost, a goroutine-safe
// log buffer, the test users anna@example.org and bob@example.org with
// their passwords and Dovecot passwd-file lines, the lookup of
// third-party tools (skip locally, fail with POSTERN_REQUIRE_TOOLS=1),
// loopback listeners and a polling wait.
//
// It sits at the bottom of the import graph: it imports no other Postern
// package, so every package's tests (and the helper packages
// maildir/dovecottest and smtpd/queue/postfixtest) can use it. Nothing in
// it is meant for production code.
package testkit
