package maildir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"postern/maildir/durable"
)

// spool writes r into dir/tmp with CRLF line ends, fsyncs it and sets
// its modification time, which is the message's internal date, to date.
// The file name carries the current time, as Dovecot's names do.
func (s *Store) spool(dir string, r io.Reader, date time.Time) (tmpPath, base string, size int64, err error) {
	base = s.nextBase(time.Now())
	tmpPath = filepath.Join(dir, "tmp", base)
	fh, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", 0, ioErr("maildir: spool", err)
	}
	w := newCRLFWriter(fh)
	_, err = io.Copy(w, r)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = os.Chtimes(tmpPath, date, date)
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpPath)
		return "", "", 0, ioErr("maildir: spool", err)
	}
	return tmpPath, withSizes(base, w.n, w.n), w.n, nil
}

// addFile links src (a spooled file, or a message of another folder for
// Copy) into the folder as a new message with flags, gives it a UID,
// makes it durable and publishes EventNew.
//
// Concurrent adds commit as a group: the link and the directory fsync
// happen outside the folder lock, one fsync covering every link made
// before it started; the UID records are appended under the lock and
// fsynced together after it.
func (f *Folder) addFile(src, base string, size int64, flags []string, source any) (Message, error) {
	f.mu.Lock()
	if err := f.checkLocked(); err != nil {
		f.mu.Unlock()
		return Message{}, err
	}
	fs, err := f.lettersFor(flags)
	if err != nil {
		f.mu.Unlock()
		return Message{}, err
	}
	e := entry{inNew: true, base: base, fl: fs, vsize: size, recent: true}
	if len(flags) > 0 {
		e.inNew = false
		e.info = withLetters(fs.letters())
	}
	// A scan meanwhile may find the file and give it its UID in order
	// with other messages; it publishes with this source.
	f.adding[e.base] = source
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.adding, e.base)
		f.mu.Unlock()
	}()

	dst := f.path(e.name())
	if err := os.Link(src, dst); err != nil {
		return Message{}, ioErr("maildir: add message", err)
	}
	undo := func() {
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			f.acct.st.log.Error("cannot undo a failed add", "user", f.acct.user, "folder", f.name, "file", dst, "err", err)
		}
		durable.SyncDir(filepath.Dir(dst))
	}
	group := &f.newSync
	if !e.inNew {
		group = &f.curSync
	}
	if err := group.do(func() error { return durable.SyncDir(filepath.Dir(dst)) }); err != nil {
		undo()
		return Message{}, ioErr("maildir: sync", err)
	}
	if st, err := os.Stat(dst); err == nil {
		e.date = st.ModTime().Unix()
	}

	f.mu.Lock()
	m, err := f.numberLocked(e, size, source)
	f.mu.Unlock()
	if err != nil {
		undo()
		return Message{}, err
	}
	if err := f.ulSync.do(f.syncUIDList); err != nil {
		return Message{}, ioErr("maildir: fsync uidlist", err)
	}
	return m, nil
}

// numberLocked gives a linked, durable file its UID under the dotlock
// (appending the record without fsync: the caller fsyncs it), inserts it
// and publishes EventNew. f.mu is held.
func (f *Folder) numberLocked(e entry, size int64, source any) (Message, error) {
	if err := f.checkLocked(); err != nil {
		return Message{}, err
	}
	lock, err := f.lockFreshLocked()
	if err != nil {
		return Message{}, err
	}
	defer lock.release()
	if uid, ok := f.ul.known[e.base]; ok {
		// Another process, or the scan above, gave the file its UID.
		if i := f.find(uid); i >= 0 && f.msgs[i].base == e.base {
			return f.message(&f.msgs[i]), nil // counted and published by the scan
		}
		// Not found by the scan: the other process has moved or
		// expunged it meanwhile (it was stored, so the add succeeded).
		// It is not shown here, where a late UID would be out of order.
		e.uid = uid
		return f.message(&e), nil
	} else {
		e.uid = f.ul.hdr.next
		if err := f.appendUIDListLocked([]uidRec{{uid: e.uid, base: e.base, vsize: -1}}, false); err != nil {
			return Message{}, err
		}
	}
	return f.addedLocked(e, size, source), nil
}

