package maildir

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// headerCacheFile caches, for each message of a folder, the header
// fields IMAP ENVELOPE is made of, so that fetching the envelopes of a
// large folder reads one file instead of one file per message. It lives
// beside dovecot-uidlist (Dovecot ignores it):
//
//	"PSTNHC1\n" <uidvalidity u32> <reserved u32>      (16 bytes)
//	then records: <body length u32> <body> <CRC-32C of body u32>
//	body: <uid u32> <base length u16> <base> <header fields, CRLF, blank line>
//
// Integers are little-endian. A message's header never changes for a
// given UID and base, so a record is valid as long as its UID still
// names a message with that base; records of expunged messages are dead
// and dropped when the file is rewritten. Records are appended on a
// cache miss, without fsync: the cache is rebuilt from the messages
// when it is missing, torn, or for another UIDVALIDITY.
const headerCacheFile = "postern-headers"

// hcMagic starts the header cache file.
const hcMagic = "PSTNHC1\n"

// hcHeaderLen is the size of the file's header.
const hcHeaderLen = 16

// hcMaxRecord bounds a record: envelope fields larger than this (a
// pathological message) are served from the message file each time.
const hcMaxRecord = 64 << 10

// hcMinDead is the number of dead records below which the file is never
// rewritten just to drop them (a variable for tests).
var hcMinDead = 1000

// EnvelopeFields are the header fields IMAP ENVELOPE is built from (RFC
// 9051 section 7.5.2), in the order of its fields, spelled as
// textproto.CanonicalMIMEHeaderKey spells them. They are what
// EnvelopeHeader returns and the header cache keeps; header field names
// compare case-insensitively.
var EnvelopeFields = [...]string{"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-Id"}

// envelopeFieldSet holds EnvelopeFields in lower case.
var envelopeFieldSet = func() map[string]bool {
	m := make(map[string]bool, len(EnvelopeFields))
	for _, k := range EnvelopeFields {
		m[strings.ToLower(k)] = true
	}
	return m
}()

// crcTable is CRC-32C (hardware accelerated on common CPUs).
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// uidBase is a present message: its UID and base, sorted by UID.
type uidBase struct {
	uid  uint32
	base string
}

// liveBase returns the base of uid in live, sorted by UID.
func liveBase(live []uidBase, uid uint32) (string, bool) {
	i, ok := slices.BinarySearchFunc(live, uid, func(x uidBase, t uint32) int { return cmp.Compare(x.uid, t) })
	if !ok {
		return "", false
	}
	return live[i].base, true
}

// hcLoc is where a record is in the file.
type hcLoc struct {
	off int64
	n   uint32 // whole record, length and CRC included
}

// headerCache is a folder's open header cache file. It has its own
// mutex; the folder's may be held while taking it, never the reverse.
type headerCache struct {
	mu       sync.Mutex
	fh       *os.File // nil until first use
	mm       []byte   // the file mapped, up to the records known at mapping time
	mmAll    []byte   // the whole mapping, for munmap
	validity uint32
	end      int64 // end of the last record this process knows
	recs     map[uint32]hcLoc
	total    int // records in the file, dead and superseded ones included
}

// EnvelopeHeader returns the header fields of message uid that IMAP
// ENVELOPE is made of (EnvelopeFields), as a header block with CRLF line ends
// and its blank line. It is served from the folder's header cache; a
// message not cached yet is read and added to it.
func (f *Folder) EnvelopeHeader(uid uint32) ([]byte, error) {
	f.awaitDeferred()
	f.mu.Lock()
	if err := f.checkLocked(); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	i := f.find(uid)
	if i < 0 {
		f.mu.Unlock()
		return nil, fmt.Errorf("maildir: uid %d: %w", uid, ErrNotFound)
	}
	base, validity := f.msgs[i].base, f.ul.hdr.Validity
	var live []uidBase
	if f.hc.needsLoad(validity) {
		live = make([]uidBase, len(f.msgs))
		for j := range f.msgs {
			live[j] = uidBase{f.msgs[j].uid, f.msgs[j].base}
		}
	}
	f.mu.Unlock()

	c := &f.hc
	c.mu.Lock()
	if c.fh == nil || c.validity != validity {
		if live == nil {
			// Loaded or reset meanwhile by another caller for another
			// validity: read without the cache this time.
			c.mu.Unlock()
			return f.envelopeFromFile(uid)
		}
		if err := c.load(f.path(headerCacheFile), validity, live); err != nil {
			c.mu.Unlock()
			f.acct.st.log.Warn("header cache unusable", "user", f.acct.user, "folder", f.name, "err", err)
			return f.envelopeFromFile(uid)
		}
	}
	if hdr, ok := c.lookup(uid, base); ok {
		c.mu.Unlock()
		return hdr, nil
	}
	c.mu.Unlock()

	hdr, err := f.envelopeFromFile(uid)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.fh != nil && c.validity == validity {
		if err := c.add(uid, base, hdr); err != nil {
			f.acct.st.log.Warn("header cache not updated", "user", f.acct.user, "folder", f.name, "err", err)
		}
	}
	c.mu.Unlock()
	return hdr, nil
}

