package maildir

import (
	"bytes"
	"errors"
	"io"
	"os"

	"postern/maildir/dovecot"
)

// goodCopyFile is Postern's copy of the last dovecot-uidlist it read or
// wrote whole, kept up to date by appending the same records (without
// fsync: the real file is fsynced). When another program deletes,
// truncates or overwrites dovecot-uidlist, the copy still holds every UID
// the folder had, and its UIDVALIDITY.
const goodCopyFile = "dovecot-uidlist.postern-good"

// goodCopyPath returns the path of the folder's last-good uidlist copy.
func (f *Folder) goodCopyPath() string { return f.path(goodCopyFile) }

// readUIDListLocked reads the whole uidlist into f.ul. A missing, torn or
// garbled file is rebuilt from what still parses in it and in the
// last-good copy: every UID either lists is kept, UIDNEXT is above all of
// them, and UIDVALIDITY comes from whichever header is readable (memory,
// then a new one only when the folder has none). The state is then marked
// torn so that the caller rewrites the file. The dotlock must be held.
func (f *Folder) readUIDListLocked() error {
	data, ino, err := readWithInode(f.uidListPath())
	missing := errors.Is(err, os.ErrNotExist)
	if err != nil && !missing {
		return ioErr("maildir: read uidlist", err)
	}
	l, hdrOK := dovecot.SalvageUIDList(data)
	damaged := !hdrOK || l.Torn
	var restored map[string]bool
	good, gerr := os.ReadFile(f.goodCopyPath())
	if gerr == nil && len(good) > 0 && !bytes.HasPrefix(data, good) {
		g, gOK := dovecot.SalvageUIDList(good)
		switch {
		case !hdrOK && gOK:
			l.Header, hdrOK = g.Header, true
			restored = mergeRecs(l, g)
		case hdrOK && gOK && g.Header.Validity == l.Header.Validity:
			// The same folder: records missing from the file come back.
			// After a truncation their files are there (and the scan
			// rewrites the file); after a rewrite by Dovecot that
			// dropped records of expunged messages, they are not.
			restored = mergeRecs(l, g)
		}
	}
	fresh := missing && gerr != nil
	if !hdrOK {
		keepNext := l.Header.Next
		if f.ul.hdr.Validity != 0 {
			l.Header = f.ul.hdr
		} else {
			l.Header = dovecot.NewUIDHeader()
		}
		l.Header.Next = max(l.Header.Next, keepNext)
	}
	for _, r := range l.Records {
		l.Header.Next = max(l.Header.Next, r.UID+1)
	}
	if damaged && !fresh {
		f.acct.st.log.Warn("rebuilding dovecot-uidlist", "user", f.acct.user, "folder", f.name,
			"missing", missing, "header_ok", hdrOK, "records_kept", len(l.Records),
			"uidvalidity", l.Header.Validity, "uidnext", l.Header.Next)
	}
	u := &f.ul
	u.hdr = l.Header
	u.known = make(map[string]uint32, len(l.Records))
	u.vsizes = map[string]int64{}
	for _, r := range l.Records {
		u.known[r.Base] = r.UID
		if r.VSize >= 0 {
			u.vsizes[r.Base] = r.VSize
		}
	}
	u.recs = len(l.Records)
	u.ino, u.size = ino, int64(len(data))
	u.torn = damaged || missing
	u.restored = restored
	u.foreign = true
	if !u.torn {
		f.mirrorFull(data, good)
	}
	return nil
}

// readWithInode reads a file and returns its inode number.
func readWithInode(path string) ([]byte, uint64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(fh)
	return data, inode(st), err
}

// mergeRecs adds to l the records of g whose base and UID l does not
// have, and returns the bases it added.
func mergeRecs(l, g *dovecot.UIDList) map[string]bool {
	bases := make(map[string]bool, len(l.Records))
	uids := make(map[uint32]bool, len(l.Records))
	for _, r := range l.Records {
		bases[r.Base], uids[r.UID] = true, true
	}
	var added map[string]bool
	for _, r := range g.Records {
		if bases[r.Base] || uids[r.UID] {
			continue
		}
		l.Records = append(l.Records, r)
		bases[r.Base], uids[r.UID] = true, true
		if added == nil {
			added = map[string]bool{}
		}
		added[r.Base] = true
	}
	if added != nil {
		sortRecs(l.Records)
	}
	return added
}

// mirrorFull makes the last-good copy equal data; old is its current
// content (nil when unknown), so that a copy that is a prefix of data only
// gets the rest appended. Errors are logged: the copy is a safety net.
func (f *Folder) mirrorFull(data, old []byte) {
	if old != nil && bytes.HasPrefix(data, old) {
		if len(old) < len(data) {
			f.mirrorAppend(int64(len(old)), data[len(old):])
		}
		return
	}
	if err := replaceCache(f.goodCopyPath(), data); err != nil {
		f.acct.st.log.Warn("writing the uidlist copy", "user", f.acct.user, "folder", f.name, "err", err)
	}
}

// mirrorAppend appends b to the last-good copy when the copy holds
// exactly the at bytes before it; otherwise it copies the whole uidlist.
func (f *Folder) mirrorAppend(at int64, b []byte) {
	if len(b) == 0 {
		return
	}
	fh, err := os.OpenFile(f.goodCopyPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		st, serr := fh.Stat()
		if serr == nil && st.Size() == at {
			_, err = fh.Write(b)
			fh.Close()
			if err == nil {
				return
			}
		} else {
			fh.Close()
		}
	}
	if data, err := os.ReadFile(f.uidListPath()); err == nil {
		f.mirrorFull(data, nil)
	}
}