// addedLocked inserts a numbered message, counts it and publishes
// EventNew. f.mu is held.
func (f *Folder) addedLocked(e entry, size int64, source any) Message {
	f.insertLocked(e)
	f.cacheDatesLocked([]entry{e})
	f.acct.quota.add(size, 1)
	m := f.message(&f.msgs[f.find(e.uid)])
	f.publishLocked(Event{Kind: EventNew, Message: m, Source: source})
	return m
}

// syncUIDList fsyncs dovecot-uidlist.
func (f *Folder) syncUIDList() error {
	fh, err := os.Open(f.uidListPath())
	if err != nil {
		return err
	}
	defer fh.Close()
	return fh.Sync()
}

// moveInLocked renames src (a message of another folder on the same
// file system) into the folder with flags, keeping its base unless a
// stale record in this folder's uidlist lists that base (it was here
// before): then it takes a new base, so that no UID is ever reused. The
// new UID is assigned under the dotlock, taken before the rename; the
// directory is fsynced and EventNew published. On failure the file is put
// back. f.mu is held.
func (f *Folder) moveInLocked(src, base string, size int64, flags []string, source any) (Message, error) {
	if err := f.checkLocked(); err != nil {
		return Message{}, err
	}
	fs, err := f.lettersFor(flags)
	if err != nil {
		return Message{}, err
	}
	e := entry{inNew: true, base: base, fl: fs, vsize: size, recent: true}
	if len(flags) > 0 {
		e.inNew = false
		e.info = withLetters(fs.letters())
	}
	lock, err := f.lockFreshLocked()
	if err != nil {
		return Message{}, err
	}
	defer lock.release()
	if _, stale := f.ul.known[e.base]; stale {
		e.base = renamedBase(f.acct.st.nextBase(time.Now()), e.base)
	}
	dst := f.path(e.name())
	if err := os.Rename(src, dst); err != nil {
		return Message{}, ioErr("maildir: move message", err)
	}
	fail := func(err error) (Message, error) {
		if uerr := os.Rename(dst, src); uerr != nil {
			f.acct.st.log.Error("cannot undo a failed move", "user", f.acct.user, "folder", f.name, "file", dst, "err", uerr)
		}
		durable.SyncDir(filepath.Dir(dst))
		return Message{}, err
	}
	if err := durable.SyncDir(filepath.Dir(dst)); err != nil {
		return fail(ioErr("maildir: sync", err))
	}
	if st, err := os.Stat(dst); err == nil {
		e.date = st.ModTime().Unix()
	}
	e.uid = f.ul.hdr.next
	if err := f.appendUIDListLocked([]uidRec{{uid: e.uid, base: e.base, vsize: -1}}, true); err != nil {
		return fail(err)
	}
	return f.addedLocked(e, size, source), nil
}

// lockFreshLocked takes the uidlist dotlock and brings memory up to date
// with what other processes did: their uidlist records, and when there
// are new ones, their files (published as events first, so subscribers
// see UIDs in increasing order). f.mu is held.
func (f *Folder) lockFreshLocked() (*dotlock, error) {
	lock, err := takeDotlock(f.uidListPath(), f.acct.st.lockHost)
	if err != nil {
		return nil, err
	}
	if err := f.readUIDsLocked(true); err != nil {
		lock.release()
		return nil, err
	}
	if f.ul.foreign || f.ul.torn {
		if err := f.scanFilesLocked(true); err != nil {
			lock.release()
			return nil, err
		}
	}
	return lock, nil
}

// renamedBase returns a new base for a file whose base old is taken:
// fresh, with old's S= and W= sizes.
func renamedBase(fresh, old string) string {
	fn := parseFileName(old)
	if fn.size >= 0 && fn.vsize >= 0 {
		return withSizes(fresh, fn.size, fn.vsize)
	}
	return fresh
}
