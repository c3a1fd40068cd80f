package maildir

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"postern/maildir/dovecot"
)

// tmpMaxAge is how old a file in tmp/ must be to be removed at start: a
// delivery never takes that long (the Maildir specification's 36 hours).
const tmpMaxAge = 36 * time.Hour

// watchState is what the watcher last saw of the folder's directories.
type watchState struct {
	newMod, curMod time.Time
	ulMod          time.Time
	ulSize         int64
	ulIno          uint64
}

// fileRef is a message file found by a directory scan.
type fileRef struct {
	inNew bool
	info  string
}

// load reads the folder for the first time: uidlist, keywords, files.
func (f *Folder) load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := makeMaildir(f.dir, f.name != inboxName); err != nil {
		return fmt.Errorf("maildir: folder %q: %w", f.name, err)
	}
	f.cleanTmp()
	f.cleanLockTemps()
	if err := f.loadKeywordsLocked(); err != nil {
		return err
	}
	if w, err := f.statWatch(); err == nil {
		err := f.loadIndexLocked(w)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errIndexStale) {
			f.acct.st.log.Warn("folder index unusable, scanning", "user", f.acct.user, "folder", f.name, "err", err)
		}
	}
	return f.syncLocked(false)
}

// cleanTmp removes files older than tmpMaxAge from tmp/.
func (f *Folder) cleanTmp() {
	ents, err := os.ReadDir(f.path("tmp"))
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-tmpMaxAge)
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || info.IsDir() || info.ModTime().After(cutoff) {
			continue
		}
		if err := os.Remove(f.path("tmp/" + e.Name())); err == nil {
			f.acct.st.log.Info("removed stale temporary file", "user", f.acct.user, "folder", f.name, "file", e.Name())
		}
	}
}

// Rescan picks up changes made by other processes: new, removed and
// renamed files, and dovecot-uidlist records. Changes are published as
// events. The watcher calls it when a directory changes.
func (f *Folder) Rescan() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	return f.syncLocked(true)
}

// rescanIfChanged rescans when new/, cur/ or the uidlist changed since
// the last scan.
func (f *Folder) rescanIfChanged() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return nil
	}
	w, err := f.statWatch()
	if err != nil {
		return err
	}
	dirs := dirSet{
		new: w.newMod != f.watch.newMod || f.dirtyLocked(f.watch.newMod),
		cur: w.curMod != f.watch.curMod || f.dirtyLocked(f.watch.curMod),
	}
	if !dirs.new && !dirs.cur && w == f.watch {
		return nil
	}
	return f.syncDirsLocked(true, dirs)
}

// dirSet says which of new/ and cur/ a scan lists.
type dirSet struct{ new, cur bool }

// has reports whether the set holds new/ (inNew) or cur/ (!inNew).
func (d dirSet) has(inNew bool) bool {
	if inNew {
		return d.new
	}
	return d.cur
}

// bothDirs lists new/ and cur/.
var bothDirs = dirSet{new: true, cur: true}

// dirtyLocked reports whether a directory with modification time mod at
// the last scan may have changed since without its time changing: it
// was modified within the same timestamp tick window before that scan.
func (f *Folder) dirtyLocked(mod time.Time) bool {
	return !mod.Before(f.watchAt.Add(-dirtyWindow))
}

// statWatch stats what the watcher looks at.
func (f *Folder) statWatch() (watchState, error) {
	var w watchState
	st, err := os.Stat(f.path("new"))
	if err != nil {
		return w, ioErr("maildir: stat new", err)
	}
	w.newMod = st.ModTime()
	if st, err = os.Stat(f.path("cur")); err != nil {
		return w, ioErr("maildir: stat cur", err)
	}
	w.curMod = st.ModTime()
	if st, err = os.Stat(f.uidListPath()); err == nil {
		w.ulMod, w.ulSize, w.ulIno = st.ModTime(), st.Size(), inode(st)
	}
	return w, nil
}

// syncLocked makes memory agree with the disk under the dotlock: read
// the uidlist (rebuilding it if lost or torn), list new/ and cur/, give
// UIDs to files that have none, and publish the differences if publish.
func (f *Folder) syncLocked(publish bool) error {
	return f.syncDirsLocked(publish, bothDirs)
}

