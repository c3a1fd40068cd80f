// Package imapd is Postern's IMAP4rev1/IMAP4rev2 server: a go-imap v2
// imapserver.Session over the maildir store, with unilateral updates fed by
// the store's change events.
package imapd
