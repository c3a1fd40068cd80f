package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"postern/maildir/durable"
)

// Target is one recipient folder of a delivery.
type Target struct {
	User   string
	Folder string // "" = INBOX
	Flags  []string
}

// Deliver stores one message for every target. It returns per-target
// errors (ErrOverQuota, ErrNotFound ...) and a global error if nothing
// could be written. It returns as soon as the message is durable: written
// to tmp/, fsynced, renamed (or linked) into new/ and the directory
// fsynced, a directory fsync shared by deliveries that finish together.
// Its UID is given, made durable and published by the folder's background
// committer 10 to 100 ms later, together with the deliveries of those
// milliseconds (one dotlock, one append to dovecot-uidlist, one
// fsync of it); every Folder method first waits for the deliveries
// already returned, so a caller reading after Deliver sees its message. A
// crash in between loses nothing: the file gets its UID at the next scan.
func (s *Store) Deliver(ctx context.Context, msg io.Reader, to []Target) ([]error, error) {
	errs := make([]error, len(to))
	folders := make([]*Folder, len(to))
	var first *Folder
	for i, t := range to {
		a, err := s.Account(t.User)
		if err != nil {
			errs[i] = err
			continue
		}
		name := t.Folder
		if name == "" {
			name = inboxName
		}
		f, err := a.Folder(name)
		if err != nil {
			errs[i] = err
			continue
		}
		folders[i] = f
		if first == nil {
			first = f
		}
	}
	if first == nil {
		return errs, fmt.Errorf("maildir: deliver: no usable target")
	}
	if err := ctx.Err(); err != nil {
		return errs, err
	}
	tmp, base, size, date, err := s.spool(first.dir, msg, time.Time{})
	if err != nil {
		return errs, err
	}
	// Every target but the last gets a hard link; the last takes the
	// spooled file itself by a rename.
	last := -1
	for i, f := range folders {
		if f != nil {
			last = i
		}
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	ok := false
	for i, f := range folders {
		if f == nil {
			continue
		}
		if err := f.acct.quota.check(size, 1); err != nil {
			errs[i] = err
			continue
		}
		_, err := f.add(tmp, base, size, date, to[i].Flags, nil, i == last, true)
		renamed = renamed || (i == last && err == nil)
		if err != nil {
			errs[i] = err
			continue
		}
		ok = true
	}
	if !ok {
		return errs, fmt.Errorf("maildir: deliver: no target accepted the message")
	}
	return errs, nil
}

// Append adds a message with flags and internal date (IMAP APPEND).
func (f *Folder) Append(r io.Reader, flags []string, date time.Time, source any) (Message, error) {
	tmp, base, size, mtime, err := f.acct.st.spool(f.dir, r, date)
	if err != nil {
		return Message{}, err
	}
	if err := f.acct.quota.check(size, 1); err != nil {
		os.Remove(tmp)
		return Message{}, err
	}
	m, err := f.add(tmp, base, size, mtime, flags, source, true, false)
	if err != nil {
		os.Remove(tmp) // the rename may not have happened
	}
	return m, err
}

// entryFor returns a copy of the entry of uid.
func (f *Folder) entryFor(uid uint32) (entry, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return entry{}, err
	}
	i := f.find(uid)
	if i < 0 {
		return entry{}, fmt.Errorf("maildir: uid %d: %w", uid, ErrNotFound)
	}
	return f.msgs[i], nil
}

// Open returns the content of message uid with CRLF line ends; it yields
// exactly Message.Size bytes.
func (f *Folder) Open(uid uint32) (io.ReadCloser, Message, error) {
	for attempt := 0; ; attempt++ {
		e, err := f.entryFor(uid)
		if err != nil {
			return nil, Message{}, err
		}
		fh, err := os.Open(f.path(e.name()))
		if errors.Is(err, os.ErrNotExist) && attempt == 0 {
			if err := f.Rescan(); err != nil {
				return nil, Message{}, err
			}
			continue
		}
		if err != nil {
			return nil, Message{}, ioErr("maildir: open message", err)
		}
		f.mu.Lock()
		m := f.message(&e)
		f.mu.Unlock()
		st, err := fh.Stat()
		if err != nil || st.Size() != e.vsize {
			// Stored with bare LF (Dovecot): served with CRLF.
			cr := newCRLFReader(fh)
			return copyCloser{Reader: io.LimitReader(cr, e.vsize), close: func() error {
				cr.release()
				return fh.Close()
			}}, m, nil
		}
		return copyCloser{Reader: io.LimitReader(fh, e.vsize), close: fh.Close}, m, nil
	}
}

// Copy copies messages into dest and returns the source UIDs copied and
// the UIDs they have in dest, in the same order.
func (f *Folder) Copy(uids []uint32, dest *Folder) (src, dst []uint32, err error) {
	return f.copyTo(uids, dest, nil)
}

// Expunge removes messages and returns the UIDs removed; missing UIDs are
// skipped.
func (f *Folder) Expunge(uids []uint32, source any) ([]uint32, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, err
	}
	var out, batch []uint32
	var bytes int64
	seen := map[uint32]bool{}
	// done makes the removals of batch durable and publishes them.
	done := func() error {
		if len(batch) == 0 {
			return nil
		}
		for _, sub := range []string{"new", "cur"} {
			if err := durable.SyncDir(f.path(sub)); err != nil {
				return err
			}
		}
		gone := make(map[uint32]bool, len(batch))
		for _, uid := range batch {
			gone[uid] = true
		}
		f.removeLocked(gone)
		f.acct.quota.add(-bytes, -int64(len(batch)))
		for _, uid := range batch {
			f.publishLocked(Event{Kind: EventExpunge, Message: Message{UID: uid}, Source: source})
		}
		out = append(out, batch...)
		batch, bytes = batch[:0], 0
		return nil
	}
	rescanned := false
	for k := 0; k < len(uids); k++ {
		uid := uids[k]
		i := f.find(uid)
		if i < 0 || seen[uid] {
			continue
		}
		e := &f.msgs[i]
		err := os.Remove(f.path(e.name()))
		if errors.Is(err, os.ErrNotExist) && !rescanned {
			// Renamed by another process (a flag change) or removed by
			// it: a rescan finds its new name, or publishes its expunge.
			rescanned = true
			if err := done(); err != nil {
				return out, err
			}
			if err := f.syncLocked(true); err != nil {
				return out, err
			}
			k--
			continue
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			done()
			return out, ioErr("maildir: expunge", err)
		}
		seen[uid] = true
		batch = append(batch, uid)
		bytes += e.vsize
	}
	if err := done(); err != nil {
		return out, err
	}
	return out, nil
}
