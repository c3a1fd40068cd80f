package maildir

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sort"
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
	l, hdrOK := salvageUIDList(data)
	damaged := !hdrOK || l.torn
	var restored map[string]bool
	good, gerr := os.ReadFile(f.goodCopyPath())
	if gerr == nil && len(good) > 0 && !bytes.HasPrefix(data, good) {
		g, gOK := salvageUIDList(good)
		switch {
		case !hdrOK && gOK:
			l.hdr, hdrOK = g.hdr, true
			restored = mergeRecs(l, g)
		case hdrOK && gOK && g.hdr.validity == l.hdr.validity:
			// The same folder: records missing from the file come back.
			// After a truncation their files are there (and the scan
			// rewrites the file); after a rewrite by Dovecot that
			// dropped records of expunged messages, they are not.
			restored = mergeRecs(l, g)
		}
	}
	fresh := missing && gerr != nil
	if !hdrOK {
		keepNext := l.hdr.next
		if f.ul.hdr.validity != 0 {
			l.hdr = f.ul.hdr
		} else {
			l.hdr = newUIDHeader()
		}
		l.hdr.next = max(l.hdr.next, keepNext)
	}
	for _, r := range l.recs {
		l.hdr.next = max(l.hdr.next, r.uid+1)
	}
	if damaged && !fresh {
		f.acct.st.log.Warn("rebuilding dovecot-uidlist", "user", f.acct.user, "folder", f.name,
			"missing", missing, "header_ok", hdrOK, "records_kept", len(l.recs),
			"uidvalidity", l.hdr.validity, "uidnext", l.hdr.next)
	}
	u := &f.ul
	u.hdr = l.hdr
	u.known = make(map[string]uint32, len(l.recs))
	u.vsizes = map[string]int64{}
	for _, r := range l.recs {
		u.known[r.base] = r.uid
		if r.vsize >= 0 {
			u.vsizes[r.base] = r.vsize
		}
	}
	u.recs = len(l.recs)
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

// salvageUIDList parses what is valid in a uidlist: the header (hdrOK
// reports whether it was readable) and every record line that parses.
func salvageUIDList(data []byte) (l *uidList, hdrOK bool) {
	if l, err := parseUIDList(data); err == nil {
		return l, true
	}
	l = &uidList{hdr: uidHeader{version: 3, next: 1}}
	l.parseRecs(data)
	l.torn = true
	return l, false
}

// mergeRecs adds to l the records of g whose base and UID l does not
// have, and returns the bases it added.
func mergeRecs(l, g *uidList) map[string]bool {
	bases := make(map[string]bool, len(l.recs))
	uids := make(map[uint32]bool, len(l.recs))
	for _, r := range l.recs {
		bases[r.base], uids[r.uid] = true, true
	}
	var added map[string]bool
	for _, r := range g.recs {
		if bases[r.base] || uids[r.uid] {
			continue
		}
		l.recs = append(l.recs, r)
		bases[r.base], uids[r.uid] = true, true
		if added == nil {
			added = map[string]bool{}
		}
		added[r.base] = true
	}
	if added != nil {
		sort.Slice(l.recs, func(i, j int) bool { return l.recs[i].uid < l.recs[j].uid })
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
	tmp := f.goodCopyPath() + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, f.goodCopyPath())
	}
	if err != nil {
		os.Remove(tmp)
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
