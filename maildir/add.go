package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postern/maildir/dovecot"
)

// How a message comes in: Deliver (SMTP) and Append (IMAP) spool it to
// tmp/, and add, which Copy shares, links it into the folder, numbers
// it and publishes it (see commit.go).

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
// Subscribers see EventNew with source as its Source.
func (f *Folder) Append(r io.Reader, flags []string, date time.Time, source Source) (Message, error) {
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
	w := dovecot.NewCRLFWriter(fh)
	_, err = io.Copy(w, r)
	if err == nil {
		err = w.Flush()
	}
	w.Release()
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
	return tmpPath, dovecot.WithSizes(base, w.Written(), w.Written()), w.Written(), mtime, nil
}

// addFile links src (a message of another folder, for Copy) into the
// folder as a new message with flags, keeping its modification time as
// the internal date; see add.
func (f *Folder) addFile(src, base string, size int64, flags []string, source Source) (Message, error) {
	return f.add(src, base, size, 0, flags, source, false, false)
}

// add puts src into the folder as a new message with flags, by a hard
// link, or by a rename when rename is set (a spooled file with no other
// target). date is its internal date in Unix seconds (0: read the file's).
// It gives the message a UID, makes it durable and publishes EventNew;
// concurrent adds commit as a group (see commitAdd). With deferred set it
// returns once the file is durable, leaving the rest to the background
// committer (see Deliver); the Message then has no UID.
func (f *Folder) add(src, base string, size, date int64, flags []string, source Source, rename, deferred bool) (Message, error) {
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
	e := incoming(base, size, fs, len(flags) > 0)
	e.date = date
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

// incoming returns the entry of a message coming into the folder with
// the flags fs, recent: in new/ when it came with no flags, else in cur/
// with its info.
func incoming(base string, size int64, fs dovecot.FlagSet, withFlags bool) entry {
	e := entry{inNew: true, base: base, fl: fs, vsize: size, recent: true}
	if withFlags {
		e.inNew = false
		e.info = fs.Info()
	}
	return e
}

// addedLocked inserts a numbered message, counts it and publishes
// EventNew. f.mu is held.
func (f *Folder) addedLocked(e entry, size int64, source Source) Message {
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
