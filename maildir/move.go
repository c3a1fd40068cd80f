package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postern/maildir/dovecot"
	"postern/maildir/durable"
)

// Copy copies messages into dest and returns the source UIDs copied and
// the UIDs they have in dest, in the same order.
func (f *Folder) Copy(uids []uint32, dest *Folder) (src, dst []uint32, err error) {
	return f.copyTo(uids, dest, nil)
}

// copyTo copies messages into dest by hard links. A source file renamed
// meanwhile by another process (a flag change) is found by a rescan.
func (f *Folder) copyTo(uids []uint32, dest *Folder, source Source) (src, dst []uint32, err error) {
	rescanned := false
	for _, uid := range uids {
		for {
			m, err := f.copyOne(uid, dest, source)
			if errors.Is(err, os.ErrNotExist) && !rescanned {
				rescanned = true
				if err := f.Rescan(); err != nil {
					return src, dst, err
				}
				continue
			}
			if errors.Is(err, ErrNotFound) || errors.Is(err, os.ErrNotExist) {
				break // expunged meanwhile
			}
			if err != nil {
				return src, dst, err
			}
			src = append(src, uid)
			dst = append(dst, m.UID)
			break
		}
	}
	return src, dst, nil
}

// copyOne links message uid into dest with its flags.
func (f *Folder) copyOne(uid uint32, dest *Folder, source Source) (Message, error) {
	e, err := f.entryFor(uid)
	if err != nil {
		return Message{}, err
	}
	f.mu.Lock()
	flags := flagNames(e.fl, f.kws)
	f.mu.Unlock()
	if err := dest.acct.quota.check(e.vsize, 1); err != nil {
		return Message{}, err
	}
	base := renamedBase(dest.acct.st.nextBase(time.Now()), e.base)
	return dest.addFile(f.path(e.name()), base, e.vsize, flags, source)
}

// Move moves messages into dest and returns the source UIDs moved and
// their new UIDs in dest, in the same order. Each file is renamed into
// dest keeping its flags and internal date; dest assigns a new UID.
// Subscribers see EventNew in dest, then one EventExpunge in f, both
// with source as their Source. Across
// file systems (or into f itself) it copies and expunges instead.
func (f *Folder) Move(uids []uint32, dest *Folder, source Source) (src, dst []uint32, err error) {
	f.awaitDeferred()
	if dest == f {
		return f.copyExpunge(uids, dest, source)
	}
	unlock := lockPair(f, dest)
	var fallback []uint32
	var moved []entry
	rescanned := false
	for k := 0; k < len(uids); k++ {
		uid := uids[k]
		i := f.find(uid)
		if i < 0 || f.gone {
			continue
		}
		e := f.msgs[i]
		if err = dest.acct.quota.check(e.vsize, 1); err != nil {
			break
		}
		var m Message
		m, err = dest.moveInLocked(f.path(e.name()), e.base, e.vsize, flagNames(e.fl, f.kws), source)
		if errors.Is(err, syscall.EXDEV) {
			err = nil
			fallback = append(fallback, uid)
			continue
		}
		if errors.Is(err, os.ErrNotExist) && !rescanned {
			// Renamed by another process (a flag change): find its
			// current name and try again.
			rescanned = true
			if err = f.syncLocked(true); err != nil {
				break
			}
			k--
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			err = nil // expunged by another process meanwhile
			continue
		}
		if err != nil {
			break
		}
		f.removeLocked(map[uint32]bool{uid: true})
		moved = append(moved, e)
		src = append(src, uid)
		dst = append(dst, m.UID)
	}
	if len(moved) > 0 {
		for _, sub := range []string{"new", "cur"} {
			if serr := durable.SyncDir(f.path(sub)); serr != nil && err == nil {
				err = ioErr("maildir: move", serr)
			}
		}
		var bytes int64
		for _, e := range moved {
			bytes += e.vsize
			f.publishLocked(Event{Kind: EventExpunge, Message: Message{UID: e.uid, Key: e.base}, Source: source})
		}
		f.acct.quota.add(-bytes, -int64(len(moved)))
	}
	unlock()
	if err == nil && len(fallback) > 0 {
		s, d, ferr := f.copyExpunge(fallback, dest, source)
		src, dst, err = append(src, s...), append(dst, d...), ferr
	}
	return src, dst, err
}

// copyExpunge moves by copying then expunging.
func (f *Folder) copyExpunge(uids []uint32, dest *Folder, source Source) (src, dst []uint32, err error) {
	src, dst, err = f.copyTo(uids, dest, source)
	if len(src) > 0 {
		if _, xerr := f.Expunge(src, source); xerr != nil && err == nil {
			err = xerr
		}
	}
	return src, dst, err
}

// lockPair locks two different folders in a fixed order (by directory)
// so that two moves in opposite directions cannot deadlock, and returns
// the unlock function.
func lockPair(a, b *Folder) (unlock func()) {
	first, second := a, b
	if b.dir < a.dir {
		first, second = b, a
	}
	first.mu.Lock()
	second.mu.Lock()
	return func() {
		second.mu.unlockQuiet()
		first.mu.unlockQuiet()
		// Both released: dest's EventNew first, then a's EventExpunge.
		deliverAll([]*Folder{b, a})
	}
}

// moveInLocked renames src (a message of another folder on the same
// file system) into the folder with flags, keeping its base unless a
// stale record in this folder's uidlist lists that base (it was here
// before): then it takes a new base, so that no UID is ever reused. The
// new UID is assigned under the dotlock, taken before the rename; the
// directory is fsynced and EventNew published. On failure the file is put
// back. f.mu is held.
func (f *Folder) moveInLocked(src, base string, size int64, flags []string, source Source) (Message, error) {
	if err := f.checkLocked(); err != nil {
		return Message{}, err
	}
	fs, err := f.lettersFor(flags)
	if err != nil {
		return Message{}, err
	}
	e := incoming(base, size, fs, len(flags) > 0)
	lock, err := f.lockFreshLocked()
	if err != nil {
		return Message{}, err
	}
	defer lock.Release()
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
	e.uid = f.ul.hdr.Next
	if err := f.appendUIDListLocked([]dovecot.UIDRecord{{UID: e.uid, Base: e.base, VSize: -1}}, true); err != nil {
		return fail(err)
	}
	// Adds numbered before are covered by that fsync; they are shown
	// first, so that UIDs appear in order.
	if err := f.flushPendingLocked(false); err != nil {
		return fail(err)
	}
	return f.addedLocked(e, size, source), nil
}

// renamedBase returns a new base for a file whose base old is taken:
// fresh, with old's S= and W= sizes.
func renamedBase(fresh, old string) string {
	fn := dovecot.ParseFileName(old)
	if fn.Size >= 0 && fn.VSize >= 0 {
		return dovecot.WithSizes(fresh, fn.Size, fn.VSize)
	}
	return fresh
}
