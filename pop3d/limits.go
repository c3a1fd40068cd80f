package pop3d

import "time"

// Protocol limits. Tunable ones live in Config; these are fixed.
const (
	// maxCommandLine is the longest command line accepted, CRLF included:
	// RFC 2449 §4 raises RFC 1939's 47 characters to 255 octets.
	maxCommandLine = 255

	// maxSASLLine bounds one client response inside AUTH (RFC 5034 §4
	// lets responses exceed the command limit; PLAIN needs little).
	maxSASLLine = 4096

	// readBufferSize is the size of the connection's read buffer; it must
	// exceed maxSASLLine so a line fits in it.
	readBufferSize = 8192

	// writeBufferSize is the size of the connection's write buffer.
	writeBufferSize = 64 << 10

	// copyBufferSize is the buffer RETR copies a message through; one
	// per session, so a pipelined RETR of many messages allocates once.
	copyBufferSize = 32 << 10

	// writeTimeout bounds every write to the client (each flush of the
	// write buffer), so a client that stops reading cannot pin a session.
	writeTimeout = 2 * time.Minute

	// refuseTimeout bounds the answer to a connection refused during
	// Shutdown.
	refuseTimeout = time.Second

	// forcedCloseWait is how long Shutdown waits for sessions to end
	// once their deadline passed and their sockets were closed.
	forcedCloseWait = time.Second

	// acceptRetryMax is the longest pause after a temporary Accept error.
	acceptRetryMax = time.Second

	// householdKeyword is the keyword DELE sets in household mode; such
	// messages are hidden from later POP3 sessions (Dovecot's
	// pop3_deleted_flag idea).
	householdKeyword = "$POP3Deleted"

	// seenFlag is the IMAP system flag RETR sets.
	seenFlag = `\Seen`
)

// Defaults of the Config fields.
const (
	// DefaultIdleTimeout is RFC 1939 §3's minimum autologout timer.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxErrors is how many -ERR replies a session may collect
	// before it is closed.
	DefaultMaxErrors = 10
	// DefaultMaxConnections bounds concurrent POP3 connections.
	DefaultMaxConnections = 500
)
