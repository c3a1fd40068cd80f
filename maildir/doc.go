// Package maildir is Postern's message store: one Dovecot-compatible
// Maildir++ tree per account, shared by the SMTP, IMAP and POP3 front ends.
//
// # Layout
//
// The store root is <data>/mail. Account "anna@example.org" lives in
// <root>/example.org/anna/ with cur/ new/ tmp/ for INBOX and one ".Name"
// directory per folder (".Parent.Child" when nested, each name encoded in
// modified UTF-7 exactly as Dovecot stores it). Front ends see folder
// names in UTF-8 with "/" as the hierarchy delimiter and "INBOX" for the
// inbox. Per folder, beside cur/new/tmp: dovecot-uidlist (v3, guarded by
// the dotlock dovecot-uidlist.lock), its last-good copy
// dovecot-uidlist.postern-good, dovecot-keywords, and three caches:
// postern-dates (internal dates by UID), postern-headers (the ENVELOPE
// header fields by UID) and postern-index (the folder's state, written at
// Close and used at the next open when nothing changed). Per account:
// subscriptions,
// maildirsize (Maildir++ quota). docs/storage.md describes it all.
//
// # API used by the front ends (the contract)
//
//	Open(root string, opts Options) (*Store, error)
//	(*Store).Close() error
//	(*Store).Account(user string) (*Account, error)       // user = "local@domain", normalised by accounts; creates the default folders on first use
//	(*Store).Deliver(ctx, msg io.Reader, to []Target) ([]error, error)
//	        // one message to many accounts; write once to tmp/, fsync, rename into
//	        // the target's new/ (hard links when several), fsync dirs (group commit),
//	        // assign UIDs, publish EventNew. Per-target errors in the slice
//	        // (ErrOverQuota ...), a global error if nothing could be written.
//	        // Returns only when durable; the UIDs are given by the folder's
//	        // background committer 10 to 100 ms later (every Folder
//	        // method waits for it first).
//
//	(*Account).Folders() ([]FolderInfo, error)            // Name, SpecialUse (imap.MailboxAttr* string such as `\Sent`), Subscribed
//	(*Account).CreateFolder(name, specialUse string) error
//	(*Account).DeleteFolder(name string) error
//	(*Account).RenameFolder(old, new string) error        // renaming INBOX moves its messages into the new folder
//	(*Account).Subscribe(name string, on bool) error
//	(*Account).Folder(name string) (*Folder, error)       // the one shared *Folder for that name in this process
//	(*Account).Usage() (bytes, messages int64)
//
//	(*Folder).Name() string
//	(*Folder).UIDValidity() uint32
//	(*Folder).Subscribe(fn func(Event)) (snapshot []Message, uidNext uint32, cancel func())
//	        // atomically: the current messages sorted by UID, and fn called for every
//	        // later change in order, after the folder lock is released (see Locks).
//	        // fn must not block, call the Folder, or take a lock held around Folder calls.
//	(*Folder).Messages() ([]Message, uidNext uint32, err error)
//	(*Folder).Append(r io.Reader, flags []string, date time.Time, source Source) (Message, error)
//	(*Folder).Open(uid uint32) (io.ReadCloser, Message, error)   // content with CRLF line ends; Message.Size bytes exactly
//	(*Folder).Header(uid uint32) ([]byte, error)                // header block incl. the blank line, CRLF
//	(*Folder).EnvelopeHeader(uid uint32) ([]byte, error)        // only the ENVELOPE fields, from the header cache
//	(*Folder).SetFlags(uids []uint32, op FlagOp, flags []string, source Source) ([]Message, error)
//	(*Folder).Copy(uids []uint32, dest *Folder) (src, dst []uint32, err error)
//	(*Folder).Move(uids []uint32, dest *Folder, source Source) (src, dst []uint32, err error)
//	        // a rename keeping flags and internal date; EventNew in dest, then one EventExpunge
//	(*Folder).TakeRecent() ([]uint32, error)               // SELECT claims the \Recent messages
//	(*Folder).Expunge(uids []uint32, source Source) (expunged []uint32, err error)
//	(*Folder).Status() (Status, error)                     // Messages, Recent, Unseen, Deleted, UIDNext, UIDValidity, Size
//	(*Folder).Rescan() error                               // pick up changes by other processes (also done by a watcher)
//
// Flags are IMAP strings: system flags `\Seen` `\Answered` `\Flagged`
// `\Deleted` `\Draft` (letters S R F T D in the ":2," suffix) and keywords
// (any other atom, stored through dovecot-keywords). Message.Size is the
// RFC822.SIZE: octets with CRLF line ends. Message.Date is the internal
// date: the file's modification time, as in Dovecot (Append sets it).
// EnvelopeFields lists the header fields EnvelopeHeader keeps.
//
// A source (Append, SetFlags, Move, Expunge) says who makes the change
// and comes back as Event.Source: a pointer to a front end's session
// state that embeds SourceMark (imapd's selection), or nil.
//
// Errors are typed so front ends map them to replies in one place:
// ErrNotFound, ErrExists, ErrBadName, ErrOverQuota, ErrNoSpace (disk full),
// tested with errors.Is.
//
// Every durable write goes through package postern/maildir/durable.
//
// # Two layers
//
// Dovecot's file formats are package postern/maildir/dovecot:
// dovecot-uidlist and its dotlock, file names with their ":2," flags,
// dovecot-keywords, folder names in modified UTF-7, CRLF line ends. It
// knows nothing of this package. This package is the engine above it:
// Store, Account, Folder, the commit of new messages (commit.go), the
// scan of the directories (scan.go), change events (events.go), and
// Postern's own files (caches, quota, subscriptions). Folder's methods
// are grouped by what they do: add.go (Deliver, Append), read.go (Open,
// Header), headercache.go (EnvelopeHeader), setflags.go, recent.go
// (TakeRecent), move.go (Copy, Move), expunge.go, subscribe.go
// (Subscribe, Event, Source), scan.go (Rescan), keywords_sync.go,
// uidstate.go and uidrecover.go (the folder's dovecot-uidlist).
//
// # Locks
//
// The locks of the store, in the only order in which one may be taken
// while another is held (a lock may only be taken while holding locks
// above it in this list):
//
//  1. Store.mu: the account table (store.go).
//  2. Account.mu: the folder table and folder directories (account.go).
//  3. Folder.mu: a folder's state. Two folders are held at once only by
//     Move, in the order of their directory names (lockPair).
//  4. commitState.qmu: the queue of adds waiting for a UID (commit.go).
//  5. Leaf locks, under which nothing else is taken: the event queue's
//     mu (events.go), the header cache's mu, the quota's mu, the
//     group-fsync state (groupsync.go), the dotlock source table
//     (dovecot/dotlock.go).
//
// The dotlock on dovecot-uidlist (a file, shared with other processes) is
// taken under Folder.mu only, and never waited for with another folder's
// dotlock held.
//
// Events never run under these locks. A mutation publishes under
// Folder.mu, which only queues the event; releasing Folder.mu (its
// Unlock) delivers the queue to the subscribers, one event at a time and
// in order across all publishers, and returns only once every event
// queued before it is delivered. The two places that hold a second store
// lock when they release a folder, Move (the other folder) and
// DeleteFolder/RenameFolder (Account.mu), release quietly and deliver
// after releasing the last lock (deliverAll). So a subscriber such as
// imapd's mailbox view may take its own lock even though its callers
// hold that lock around nothing but memory, and two sessions can never
// wait for each other through the store: the lock-order inversion of
// SELECT against APPEND/EXPUNGE (issue 14) has no path left. Subscribers
// must still not block, call the Folder, or take a lock that is held
// while a Folder or Account method runs.
//
// Goroutines of the store: the background committer of each folder with
// deliveries (commit.go) takes Folder.mu and qmu like any caller; the
// watcher (store.go) rescans loaded folders one at a time with no other
// lock held. Neither waits for a front end.
package maildir
