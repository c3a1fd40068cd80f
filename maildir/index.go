package maildir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"time"

	"postern/maildir/dovecot"
)

// indexFile is a snapshot of a folder's in-memory state (UID map,
// file names, sizes, internal dates), written when the store closes, so
// that the next process opens a large folder without listing new/ and
// cur/ or parsing dovecot-uidlist. It is used only when new/, cur/ and
// dovecot-uidlist are exactly as they were when the snapshot was taken
// (modification times to the nanosecond, uidlist size and inode), and
// when the directories had not changed in the second before that scan,
// so that a change within the same clock tick cannot go unnoticed (the
// rule Dovecot uses for its own maildir index). Otherwise the folder is
// scanned as usual. The file ends with a CRC-32C of everything before
// it; a torn or garbled snapshot is ignored. It is a cache: written
// without fsync, by rename.
//
//	"PSTNIX1\n"
//	stamps: new/ mtime, cur/ mtime, uidlist mtime (Unix ns, i64), uidlist size (i64), inode (u64), scan time (i64)
//	uidlist: version, UIDVALIDITY, UIDNEXT, records (u32), GUID, extra header fields (str)
//	messages (u32 count): uid u32, in new/ u8, vsize i64, date i64, base str, info str
//	dead records (u32 count): uid u32, base str
//	W sizes of records (u32 count): base str, vsize i64
//	CRC-32C (u32)
//
// Integers are little-endian; a str is a u32 length and the bytes.
const indexFile = "postern-index"

// ixMagic starts the index file.
const ixMagic = "PSTNIX1\n"

// dirtyWindow: a directory modified less than this before a scan may
// change again within the same timestamp tick, so a snapshot of that scan
// is not trusted (Dovecot's MAILDIR_SYNC_SECS; a variable for tests).
var dirtyWindow = time.Second

// ixWriter builds the index file.
type ixWriter struct{ b []byte }

func (w *ixWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *ixWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *ixWriter) i64(v int64)  { w.b = binary.LittleEndian.AppendUint64(w.b, uint64(v)) }
func (w *ixWriter) str(s string) { w.u32(uint32(len(s))); w.b = append(w.b, s...) }

// ixReader decodes the index file; any out-of-bounds read sets bad.
type ixReader struct {
	s   string // the whole file: strings are slices of it (one allocation)
	off int
	bad bool
}

func (r *ixReader) take(n int) string {
	if r.bad || n < 0 || len(r.s)-r.off < n {
		r.bad = true
		return ""
	}
	v := r.s[r.off : r.off+n]
	r.off += n
	return v
}

func (r *ixReader) u8() uint8 {
	if v := r.take(1); v != "" {
		return v[0]
	}
	return 0
}

func (r *ixReader) u32() uint32 {
	v := r.take(4)
	if r.bad {
		return 0
	}
	return uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24
}

func (r *ixReader) i64() int64 {
	lo := uint64(r.u32())
	hi := uint64(r.u32())
	return int64(lo | hi<<32)
}

func (r *ixReader) str() string { return r.take(int(r.u32())) }

// count reads a count of items of at least min bytes each, refusing one
// the rest of the file cannot hold (a garbled count must not allocate).
func (r *ixReader) count(min int) int {
	n := int(r.u32())
	if r.bad || n > (len(r.s)-r.off)/min {
		r.bad = true
		return 0
	}
	return n
}

// ixStamps is what the snapshot must match.
type ixStamps struct {
	newMod, curMod, ulMod int64
	ulSize                int64
	ulIno                 uint64
	scanAt                int64
}

// stampsOf returns the stamps of a watch state taken at scanAt.
func stampsOf(w watchState, scanAt time.Time) ixStamps {
	return ixStamps{
		newMod: w.newMod.UnixNano(), curMod: w.curMod.UnixNano(), ulMod: w.ulMod.UnixNano(),
		ulSize: w.ulSize, ulIno: w.ulIno, scanAt: scanAt.UnixNano(),
	}
}

// trusted reports whether a scan with these stamps may stand for the
// directories until they change: neither changed in the dirty window
// before the scan.
func (s ixStamps) trusted() bool {
	limit := s.scanAt - int64(dirtyWindow)
	return s.newMod < limit && s.curMod < limit
}

// sameDisk reports whether the directories and uidlist are as stamped.
func (s ixStamps) sameDisk(o ixStamps) bool {
	return s.newMod == o.newMod && s.curMod == o.curMod && s.ulMod == o.ulMod &&
		s.ulSize == o.ulSize && s.ulIno == o.ulIno
}

