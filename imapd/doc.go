// Package imapd is Postern's IMAP4rev1/IMAP4rev2 server: a go-imap v2
// imapserver.Session over the maildir store, with unilateral updates fed by
// the store's change events.
//
// # Implementation notes
//
// Shape: one *session per connection (session.go), driven by go-imap's
// command loop; one file per command family (selected.go, fetch.go,
// change.go, mailboxes.go, searchcmd.go); errors become replies in
// replyError (errors.go).
//
// Shared view: every session that selects a folder shares one *mailbox
// (mailbox.go) per *maildir.Folder: the messages in sequence order and
// go-imap's MailboxTracker. The mailbox subscribes to the folder's change
// events; maildir delivers them after releasing its own locks, one at a
// time and in order, and each becomes a tracker update (EXISTS, EXPUNGE,
// FETCH FLAGS, "* FLAGS" for a new keyword) for every session, written at
// the session's next Poll or at once in IDLE. A mutation's own events are
// applied before the store call returns, so a session sees its change in
// the reply to the command that made it.
//
// # Command costs
//
// What one client can make the server do is bounded (docs/imap.md,
// "Command limits"). A SEARCH program deeper than MaxSearchDepth or with
// more than MaxSearchKeys keys is refused with NO [LIMIT] before any
// message is looked at (searchlimit.go). SEARCH, and FETCH of anything
// read from files or the header cache, are busy commands: at most
// MaxBusyCommandsPerUser of a user and MaxBusyCommands in all run at
// once, the rest wait in line in arrival order for BusyWait, with a
// "* OK Waiting" notice now and then whose failed write ends the wait
// (busygate.go, fifosem.go, costs.go). The message data a busy command
// loads is accounted against MaxCommandMemory and, server-wide,
// MaxTotalCommandMemory (memory.go); SEARCH reuses one buffer for every
// message (searchtext.go). Sequence and UID sets are indexed, not
// scanned per message (numset.go). STORE and APPEND flags are checked
// before the store sees them (keywords.go: at most MaxKeywords).
// go-imap parses every command before imapd sees it; what it refuses
// or costs on its own is listed in docs/imap.md.
//
// # Locks
//
// In the only order in which one may be taken while another is held:
//
//  1. session.idleMu: held by Idle for its whole run and by Close.
//  2. Server.mu: sessions, per-user counts and the mailbox table. It may
//     be held while taking a mailbox's mu (lingerLocked) but never while
//     calling the store: openMailbox subscribes with it released (a
//     second session asking for the same folder waits for mailbox.ready),
//     and unsubscribing happens after it is released.
//  3. mailbox.mu: the shared view. A leaf: its holders touch only memory
//     and go-imap's tracker (whose own mutexes are leaves too); they never
//     call the store, never take Server.mu and never wait. That is what
//     lets the store's event delivery take it from any goroutine.
//
// busyGate.mu and fifoSem.mu (the busy-command lines) are leaves too,
// taken with none of the locks above held; a command waits in line
// holding none of them either.
//
// The store's locks (maildir/doc.go) are taken only inside store calls,
// which are made with none of the locks above held except idleMu (IDLE
// makes no store call). So no cycle exists between a session waiting for
// a folder and a folder delivering an event to a session: the inversion
// of issue 14 (SELECT holding the view lock while asking the folder for
// its UIDVALIDITY, EXPUNGE holding the folder lock while delivering to
// the view) cannot happen. TestSelectAgainstWritersNoHang and
// `mailbench imap-stress` exercise every path that takes two of these
// locks with several sessions at once under -race.
package imapd
