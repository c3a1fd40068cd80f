package maildir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postern/maildir/durable"
)

// spool writes r into dir/tmp with CRLF line ends and fsyncs it. Its
// modification time is the message's internal date: date when not zero
// (IMAP APPEND with a date), else the time of the write, which is
// returned in Unix seconds. The file name carries the current time, as
// Dovecot's names do.
func (s *Store) spool(dir string, r io.Reader, date time.Time) (tmpPath, base string, size, mtime int64, err error) {
	base = s.nextBase(time.Now())
	tmpPath = filepath.Join(dir, "tmp", base)
	fh, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", 0, 0, ioErr("maildir: spool", err)
	}
	w := newCRLFWriter(fh)
	_, err = io.Copy(w, r)
	if err == nil {
		err = w.Flush()
	}
	w.release()
	if err == nil && !date.IsZero() {
		err = os.Chtimes(tmpPath, date, date)
		mtime = date.Unix()
	} else if err == nil {
		var st os.FileInfo
		if st, err = fh.Stat(); err == nil {
			mtime = st.ModTime().Unix()
		}
	}
	if err == nil {
		err = fsyncFile(fh)
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpPath)
		return "", "", 0, 0, ioErr("maildir: spool", err)
	}
	return tmpPath, withSizes(base, w.n, w.n), w.n, mtime, nil
}

// addFile links src (a message of another folder, for Copy) into the
// folder as a new message with flags, keeping its modification time as
// the internal date; see add.
func (f *Folder) addFile(src, base string, size int64, flags []string, source any) (Message, error) {
	return f.add(src, base, size, 0, flags, source, false, false)
}

// add puts src into the folder as a new message with flags, by a hard
// link, or by a rename when rename is set (a spooled file with no other
// target). date is its internal date in Unix seconds (0: read the file's).
// It gives the message a UID, makes it durable and publishes EventNew;
// concurrent adds commit as a group (see commitAdd). With deferred set it
// returns once the file is durable, leaving the rest to the background
// committer (see Deliver); the Message then has no UID.
func (f *Folder) add(src, base string, size, date int64, flags []string, source any, rename, deferred bool) (Message, error) {
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
	e := entry{inNew: true, base: base, fl: fs, vsize: size, recent: true, date: date}
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
	place := os.Link
	if rename {
		place = renameFile
	}
	if err := place(src, dst); err != nil {
		return Message{}, ioErr("maildir: add message", err)
	}
	if e.date == 0 {
		if st, err := os.Stat(dst); err == nil {
			e.date = st.ModTime().Unix()
		}
	}
	p := &pendingAdd{e: e, size: size, source: source}
	var m Message
	kept := false
	if deferred {
		err = f.deferAdd(p, filepath.Dir(dst))
		kept = err == nil
		m = Message{Key: e.base, Size: size, Date: time.Unix(e.date, 0), Recent: true}
	} else {
		m, kept, err = f.commitAdd(p, filepath.Dir(dst))
	}
	if !kept {
		if rerr := os.Remove(dst); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			f.acct.st.log.Error("cannot undo a failed add", "user", f.acct.user, "folder", f.name, "file", dst, "err", rerr)
		}
		syncDir(filepath.Dir(dst))
	}
	return m, err
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

// renameFile is os.Rename without its check that newpath is not a
// directory (a fresh unique name never is): one system call less.
func renameFile(oldpath, newpath string) error {
	if err := syscall.Rename(oldpath, newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// syncUIDList fsyncs dovecot-uidlist.
func (f *Folder) syncUIDList() error {
	fh, err := os.Open(f.uidListPath())
	if err != nil {
		return err
	}
	defer fh.Close()
	return fsyncFile(fh)
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
	// Adds numbered before are covered by that fsync; they are shown
	// first, so that UIDs appear in order.
	if err := f.flushPendingLocked(false); err != nil {
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