// encodeIndexLocked returns the index file for the folder's state as of
// the scan stamped st. f.mu is held.
func (f *Folder) encodeIndexLocked(st ixStamps) []byte {
	w := &ixWriter{b: make([]byte, 0, 128+len(f.msgs)*96)}
	w.b = append(w.b, ixMagic...)
	for _, v := range []int64{st.newMod, st.curMod, st.ulMod, st.ulSize, int64(st.ulIno), st.scanAt} {
		w.i64(v)
	}
	u := &f.ul
	w.u32(uint32(u.hdr.Version))
	w.u32(u.hdr.Validity)
	w.u32(u.hdr.Next)
	w.u32(uint32(u.recs))
	w.str(u.hdr.GUID)
	w.str(u.hdr.Extra)
	w.u32(uint32(len(f.msgs)))
	live := make(map[string]bool, len(f.msgs))
	for i := range f.msgs {
		e := &f.msgs[i]
		live[e.base] = true
		w.u32(e.uid)
		var inNew uint8
		if e.inNew {
			inNew = 1
		}
		w.u8(inNew)
		w.i64(e.vsize)
		w.i64(e.date)
		w.str(e.base)
		w.str(e.info)
	}
	var dead int
	for base := range u.known {
		if !live[base] {
			dead++
		}
	}
	w.u32(uint32(dead))
	for base, uid := range u.known {
		if !live[base] {
			w.u32(uid)
			w.str(base)
		}
	}
	w.u32(uint32(len(u.vsizes)))
	for base, v := range u.vsizes {
		w.str(base)
		w.i64(v)
	}
	w.u32(crc32.Checksum(w.b, crcTable))
	return w.b
}

// errIndexStale: the snapshot does not describe the folder as it is.
var errIndexStale = errors.New("maildir: index does not match the folder")

// loadIndexLocked fills the folder from its index when the index
// matches the disk as now stamped (w); it returns errIndexStale or a
// decoding error otherwise, leaving the folder untouched. f.mu is held.
func (f *Folder) loadIndexLocked(w watchState) error {
	data, err := os.ReadFile(f.path(indexFile))
	if err != nil {
		return err
	}
	st, ul, msgs, err := decodeIndex(data)
	if err != nil {
		return err
	}
	if !st.trusted() || !st.sameDisk(stampsOf(w, time.Time{})) {
		return errIndexStale
	}
	ul.ino, ul.size = w.ulIno, w.ulSize
	f.ul, f.msgs, f.watch, f.watchAt = ul, msgs, w, time.Unix(0, st.scanAt)
	f.indexed = st
	return nil
}

// decodeIndex parses an index file.
func decodeIndex(data []byte) (ixStamps, uidState, []entry, error) {
	var ul uidState
	if len(data) < len(ixMagic)+4 || string(data[:len(ixMagic)]) != ixMagic {
		return ixStamps{}, ul, nil, fmt.Errorf("maildir: index: bad magic")
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return ixStamps{}, ul, nil, fmt.Errorf("maildir: index: bad checksum")
	}
	r := &ixReader{s: string(body), off: len(ixMagic)}
	st := ixStamps{newMod: r.i64(), curMod: r.i64(), ulMod: r.i64(), ulSize: r.i64(), ulIno: uint64(r.i64()), scanAt: r.i64()}
	ul.hdr.Version = int(r.u32())
	ul.hdr.Validity = r.u32()
	ul.hdr.Next = r.u32()
	ul.recs = int(r.u32())
	ul.hdr.GUID = r.str()
	ul.hdr.Extra = r.str()
	n := r.count(4 + 1 + 8 + 8 + 4 + 4)
	msgs := make([]entry, n, n+n/8)
	ul.known = make(map[string]uint32, n)
	var last uint32
	for i := range msgs {
		e := &msgs[i]
		e.uid = r.u32()
		e.inNew = r.u8() == 1
		e.recent = e.inNew
		e.vsize = r.i64()
		e.date = r.i64()
		e.base = r.str()
		e.info = r.str()
		if r.bad || e.uid <= last || e.base == "" {
			return st, ul, nil, fmt.Errorf("maildir: index: bad message record %d", i)
		}
		last = e.uid
		e.fl = dovecot.ParseInfo(e.info)
		ul.known[e.base] = e.uid
	}
	for i, nd := 0, r.count(4+4); i < nd; i++ {
		uid := r.u32()
		ul.known[r.str()] = uid
	}
	nv := r.count(4 + 8)
	ul.vsizes = make(map[string]int64, nv)
	for i := 0; i < nv; i++ {
		base := r.str()
		ul.vsizes[base] = r.i64()
	}
	if r.bad || r.off != len(r.s) || ul.hdr.Validity == 0 || ul.hdr.Next <= last {
		return st, ul, nil, fmt.Errorf("maildir: index: bad content")
	}
	return st, ul, msgs, nil
}

// saveIndex writes the folder's index if the folder changed since the
// index was last read or written, first catching up with the disk. The
// index is not written when a directory changed within the dirty window
// before the scan: it could not be trusted.
func (f *Folder) saveIndex() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone || f.ul.known == nil {
		return nil
	}
	w, err := f.statWatch()
	if err != nil {
		return err
	}
	if w != f.watch {
		if err := f.syncLocked(true); err != nil {
			return err
		}
	}
	st := stampsOf(f.watch, f.watchAt)
	if !st.trusted() || st == f.indexed || f.ul.torn {
		return nil
	}
	if err := replaceCache(f.path(indexFile), f.encodeIndexLocked(st)); err != nil {
		return fmt.Errorf("maildir: write index: %w", err)
	}
	f.indexed = st
	return nil
}

// saveIndexes writes the index of every folder loaded in this process.
// Failures are logged: an index is only a cache.
func (s *Store) saveIndexes() {
	s.mu.Lock()
	accts := make([]*Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accts = append(accts, a)
	}
	s.mu.Unlock()
	for _, a := range accts {
		for _, f := range a.openFolders() {
			if err := f.saveIndex(); err != nil {
				s.log.Warn("folder index not written", "user", a.user, "folder", f.name, "err", err)
			}
		}
	}
}
