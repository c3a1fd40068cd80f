package maildir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// uidListFile is Dovecot's per-folder UID map, version 3:
//
//	3 V<uidvalidity> N<nextuid> G<mailbox guid>
//	<uid> [<ext>...] :<base>
//
// where an ext is a letter and a value (W<vsize>, S<size>, G<guid> ...).
// New records are appended; the whole file is rewritten when it holds
// many records of messages that are gone.
const uidListFile = "dovecot-uidlist"

// uidRec is one record of dovecot-uidlist.
type uidRec struct {
	uid   uint32
	base  string
	vsize int64  // W ext, -1 if absent
	ext   string // the ext fields as written, kept on rewrite
}

// uidHeader is the first line of dovecot-uidlist.
type uidHeader struct {
	version  int
	validity uint32
	next     uint32
	guid     string
	extra    string // unknown header fields, kept on rewrite
}

var errUIDListHeader = errors.New("maildir: dovecot-uidlist: bad header")

// parseUIDHeader parses the header line (without its newline).
func parseUIDHeader(line string) (uidHeader, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return uidHeader{}, errUIDListHeader
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return uidHeader{}, errUIDListHeader
	}
	h := uidHeader{version: v}
	switch v {
	case 1:
		// "1 <uidvalidity> <nextuid>"
		if len(f) < 3 {
			return h, errUIDListHeader
		}
		a, err1 := strconv.ParseUint(f[1], 10, 32)
		b, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			return h, errUIDListHeader
		}
		h.validity, h.next = uint32(a), uint32(b)
	case 3:
		var extra []string
		for _, x := range f[1:] {
			if len(x) < 2 {
				continue
			}
			switch x[0] {
			case 'V', 'N':
				n, err := strconv.ParseUint(x[1:], 10, 32)
				if err != nil {
					return h, errUIDListHeader
				}
				if x[0] == 'V' {
					h.validity = uint32(n)
				} else {
					h.next = uint32(n)
				}
			case 'G':
				h.guid = x[1:]
			default:
				extra = append(extra, x)
			}
		}
		h.extra = strings.Join(extra, " ")
	default:
		return h, errUIDListHeader
	}
	if h.validity == 0 {
		return h, errUIDListHeader
	}
	if h.next == 0 {
		h.next = 1
	}
	return h, nil
}

// format returns the header line with its newline, always as version 3.
func (h uidHeader) format() []byte {
	b := make([]byte, 0, 80)
	b = append(b, "3 V"...)
	b = strconv.AppendUint(b, uint64(h.validity), 10)
	b = append(b, " N"...)
	b = strconv.AppendUint(b, uint64(h.next), 10)
	if h.guid != "" {
		b = append(b, " G"...)
		b = append(b, h.guid...)
	}
	if h.extra != "" {
		b = append(b, ' ')
		b = append(b, h.extra...)
	}
	return append(b, '\n')
}

// parseUIDRec parses one record line (without its newline).
func parseUIDRec(line string, version int) (uidRec, bool) {
	r := uidRec{vsize: -1}
	head, base, ok := strings.Cut(line, " :")
	if !ok {
		// Version 1 and some old writers: "<uid> <name>".
		f := strings.Fields(line)
		if len(f) != 2 || version == 3 {
			return r, false
		}
		head, base = f[0], f[1]
	}
	if base == "" || strings.ContainsAny(base, "/\x00") {
		return r, false
	}
	uidStr, ext, _ := strings.Cut(head, " ")
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil || uid == 0 {
		return r, false
	}
	r.uid, r.base, r.ext = uint32(uid), base, strings.TrimSpace(ext)
	for _, x := range strings.Fields(r.ext) {
		if v, ok := strings.CutPrefix(x, "W"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				r.vsize = n
			}
		}
	}
	return r, true
}

// appendRec formats a record line with its newline.
func appendRec(b []byte, r uidRec) []byte {
	b = strconv.AppendUint(b, uint64(r.uid), 10)
	ext := r.ext
	if r.vsize >= 0 && !hasExt(ext, 'W') && parseFileName(r.base).vsize < 0 {
		ext = strings.TrimSpace("W" + strconv.FormatInt(r.vsize, 10) + " " + ext)
	}
	if ext != "" {
		b = append(b, ' ')
		b = append(b, ext...)
	}
	b = append(b, " :"...)
	b = append(b, r.base...)
	return append(b, '\n')
}

// hasExt reports whether an ext string has a field for letter c.
func hasExt(ext string, c byte) bool {
	for _, x := range strings.Fields(ext) {
		if x[0] == c {
			return true
		}
	}
	return false
}

// uidList is a parsed dovecot-uidlist.
type uidList struct {
	hdr  uidHeader
	recs []uidRec // in increasing UID order
	// torn is set when the file ended in a partial line or held lines
	// that did not parse: it should be rewritten.
	torn bool
}

// parseUIDList parses a whole dovecot-uidlist. A bad header is an error;
// bad or out-of-order records are skipped and mark the list torn.
func parseUIDList(data []byte) (*uidList, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, errUIDListHeader
	}
	hdr, err := parseUIDHeader(string(data[:nl]))
	if err != nil {
		return nil, err
	}
	l := &uidList{hdr: hdr}
	l.parseRecs(data[nl+1:])
	return l, nil
}

// parseRecs parses record lines and appends them. It returns the number
// of bytes consumed: a final line without its newline (an append in
// progress or torn by a crash) is not consumed.
func (l *uidList) parseRecs(data []byte) int {
	used := 0
	var last uint32
	if n := len(l.recs); n > 0 {
		last = l.recs[n-1].uid
	}
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			l.torn = true
			break
		}
		line := string(data[:nl])
		data = data[nl+1:]
		used += nl + 1
		r, ok := parseUIDRec(line, l.hdr.version)
		if !ok || r.uid <= last {
			l.torn = true
			continue
		}
		last = r.uid
		l.recs = append(l.recs, r)
		if r.uid >= l.hdr.next {
			l.hdr.next = r.uid + 1
		}
	}
	return used
}

// format returns the whole file.
func (l *uidList) format() []byte {
	b := l.hdr.format()
	for _, r := range l.recs {
		b = appendRec(b, r)
	}
	return b
}

// newGUID returns a random mailbox GUID as Dovecot writes it (32 hex digits).
func newGUID() string {
	var g [16]byte
	rand.Read(g[:])
	return hex.EncodeToString(g[:])
}
