package dovecot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// UIDListFile is Dovecot's per-folder UID map, version 3:
//
//	3 V<uidvalidity> N<nextuid> G<mailbox guid>
//	<uid> [<ext>...] :<base>
//
// where an ext is a letter and a value (W<vsize>, S<size>, G<guid> ...).
// New records are appended; the whole file is rewritten when it holds
// many records of messages that are gone. It is changed only under its
// dotlock (see TakeDotlock).
const UIDListFile = "dovecot-uidlist"

// UIDRecord is one record of dovecot-uidlist.
type UIDRecord struct {
	// UID is the message's IMAP UID.
	UID uint32
	// Base is the base of the message's file name (see FileName).
	Base string
	// VSize is the W ext (the size with CRLF line ends), -1 if absent.
	VSize int64
	// Ext holds the ext fields as read, kept when the file is rewritten.
	Ext string
}

// UIDHeader is the first line of dovecot-uidlist.
type UIDHeader struct {
	// Version is the format version read (1 or 3); the file is always
	// written as version 3.
	Version int
	// Validity is the folder's UIDVALIDITY (V), never 0.
	Validity uint32
	// Next is the UID the next new message gets (N), at least 1.
	Next uint32
	// GUID is the mailbox GUID (G), 32 hex digits, or "".
	GUID string
	// Extra holds the header fields Postern does not know, kept when the
	// file is rewritten.
	Extra string
}

var errUIDListHeader = errors.New("dovecot: dovecot-uidlist: bad header")

// NewUIDHeader returns the header of a new folder, as Dovecot makes it:
// UIDVALIDITY from the clock, UIDNEXT 1, a new random GUID.
func NewUIDHeader() UIDHeader {
	return UIDHeader{Version: 3, Validity: uint32(time.Now().Unix()), Next: 1, GUID: newGUID()}
}

// parseUIDHeader parses the header line (without its newline).
func parseUIDHeader(line string) (UIDHeader, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return UIDHeader{}, errUIDListHeader
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return UIDHeader{}, errUIDListHeader
	}
	h := UIDHeader{Version: v}
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
		h.Validity, h.Next = uint32(a), uint32(b)
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
					h.Validity = uint32(n)
				} else {
					h.Next = uint32(n)
				}
			case 'G':
				h.GUID = x[1:]
			default:
				extra = append(extra, x)
			}
		}
		h.Extra = strings.Join(extra, " ")
	default:
		return h, errUIDListHeader
	}
	if h.Validity == 0 {
		return h, errUIDListHeader
	}
	if h.Next == 0 {
		h.Next = 1
	}
	return h, nil
}

// format returns the header line with its newline, always as version 3.
func (h UIDHeader) format() []byte {
	b := make([]byte, 0, 80)
	b = append(b, "3 V"...)
	b = strconv.AppendUint(b, uint64(h.Validity), 10)
	b = append(b, " N"...)
	b = strconv.AppendUint(b, uint64(h.Next), 10)
	if h.GUID != "" {
		b = append(b, " G"...)
		b = append(b, h.GUID...)
	}
	if h.Extra != "" {
		b = append(b, ' ')
		b = append(b, h.Extra...)
	}
	return append(b, '\n')
}

// parseUIDRecord parses one record line (without its newline).
func parseUIDRecord(line string, version int) (UIDRecord, bool) {
	r := UIDRecord{VSize: -1}
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
	r.UID, r.Base, r.Ext = uint32(uid), base, strings.TrimSpace(ext)
	for _, x := range strings.Fields(r.Ext) {
		if v, ok := strings.CutPrefix(x, "W"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				r.VSize = n
			}
		}
	}
	return r, true
}

// AppendRecord appends the record line for r, with its newline, to b. A
// VSize not already in Ext or in the base's W= field is written as a W
// ext.
func AppendRecord(b []byte, r UIDRecord) []byte {
	b = strconv.AppendUint(b, uint64(r.UID), 10)
	ext := r.Ext
	if r.VSize >= 0 && !hasExt(ext, 'W') && ParseFileName(r.Base).VSize < 0 {
		ext = strings.TrimSpace("W" + strconv.FormatInt(r.VSize, 10) + " " + ext)
	}
	if ext != "" {
		b = append(b, ' ')
		b = append(b, ext...)
	}
	b = append(b, " :"...)
	b = append(b, r.Base...)
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

// UIDList is a parsed dovecot-uidlist.
type UIDList struct {
	// Header is the first line.
	Header UIDHeader
	// Records are the records in increasing UID order.
	Records []UIDRecord
	// Torn is set when the file ended in a partial line or held lines
	// that did not parse: it should be rewritten.
	Torn bool
}

// ParseUIDList parses a whole dovecot-uidlist. A bad header is an error;
// bad or out-of-order records are skipped and mark the list torn.
func ParseUIDList(data []byte) (*UIDList, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, errUIDListHeader
	}
	hdr, err := parseUIDHeader(string(data[:nl]))
	if err != nil {
		return nil, err
	}
	l := &UIDList{Header: hdr}
	l.ParseRecords(data[nl+1:])
	return l, nil
}

// SalvageUIDList parses what is valid in a dovecot-uidlist, however
// damaged: the header (hdrOK reports whether it was readable; if not,
// the list is torn and its header is empty but for Next) and every
// record line that parses.
func SalvageUIDList(data []byte) (l *UIDList, hdrOK bool) {
	if l, err := ParseUIDList(data); err == nil {
		return l, true
	}
	l = &UIDList{Header: UIDHeader{Version: 3, Next: 1}}
	l.ParseRecords(data)
	l.Torn = true
	return l, false
}

// ParseRecords parses record lines (records appended to the file since
// it was last read) and appends them to l, raising l.Header.Next above
// their UIDs. It returns the number of bytes consumed: a final line
// without its newline (an append in progress, or torn by a crash) is not
// consumed.
func (l *UIDList) ParseRecords(data []byte) int {
	used := 0
	var last uint32
	if n := len(l.Records); n > 0 {
		last = l.Records[n-1].UID
	}
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			l.Torn = true
			break
		}
		line := string(data[:nl])
		data = data[nl+1:]
		used += nl + 1
		r, ok := parseUIDRecord(line, l.Header.Version)
		if !ok || r.UID <= last {
			l.Torn = true
			continue
		}
		last = r.UID
		l.Records = append(l.Records, r)
		if r.UID >= l.Header.Next {
			l.Header.Next = r.UID + 1
		}
	}
	return used
}

// Format returns the whole file, as version 3.
func (l *UIDList) Format() []byte {
	b := l.Header.format()
	for _, r := range l.Records {
		b = AppendRecord(b, r)
	}
	return b
}

// newGUID returns a random mailbox GUID as Dovecot writes it (32 hex digits).
func newGUID() string {
	var g [16]byte
	rand.Read(g[:])
	return hex.EncodeToString(g[:])
}