// syncDirsLocked is syncLocked listing only the directories in dirs
// (both when the uidlist turned out torn or the folder was reset): the
// watcher's rescan of a large folder after a delivery lists new/ only.
func (f *Folder) syncDirsLocked(publish bool, dirs dirSet) error {
	at := time.Now()
	w, err := f.statWatch()
	if err != nil {
		return err
	}
	lock, err := f.takeDotlock(dovecot.UIDListFile)
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := f.readUIDsLocked(publish); err != nil {
		return err
	}
	if f.ul.torn || len(f.msgs) == 0 || f.ul.foreign {
		// Another process numbered files: some may be in the directory
		// that did not seem to change (its change came after the
		// watcher's stat), and a UID of the listed one must not be shown
		// before theirs.
		dirs = bothDirs
	}
	if err := f.scanDirsLocked(publish, dirs); err != nil {
		return err
	}
	f.watch, f.watchAt = w, at
	return nil
}

// readUIDsLocked reads the uidlist the first time, or what other
// processes changed in it since. A lost or broken file is rebuilt (and
// marked torn, to be rewritten by scanFilesLocked). The dotlock is held.
func (f *Folder) readUIDsLocked(publish bool) error {
	if f.ul.known == nil {
		if err := f.readUIDListLocked(); err != nil {
			return fmt.Errorf("maildir: folder %q: %w", f.name, err)
		}
		return nil
	}
	switch err := f.refreshUIDListLocked(); {
	case err == nil:
	case errors.Is(err, errValidityChanged):
		f.resetLocked(publish)
	case errors.Is(err, os.ErrNotExist):
		// Lost or broken under us: write it again from memory.
		f.ul.torn = true
	default:
		return fmt.Errorf("maildir: folder %q: %w", f.name, err)
	}
	return nil
}

// scanFilesLocked lists new/ and cur/, applies what changed, gives UIDs
// to files without one and rewrites the uidlist when it is torn or
// mostly dead records. The dotlock is held.
func (f *Folder) scanFilesLocked(publish bool) error {
	return f.scanDirsLocked(publish, bothDirs)
}

// scanDirsLocked is scanFilesLocked listing only the directories in
// dirs; messages in the other one are taken as unchanged.
func (f *Folder) scanDirsLocked(publish bool, dirs dirSet) error {
	if err := f.refreshKeywordsLocked(publish); err != nil {
		return err
	}
	if publish {
		// Adds numbered here and not shown yet go first, durable.
		if err := f.flushPendingLocked(true); err != nil {
			return err
		}
	}
	files, stable, err := f.listFilesLocked(dirs)
	if err != nil {
		return err
	}
	f.applyScanLocked(files, publish, stable, dirs)
	if err := f.assignLocked(files, publish); err != nil {
		return err
	}
	if f.needsCompaction() {
		return f.rewriteUIDListLocked()
	}
	return nil
}

// resetLocked forgets every message after the uidlist was recreated with
// a new UIDVALIDITY by another process.
func (f *Folder) resetLocked(publish bool) {
	os.Remove(f.path(datesFile))
	if publish {
		for _, e := range f.msgs {
			f.publishLocked(Event{Kind: EventExpunge, Message: Message{UID: e.uid, Key: e.base}})
		}
	}
	f.msgs = nil
}

// listFilesLocked lists the message files of the directories in dirs
// (see listOnceLocked). readdir can miss a file renamed while the
// directory is read (another process changing its flags), and the
// directory's time does not tell when it changed twice in one timestamp
// tick; so when a known message seems gone, the directories are listed
// again and a message is missing only when both listings miss it.
// Otherwise it would come back later as new, after higher UIDs.
func (f *Folder) listFilesLocked(dirs dirSet) (files map[string]fileRef, stable bool, err error) {
	files, stable, err = f.listOnceLocked(dirs)
	if err != nil || !f.seemsGoneLocked(files, dirs) {
		return files, stable, err
	}
	again, stable2, err := f.listOnceLocked(dirs)
	if err != nil {
		return nil, false, err
	}
	maps.Copy(files, again)
	return files, stable && stable2, nil
}

