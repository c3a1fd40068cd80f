package maildir

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"postern/maildir/dovecot"
)

// Message describes one message of a folder.
type Message struct {
	// UID is the message's IMAP UID, persisted in dovecot-uidlist.
	UID uint32
	// Key is the unique base of the file name (without the ":2," info);
	// it does not change when flags change.
	Key string
	// Flags are the IMAP flags: system flags first, then keywords. The
	// slice may be shared with other Messages: do not modify it in place.
	Flags []string
	// Size is the RFC822.SIZE: the octets Folder.Open yields (CRLF).
	Size int64
	// Date is the internal date (the delivery or APPEND time).
	Date time.Time
	// Recent is set for a message that arrived (delivery, APPEND, COPY,
	// MOVE, or a file found in new/) since a session last called
	// TakeRecent. Flag changes do not clear it.
	Recent bool
}

// Status is the summary IMAP STATUS and SELECT need.
type Status struct {
	Messages, Recent, Unseen, Deleted, UIDNext, UIDValidity uint32
	// Size is the sum of the messages' sizes.
	Size int64
}

// entry is the in-memory record of one message of a folder.
type entry struct {
	uid   uint32
	inNew bool   // in new/ (else cur/)
	base  string // unique base name
	info  string // ":" info of the file name, such as "2,FS"
	fl    dovecot.FlagSet
	vsize int64
	date  int64 // Unix seconds
	// recent: arrived since the last TakeRecent (see Message.Recent).
	recent bool
}

// name returns the file name relative to the folder directory.
func (e *entry) name() string {
	sub := "cur/"
	if e.inNew {
		sub = "new/"
	}
	return sub + dovecot.FullName(e.base, e.info)
}

// Folder is one mailbox. There is one *Folder per folder per process, so
// every session sees every change as an Event. It is safe for concurrent
// use.
type Folder struct {
	acct *Account
	name string
	dir  string

	mu   folderMutex // guards everything below; Unlock delivers events (events.go)
	gone bool        // deleted or renamed away
	ul   uidState
	kws  *dovecot.Keywords
	// kwStamp is the dovecot-keywords file kws was read from.
	kwStamp fileStamp
	msgs    []entry // sorted by UID
	// subs is copied on write: queued events keep the list of their
	// moment.
	subs []*subscriber
	// events holds published events until the lock is released.
	events eventQueue
	// adding holds the Source of each add in progress by base, for the
	// event when a scan during the add publishes the file first.
	adding map[string]Source
	// cs is the queue of adds on their way in (see commitAdd).
	cs      commitState
	watch   watchState
	watchAt time.Time // when watch was taken, before the scan
	// indexed stamps the index file last read or written (see indexFile).
	indexed ixStamps
	// recentHint: the first recentHint entries of msgs are not recent,
	// valid while msgs still starts at recentBase (see TakeRecent).
	recentHint int
	recentBase *entry
	// hc is the header cache (see headerCacheFile), loaded on first use.
	hc headerCache
}

// newFolder returns an unloaded folder.
func newFolder(a *Account, name, dir string) *Folder {
	f := &Folder{acct: a, name: name, dir: dir, adding: map[string]Source{}}
	f.mu.f = f
	f.events.cond.L = &f.events.mu
	f.cs.wake = make(chan struct{})
	f.cs.hurry = make(chan struct{}, 1)
	return f
}

// Name returns the folder name ("INBOX", "Archive/2026").
func (f *Folder) Name() string { return f.name }

// UIDValidity returns the folder's UIDVALIDITY.
func (f *Folder) UIDValidity() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ul.hdr.Validity
}

// path returns the path of a file of the folder.
func (f *Folder) path(rel string) string { return filepath.Join(f.dir, rel) }

// checkLocked returns ErrNotFound for a folder that was deleted.
func (f *Folder) checkLocked() error {
	if f.gone {
		return fmt.Errorf("maildir: folder %q: %w (deleted or renamed)", f.name, ErrNotFound)
	}
	return nil
}

// message builds the Message of an entry.
func (f *Folder) message(e *entry) Message {
	return Message{
		UID:    e.uid,
		Key:    e.base,
		Flags:  flagNames(e.fl, f.kws),
		Size:   e.vsize,
		Date:   time.Unix(e.date, 0),
		Recent: e.recent,
	}
}

// snapshotLocked returns the messages sorted by UID. Messages with the
// same flags share one Flags slice (clipped, so an append copies it):
// a large folder has few distinct flag combinations.
func (f *Folder) snapshotLocked() []Message {
	out := make([]Message, len(f.msgs))
	names := map[dovecot.FlagSet][]string{}
	for i := range f.msgs {
		e := &f.msgs[i]
		fl, ok := names[e.fl]
		if !ok {
			fl = slices.Clip(flagNames(e.fl, f.kws))
			names[e.fl] = fl
		}
		out[i] = Message{UID: e.uid, Key: e.base, Flags: fl, Size: e.vsize, Date: time.Unix(e.date, 0), Recent: e.recent}
	}
	return out
}

// Messages returns the folder's messages sorted by UID and its UIDNEXT.
func (f *Folder) Messages() ([]Message, uint32, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, 0, err
	}
	return f.snapshotLocked(), f.ul.hdr.Next, nil
}

// Status returns the folder's counters, computed from memory.
func (f *Folder) Status() (Status, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return Status{}, err
	}
	st := Status{Messages: uint32(len(f.msgs)), UIDNext: f.ul.hdr.Next, UIDValidity: f.ul.hdr.Validity}
	for i := range f.msgs {
		e := &f.msgs[i]
		if e.recent {
			st.Recent++
		}
		if e.fl.Sys&dovecot.Seen == 0 {
			st.Unseen++
		}
		if e.fl.Sys&dovecot.Deleted != 0 {
			st.Deleted++
		}
		st.Size += e.vsize
	}
	return st, nil
}

// find returns the index of uid in f.msgs, or -1.
func (f *Folder) find(uid uint32) int {
	i := sort.Search(len(f.msgs), func(i int) bool { return f.msgs[i].uid >= uid })
	if i < len(f.msgs) && f.msgs[i].uid == uid {
		return i
	}
	return -1
}

// insertLocked adds an entry keeping f.msgs sorted.
func (f *Folder) insertLocked(e entry) {
	n := len(f.msgs)
	if n == 0 || f.msgs[n-1].uid < e.uid {
		f.msgs = append(f.msgs, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return f.msgs[i].uid >= e.uid })
	f.recentHint = min(f.recentHint, i)
	if i < n && f.msgs[i].uid == e.uid {
		f.msgs[i] = e
		return
	}
	f.msgs = append(f.msgs, entry{})
	copy(f.msgs[i+1:], f.msgs[i:])
	f.msgs[i] = e
}

// removeLocked drops the entries whose UIDs are in set, in one pass.
func (f *Folder) removeLocked(set map[uint32]bool) {
	f.recentHint = 0
	out := f.msgs[:0]
	for _, e := range f.msgs {
		if !set[e.uid] {
			out = append(out, e)
		}
	}
	for i := len(out); i < len(f.msgs); i++ {
		f.msgs[i] = entry{}
	}
	f.msgs = out
}

// markGone makes the folder refuse further use after a delete or
// rename, and tells subscribers every message is gone. The account lock
// is held: the events are delivered by the caller's deliverAll once it
// is released.
func (f *Folder) markGone() {
	f.mu.Lock()
	defer f.mu.unlockQuiet()
	f.gone = true
	for _, e := range f.msgs {
		f.publishLocked(Event{Kind: EventExpunge, Message: Message{UID: e.uid, Key: e.base}})
	}
	f.msgs = nil
}
