package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"

	"postern/maildir/dovecot"
)

// uidState is what a Folder knows of its dovecot-uidlist file. It is
// guarded by the Folder's mutex; the file itself by the dotlock.
type uidState struct {
	hdr   dovecot.UIDHeader
	known map[string]uint32 // base -> UID of every record in the file
	// vsizes holds W ext values of records whose base has no W= field.
	vsizes map[string]int64
	recs   int // records in the file, dead ones included
	ino    uint64
	size   int64 // bytes of the file we have parsed
	torn   bool  // the file needs a rewrite
	// restored holds bases listed only by the last-good copy; a file
	// with such a base makes the uidlist torn (rewritten with it).
	restored map[string]bool
	foreign  bool // the last refresh brought records written by another process
}

// uidListPath returns the path of the folder's dovecot-uidlist.
func (f *Folder) uidListPath() string { return f.path(dovecot.UIDListFile) }

// takeDotlock takes Dovecot's dotlock on a file of the folder
// (dovecot-uidlist or dovecot-keywords); a full disk is ErrNoSpace.
func (f *Folder) takeDotlock(file string) (*dovecot.Dotlock, error) {
	lock, err := dovecot.TakeDotlock(f.path(file), f.acct.st.lockHost)
	if err != nil {
		return nil, ioErr("maildir", err)
	}
	return lock, nil
}

// lockFreshLocked takes the uidlist dotlock and brings memory up to date
// with what other processes did: their uidlist records, and when there
// are new ones, their files (published as events first, so subscribers
// see UIDs in increasing order). f.mu is held.
func (f *Folder) lockFreshLocked() (*dovecot.Dotlock, error) {
	lock, err := f.takeDotlock(dovecot.UIDListFile)
	if err != nil {
		return nil, err
	}
	if err := f.readUIDsLocked(true); err != nil {
		lock.Release()
		return nil, err
	}
	if f.ul.foreign || f.ul.torn {
		if err := f.scanFilesLocked(true); err != nil {
			lock.Release()
			return nil, err
		}
	}
	return lock, nil
}

// refreshUIDListLocked brings the in-memory view up to date with the file
// when another process changed it: reads appended records, or the whole
// file when it was replaced. The dotlock must be held.
func (f *Folder) refreshUIDListLocked() error {
	u := &f.ul
	u.foreign = false
	st, err := os.Stat(f.uidListPath())
	if err != nil {
		return err
	}
	if inode(st) == u.ino && st.Size() == u.size {
		return nil
	}
	if inode(st) != u.ino || st.Size() < u.size {
		old := u.hdr.Validity
		if err := f.readUIDListLocked(); err != nil {
			return err
		}
		if old != 0 && u.hdr.Validity != old {
			return errValidityChanged
		}
		u.foreign = true // replaced by another process: it may list new files
		return nil
	}
	fh, err := os.Open(f.uidListPath())
	if err != nil {
		return err
	}
	defer fh.Close()
	data := make([]byte, st.Size()-u.size)
	if _, err := fh.ReadAt(data, u.size); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("maildir: read uidlist: %w", err)
	}
	l := &dovecot.UIDList{Header: u.hdr}
	used := l.ParseRecords(data)
	f.mirrorAppend(u.size, data[:used])
	for _, r := range l.Records {
		if _, dup := u.known[r.Base]; !dup {
			u.recs++
		}
		u.known[r.Base] = r.UID
		if r.VSize >= 0 {
			u.vsizes[r.Base] = r.VSize
		}
	}
	if l.Header.Next > u.hdr.Next {
		u.hdr.Next = l.Header.Next
	}
	u.size += int64(used)
	u.foreign = len(l.Records) > 0
	return nil
}

// errValidityChanged: another process recreated the uidlist with a new
// UIDVALIDITY; the folder must be reloaded from scratch.
var errValidityChanged = errors.New("maildir: UIDVALIDITY changed by another process")

// appendUIDListLocked appends records for new messages and, if sync,
// fsyncs the file (else the caller does). The dotlock must be held.
func (f *Folder) appendUIDListLocked(recs []dovecot.UIDRecord, sync bool) error {
	if len(recs) == 0 {
		return nil
	}
	var b []byte
	for _, r := range recs {
		b = dovecot.AppendRecord(b, r)
	}
	fh, err := os.OpenFile(f.uidListPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return ioErr("maildir: append uidlist", err)
	}
	defer fh.Close()
	if _, err := fh.Write(b); err != nil {
		return ioErr("maildir: append uidlist", err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			return ioErr("maildir: fsync uidlist", err)
		}
	}
	u := &f.ul
	f.mirrorAppend(u.size, b)
	for _, r := range recs {
		u.known[r.Base] = r.UID
		if r.VSize >= 0 && dovecot.ParseFileName(r.Base).VSize < 0 {
			u.vsizes[r.Base] = r.VSize
		}
		if r.UID >= u.hdr.Next {
			u.hdr.Next = r.UID + 1
		}
	}
	u.recs += len(recs)
	u.size += int64(len(b))
	return nil
}

// rewriteUIDListLocked replaces the uidlist with records for the present
// messages, keeping UIDNEXT. The dotlock must be
// held.
func (f *Folder) rewriteUIDListLocked() error {
	u := &f.ul
	l := &dovecot.UIDList{Header: u.hdr}
	l.Header.Version = 3
	keep := make(map[string]uint32, len(f.msgs))
	for i := range f.msgs {
		e := &f.msgs[i]
		keep[e.base] = e.uid
		l.Records = append(l.Records, dovecot.UIDRecord{UID: e.uid, Base: e.base, VSize: f.recVsize(e)})
	}
	sortRecs(l.Records)
	data := l.Format()
	if err := replaceFile(f.uidListPath(), data); err != nil {
		return ioErr("maildir: rewrite uidlist", err)
	}
	f.mirrorFull(data, nil)
	st, err := os.Stat(f.uidListPath())
	if err != nil {
		return ioErr("maildir: rewrite uidlist", err)
	}
	u.known = keep
	vs := map[string]int64{}
	for base := range keep {
		if v, ok := u.vsizes[base]; ok {
			vs[base] = v
		}
	}
	u.vsizes = vs
	u.recs = len(l.Records)
	u.ino = inode(st)
	u.size = int64(len(data))
	u.torn = false
	u.restored = nil
	return nil
}

// recVsize returns the W value to record for e: its size when the file
// name does not carry W=.
func (f *Folder) recVsize(e *entry) int64 {
	if dovecot.ParseFileName(e.base).VSize >= 0 {
		return -1
	}
	return e.vsize
}

// needsCompaction reports whether the uidlist holds so many records of
// gone messages that it should be rewritten.
func (f *Folder) needsCompaction() bool {
	dead := f.ul.recs - len(f.msgs)
	return f.ul.torn || (dead > compactMinDead && dead > len(f.msgs)/2)
}

// compactMinDead is the number of records of gone messages below which
// the uidlist is never rewritten just to drop them.
const compactMinDead = 1000

// sortRecs sorts uidlist records by UID.
func sortRecs(recs []dovecot.UIDRecord) {
	sort.Slice(recs, func(i, j int) bool { return recs[i].UID < recs[j].UID })
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

// inode returns the inode number of a FileInfo.
func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