// listOnceLocked lists the message files of new/ and cur/, leaving out
// dot files and deliveries in progress. A base in both keeps cur/.
//
// new/ is read before cur/ because files only move from new/ to cur/. A
// file renamed while its directory is read (another process changing its
// flags) may be missed by readdir, so a directory whose mtime changed
// during the read is read again and the listings are taken together: a
// race never shows as an expunge, or as a message appearing late with a
// UID below one already shown. When a directory kept changing through
// every attempt, stable is false and the caller must not take a missing
// file for an expunge.
func (f *Folder) listOnceLocked(dirs dirSet) (files map[string]fileRef, stable bool, err error) {
	size := 16
	if dirs.cur {
		size += len(f.msgs)
	}
	files = make(map[string]fileRef, size)
	stable = true
	for _, sub := range []string{"new", "cur"} {
		if !dirs.has(sub == "new") {
			continue
		}
		for attempt := 0; ; attempt++ {
			before, err := os.Stat(f.path(sub))
			if err != nil {
				return nil, false, ioErr("maildir: list "+sub, err)
			}
			if err := f.readDirInto(files, sub); err != nil {
				return nil, false, err
			}
			after, err := os.Stat(f.path(sub))
			if err != nil {
				return nil, false, ioErr("maildir: list "+sub, err)
			}
			if after.ModTime().Equal(before.ModTime()) {
				break
			}
			if attempt == maxListAttempts {
				stable = false
				break
			}
		}
	}
	return files, stable, nil
}

// seemsGoneLocked reports whether a known message of a listed directory
// is missing from files.
func (f *Folder) seemsGoneLocked(files map[string]fileRef, dirs dirSet) bool {
	for i := range f.msgs {
		e := &f.msgs[i]
		if !dirs.has(e.inNew) {
			continue
		}
		if _, ok := files[e.base]; !ok {
			return true
		}
	}
	return false
}

// maxListAttempts bounds the re-reads of a directory that keeps changing.
const maxListAttempts = 5