// envelopeFromFile reads the envelope fields of uid from its file.
func (f *Folder) envelopeFromFile(uid uint32) ([]byte, error) {
	h, err := f.Header(uid)
	if err != nil {
		return nil, err
	}
	return envelopeHeader(h), nil
}

// envelopeHeader returns the envelope fields of a header block, with
// their continuation lines, CRLF line ends and a final blank line.
func envelopeHeader(h []byte) []byte {
	out := make([]byte, 0, 512)
	keep := false
	for len(h) > 0 {
		line := h
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			line, h = h[:i+1], h[i+1:]
		} else {
			h = nil
		}
		body := bytes.TrimRight(line, "\r\n")
		if len(body) == 0 {
			break // end of the header
		}
		if body[0] == ' ' || body[0] == '\t' {
			if keep {
				out = append(append(out, body...), '\r', '\n')
			}
			continue
		}
		name, _, ok := bytes.Cut(body, []byte(":"))
		keep = ok && envelopeFieldSet[string(bytes.ToLower(bytes.TrimRight(name, " \t")))]
		if keep {
			out = append(append(out, body...), '\r', '\n')
		}
	}
	return append(out, '\r', '\n')
}

// needsLoad reports whether the cache must be (re)loaded for validity.
func (c *headerCache) needsLoad(validity uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fh == nil || c.validity != validity
}

// load opens the cache file, maps it and indexes its records, starting
// it afresh when it is missing, for another validity or broken at the
// start; a torn tail is cut off. It rewrites the file when most records
// are dead. live lists the present messages. c.mu is held.
func (c *headerCache) load(path string, validity uint32, live []uidBase) error {
	c.close()
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: header cache: %w", err)
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX); err != nil {
		fh.Close()
		return fmt.Errorf("maildir: header cache: lock: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("maildir: header cache: %w", err)
	}
	c.fh, c.validity = fh, validity
	c.recs, c.total, c.end = map[uint32]hcLoc{}, 0, 0
	var data []byte
	if st.Size() >= hcHeaderLen {
		if err := c.remap(st.Size()); err != nil {
			c.close()
			return err
		}
		data = c.mm
	}
	if len(data) < hcHeaderLen || string(data[:len(hcMagic)]) != hcMagic ||
		binary.LittleEndian.Uint32(data[8:]) != validity {
		// Flock released by closing: the new file is another inode.
		return c.restart(path, validity)
	}
	defer syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	end := c.index(data, live)
	if end < int64(len(data)) {
		if err := fh.Truncate(end); err != nil {
			c.close()
			return fmt.Errorf("maildir: header cache: truncate: %w", err)
		}
		c.mm = c.mm[:end] // the pages past end are never touched
	}
	c.end = end
	if dead := c.total - len(c.recs); dead > hcMinDead && dead > len(c.recs) {
		return c.compact(path)
	}
	return nil
}

// close unmaps and closes the file. c.mu is held.
func (c *headerCache) close() {
	if c.mmAll != nil {
		syscall.Munmap(c.mmAll)
	}
	if c.fh != nil {
		c.fh.Close()
	}
	c.fh, c.mm, c.mmAll, c.recs = nil, nil, nil, nil
}

// remap maps the first size bytes of the file. c.mu is held.
func (c *headerCache) remap(size int64) error {
	if c.mmAll != nil {
		syscall.Munmap(c.mmAll)
		c.mm, c.mmAll = nil, nil
	}
	if size <= 0 {
		return nil
	}
	mm, err := syscall.Mmap(int(c.fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("maildir: header cache: mmap: %w", err)
	}
	c.mm, c.mmAll = mm, mm
	return nil
}

// restart replaces the file with an empty cache for validity (by
// rename, so that other processes' mappings of the old file stay
// valid) and opens it. c.mu is held.
func (c *headerCache) restart(path string, validity uint32) error {
	c.close()
	var hdr [hcHeaderLen]byte
	copy(hdr[:], hcMagic)
	binary.LittleEndian.PutUint32(hdr[8:], validity)
	if err := replaceCache(path, hdr[:]); err != nil {
		return fmt.Errorf("maildir: header cache: write: %w", err)
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("maildir: header cache: %w", err)
	}
	c.fh, c.validity, c.recs, c.total, c.end = fh, validity, map[uint32]hcLoc{}, 0, hcHeaderLen
	return nil
}

// index walks the records of data, remembering those whose UID still
// names a message with the same base, and returns where the last intact
// record ends.
func (c *headerCache) index(data []byte, live []uidBase) int64 {
	off := int64(hcHeaderLen)
	for {
		body, n, ok := hcRecord(data[off:])
		if !ok {
			return off
		}
		c.total++
		if uid, base, _, ok := hcBodyRaw(body); ok {
			if lb, ok := liveBase(live, uid); ok && lb == string(base) {
				c.recs[uid] = hcLoc{off: off, n: uint32(n)}
			}
		}
		off += int64(n)
	}
}

// hcRecord returns the body of the record at the start of b and the
// record's whole length, or false for a torn or corrupt record.
func hcRecord(b []byte) (body []byte, n int, ok bool) {
	if len(b) < 8 {
		return nil, 0, false
	}
	bl := int(binary.LittleEndian.Uint32(b))
	if bl < 6 || bl > hcMaxRecord || len(b) < 8+bl {
		return nil, 0, false
	}
	body = b[4 : 4+bl]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[4+bl:]) {
		return nil, 0, false
	}
	return body, 8 + bl, true
}

