// Package pop3d is Postern's POP3 server (RFC 1939, 2449, 2595, 5034) over
// the INBOX of the maildir store.
//
// It speaks USER/PASS and AUTH PLAIN (only under TLS: STLS on port 110,
// implicit TLS on 995), STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL
// and CAPA. APOP is not offered.
//
// # Implementation notes
//
// Shape: one *conn per connection (conn.go) with a command loop, one method
// per verb, and one dispatch table (commands.go) naming the verbs allowed in
// each state (AUTHORIZATION, TRANSACTION; UPDATE is the body of QUIT).
// Every reply leaves through conn.reply, conn.fail or conn.multiline
// (reply.go); errors become -ERR text in exactly one function, errReply.
//
// Maildrop: at login the session takes a snapshot of the INBOX (maildrop.go)
// and numbers it 1..n. The numbering never changes during the session. DELE
// only marks; QUIT in TRANSACTION expunges the marked UIDs through
// maildir.Folder.Expunge (durable, publishes EXPUNGE to IMAP sessions) and
// answers +OK only after it returns. A dropped connection, a timeout or a
// server shutdown removes nothing. A message expunged by someone else
// during the session stays numbered; RETR/TOP of it fail with -ERR.
//
// \Seen: RETR (not TOP) marks the message \Seen through Folder.SetFlags.
// The flags are applied in one batch whenever the client has nothing
// pipelined (before the server blocks for the next command) and at the end
// of the session, so a pipelined "RETR all" costs one flag update.
//
// Household mode (Config.Household): DELE adds the keyword $POP3Deleted
// instead of expunging, and the snapshot leaves such messages out, so POP3
// clients stop seeing them while IMAP clients keep them.
//
// Locking: the Server keeps a map user -> session. A second POP3 login for
// a user with an open session gets "-ERR [IN-USE]" at once. The map is
// guarded by Server.mu, which is never held while doing I/O. The store is
// only touched through maildir's API; this package writes no files.
// Server.BusySessions (logged by the process when a stop outlives its
// timeout) takes Server.mu only through TryLock and reads each session's
// user and current command from an atomic (conn.act), so it never waits
// for a stuck session.
//
// UIDL is Dovecot's default pop3_uidl_format "%08Xu%08Xv": the UID then the
// UIDVALIDITY, each as 8 hex digits in lower case (Dovecot's %X modifier
// prints lower case; TestUIDLMatchesDovecot compares with a real Dovecot),
// so UIDLs survive restarts, never repeat, and equal what Dovecot showed on
// the same Maildir.
//
// Limits (limits.go): command lines are at most 255 octets including CRLF
// (RFC 2449 §4); a session idle for IdleTimeout (10 min, RFC 1939 §3) or
// unauthenticated for LoginTimeout is closed without UPDATE; after
// MaxErrors -ERR replies the connection is closed.
package pop3d