// readDirInto adds the message files of new/ or cur/ to files.
func (f *Folder) readDirInto(files map[string]fileRef, sub string) error {
	d, err := os.Open(f.path(sub))
	if err != nil {
		return ioErr("maildir: list "+sub, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return ioErr("maildir: list "+sub, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			continue
		}
		base, info := dovecot.SplitName(n)
		files[base] = fileRef{inNew: sub == "new", info: info}
	}
	return nil
}

// applyScanLocked updates known messages from a scan: gone files become
// expunges, renamed ones flag changes. Matched files are removed from
// files, so what is left is new. A missing file is an expunge only when
// the listing was stable; otherwise the next scan decides. Messages in a
// directory that was not listed are left as they are.
func (f *Folder) applyScanLocked(files map[string]fileRef, publish, stable bool, dirs dirSet) {
	gone := map[uint32]bool{}
	var events []Event
	for i := range f.msgs {
		e := &f.msgs[i]
		if !dirs.has(e.inNew) {
			continue
		}
		fr, ok := files[e.base]
		if !ok && !stable {
			continue
		}
		if !ok {
			gone[e.uid] = true
			events = append(events, Event{Kind: EventExpunge, Message: Message{UID: e.uid, Key: e.base}})
			continue
		}
		delete(files, e.base)
		if fr.inNew == e.inNew && fr.info == e.info {
			continue
		}
		oldFl := e.fl
		e.inNew, e.info = fr.inNew, fr.info
		e.fl = dovecot.ParseInfo(fr.info)
		if e.fl != oldFl {
			events = append(events, Event{Kind: EventFlags, Message: f.message(e)})
		}
	}
	if len(gone) > 0 {
		var b int64
		for _, e := range f.msgs {
			if gone[e.uid] {
				b += e.vsize
			}
		}
		f.removeLocked(gone)
		f.acct.quota.add(-b, -int64(len(gone)))
	}
	if publish {
		for _, ev := range events {
			f.publishLocked(ev)
		}
	}
}

// assignLocked adds the files left in files: with the UID the uidlist
// gives them, or a new one appended to the uidlist.
func (f *Folder) assignLocked(files map[string]fileRef, publish bool) error {
	if len(files) == 0 {
		return nil
	}
	type newFile struct {
		base string
		fr   fileRef
		fn   dovecot.FileName
		uid  uint32 // from the uidlist, 0 if unlisted
	}
	listed := make([]newFile, 0, len(files))
	var unlisted []newFile
	for base, fr := range files {
		nf := newFile{base, fr, dovecot.ParseFileName(base), f.ul.known[base]}
		if nf.uid != 0 {
			listed = append(listed, nf)
		} else {
			unlisted = append(unlisted, nf)
		}
	}
	// Files without a UID get them in delivery order, as Dovecot does.
	sort.Slice(unlisted, func(i, j int) bool {
		a, b := unlisted[i], unlisted[j]
		if a.fn.Sec != b.fn.Sec {
			return a.fn.Sec < b.fn.Sec
		}
		return a.base < b.base
	})
	var recs []dovecot.UIDRecord
	added := make([]entry, 0, len(files))
	var addBytes int64
	var cached dateList
	cachedLines := 0
	if len(files) >= bigScan {
		cached, cachedLines = f.readDatesLocked()
	}
	var stated []entry
	mk := func(nf newFile, uid uint32) entry {
		e := entry{uid: uid, inNew: nf.fr.inNew, recent: nf.fr.inNew, base: nf.base, info: nf.fr.info, vsize: nf.fn.VSize}
		e.fl = dovecot.ParseInfo(nf.fr.info)
		if e.vsize < 0 {
			if v, ok := f.ul.vsizes[nf.base]; ok {
				e.vsize = v
			} else {
				e.vsize = f.measure(e.name())
			}
		}
		// The internal date is the file's modification time, as in
		// Dovecot (cached by UID); the name's time only when the file
		// cannot be read.
		if d, ok := cached.find(uid); ok {
			e.date = d
		} else if st, err := os.Stat(f.path(e.name())); err == nil {
			e.date = st.ModTime().Unix()
			stated = append(stated, e)
		} else {
			e.date = nf.fn.Sec
		}
		return e
	}
	for _, nf := range listed {
		if f.ul.restored[nf.base] {
			// Listed only by the last-good copy: the file must get it back.
			f.ul.torn = true
		}
		added = append(added, mk(nf, nf.uid))
	}
	for _, nf := range unlisted {
		uid := f.ul.hdr.Next
		f.ul.hdr.Next++
		e := mk(nf, uid)
		added = append(added, e)
		recs = append(recs, dovecot.UIDRecord{UID: uid, Base: nf.base, VSize: f.recVsize(&e)})
	}
	if !f.ul.torn && f.ul.known != nil {
		if err := f.appendUIDListLocked(recs, true); err != nil {
			return err
		}
	} else {
		for _, r := range recs {
			f.ul.known[r.Base] = r.UID
		}
	}
	slices.SortFunc(added, func(a, b entry) int { return cmp.Compare(a.uid, b.uid) })
	if len(f.msgs) == 0 {
		f.msgs = make([]entry, 0, len(added)+len(added)/8)
	}
	for _, e := range added {
		f.insertLocked(e)
		addBytes += e.vsize
	}
	if cachedLines > 2*len(f.msgs)+compactMinDead || (cached == nil && len(stated) >= bigScan) {
		f.rewriteDatesLocked()
	} else {
		f.cacheDatesLocked(stated)
	}
	if publish {
		f.markScannedLocked(added)
		for i := range added {
			f.publishLocked(Event{Kind: EventNew, Message: f.message(&added[i]), Source: f.adding[added[i].base]})
		}
		f.acct.quota.add(addBytes, int64(len(added)))
	}
	return nil
}

// measure returns the RFC822.SIZE of a file: its size plus one for each
// bare LF. Unreadable files count as 0.
func (f *Folder) measure(rel string) int64 {
	fh, err := os.Open(f.path(rel))
	if err != nil {
		return 0
	}
	defer fh.Close()
	cr := dovecot.NewCRLFReader(fh)
	defer cr.Release()
	n, _ := io.Copy(io.Discard, cr)
	return n
}
