// Package dovecottest starts a real Debian Dovecot (IMAP, POP3 and LMTP)
// on 127.0.0.1 over a Maildir++ tree laid out as Postern lays it out
// (<root>/<domain>/<localpart>/), for tests that prove Postern's store and
// front ends behave like Dovecot. Every port is chosen at run time; the
// configuration, sockets, state and log live in a private temporary
// directory removed when the test ends.
//
// Without Dovecot installed the calling test is skipped, or fails when the
// environment variable POSTERN_REQUIRE_TOOLS=1 (as in CI).
package dovecottest