// hcBodyRaw splits a record body.
func hcBodyRaw(body []byte) (uid uint32, base, hdr []byte, ok bool) {
	uid = binary.LittleEndian.Uint32(body)
	bl := int(binary.LittleEndian.Uint16(body[4:]))
	if len(body) < 6+bl {
		return 0, nil, nil, false
	}
	return uid, body[6 : 6+bl], body[6+bl:], true
}

// lookup returns the cached header of uid if the record is for base.
// c.mu is held.
func (c *headerCache) lookup(uid uint32, base string) ([]byte, bool) {
	loc, ok := c.recs[uid]
	if !ok {
		return nil, false
	}
	buf := make([]byte, loc.n)
	if !c.copyMapped(buf, loc.off) {
		if _, err := c.fh.ReadAt(buf, loc.off); err != nil {
			delete(c.recs, uid)
			return nil, false
		}
	}
	body, _, ok := hcRecord(buf)
	if !ok {
		delete(c.recs, uid)
		return nil, false
	}
	ruid, rbase, hdr, ok := hcBodyRaw(body)
	if !ok || ruid != uid || string(rbase) != base {
		delete(c.recs, uid)
		return nil, false
	}
	return hdr, true
}

// copyMapped copies len(buf) bytes at off from the mapping, if it covers
// them. A fault (the file cut short by hand under the mapping) reports
// false instead of crashing. c.mu is held.
func (c *headerCache) copyMapped(buf []byte, off int64) (ok bool) {
	if off+int64(len(buf)) > int64(len(c.mm)) {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(buf, c.mm[off:])
	return true
}

// hcRemapEvery: appends past the mapping are read with pread until they
// amount to this much, then the file is mapped again.
const hcRemapEvery = 4 << 20

// add appends a record for uid. Another process appending at the same
// time is kept apart by the file lock. c.mu is held.
func (c *headerCache) add(uid uint32, base string, hdr []byte) error {
	bl := 6 + len(base) + len(hdr)
	if bl > hcMaxRecord || len(base) > 0xffff {
		return nil // too big to cache: served from the file
	}
	rec := make([]byte, 8+bl)
	binary.LittleEndian.PutUint32(rec, uint32(bl))
	binary.LittleEndian.PutUint32(rec[4:], uid)
	binary.LittleEndian.PutUint16(rec[8:], uint16(len(base)))
	copy(rec[10:], base)
	copy(rec[10+len(base):], hdr)
	binary.LittleEndian.PutUint32(rec[4+bl:], crc32.Checksum(rec[4:4+bl], crcTable))
	fd := int(c.fh.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("maildir: header cache: lock: %w", err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	st, err := c.fh.Stat()
	if err != nil {
		return fmt.Errorf("maildir: header cache: %w", err)
	}
	off := st.Size()
	if off < hcHeaderLen {
		return errors.New("maildir: header cache: file truncated by another process")
	}
	if _, err := c.fh.WriteAt(rec, off); err != nil {
		return fmt.Errorf("maildir: header cache: write: %w", err)
	}
	c.recs[uid] = hcLoc{off: off, n: uint32(len(rec))}
	c.total++
	c.end = off + int64(len(rec))
	if c.end-int64(len(c.mm)) >= hcRemapEvery {
		return c.remap(c.end)
	}
	return nil
}

// compact rewrites the file with only the live records and opens the
// new file. c.mu is held.
func (c *headerCache) compact(path string) error {
	out := make([]byte, hcHeaderLen, hcHeaderLen+len(c.recs)*512)
	copy(out, c.mm[:hcHeaderLen])
	recs := make(map[uint32]hcLoc, len(c.recs))
	for uid, loc := range c.recs {
		recs[uid] = hcLoc{off: int64(len(out)), n: loc.n}
		out = append(out, c.mm[loc.off:loc.off+int64(loc.n)]...)
	}
	if err := replaceCache(path, out); err != nil {
		return fmt.Errorf("maildir: header cache: write: %w", err)
	}
	validity := c.validity
	c.close()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("maildir: header cache: reopen: %w", err)
	}
	c.fh, c.validity, c.recs, c.total, c.end = fh, validity, recs, len(recs), int64(len(out))
	return c.remap(c.end)
}
