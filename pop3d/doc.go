// Package pop3d is Postern's POP3 server (RFC 1939, 2449, 2595, 5034) over
// the INBOX of the maildir store.
package pop3d
