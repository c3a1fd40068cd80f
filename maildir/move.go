package maildir

import (
	"errors"
	"os"
	"syscall"
	"time"

	"postern/maildir/durable"
)

// copyTo copies messages into dest by hard links. A source file renamed
// meanwhile by another process (a flag change) is found by a rescan.
func (f *Folder) copyTo(uids []uint32, dest *Folder, source any) (src, dst []uint32, err error) {
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
func (f *Folder) copyOne(uid uint32, dest *Folder, source any) (Message, error) {
	e, err := f.entryFor(uid)
	if err != nil {
		return Message{}, err
	}
	f.mu.Lock()
	flags := e.fl.names(f.kws)
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
// Subscribers see EventNew in dest, then one EventExpunge in f. Across
// file systems (or into f itself) it copies and expunges instead.
func (f *Folder) Move(uids []uint32, dest *Folder, source any) (src, dst []uint32, err error) {
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
		m, err = dest.moveInLocked(f.path(e.name()), e.base, e.vsize, e.fl.names(f.kws), source)
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
func (f *Folder) copyExpunge(uids []uint32, dest *Folder, source any) (src, dst []uint32, err error) {
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
