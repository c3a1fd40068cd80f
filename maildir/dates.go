package maildir

import (
	"bytes"
	"cmp"
	"os"
	"slices"
	"strconv"
)

// datesFile caches the internal date (file mtime) of each message by UID,
// so that opening a large folder does not stat every file:
//
//	V<uidvalidity>
//	<uid> <unix seconds>
//
// Lines are appended as messages arrive (without fsync: a lost line only
// costs a stat) and the file is rewritten when it holds many lines of
// messages that are gone. A file for another UIDVALIDITY is ignored.
const datesFile = "postern-dates"

// bigScan is the number of new files from which a scan reads the dates
// cache rather than stat each file.
const bigScan = 64

// datedUID is one line of the cache.
type datedUID struct {
	uid uint32
	sec int64
}

// dateList is the cache's content sorted by UID.
type dateList []datedUID

// find returns the cached date of uid.
func (d dateList) find(uid uint32) (int64, bool) {
	i, ok := slices.BinarySearchFunc(d, uid, func(x datedUID, t uint32) int {
		return cmp.Compare(x.uid, t)
	})
	if !ok {
		return 0, false
	}
	return d[i].sec, true
}

// readDatesLocked returns the cached dates, nil when there is no usable
// cache, and the number of lines read.
func (f *Folder) readDatesLocked() (dateList, int) {
	data, err := os.ReadFile(f.path(datesFile))
	if err != nil {
		return nil, 0
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || string(data[:nl+1]) != f.datesHeaderLocked() {
		return nil, 0
	}
	out := make(dateList, 0, bytes.Count(data, []byte{'\n'}))
	lines := 0
	for rest := data[nl+1:]; len(rest) > 0; {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break // a torn last line
		}
		line := rest[:nl]
		rest = rest[nl+1:]
		lines++
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		uid, err1 := strconv.ParseUint(string(line[:sp]), 10, 32)
		sec, err2 := strconv.ParseInt(string(line[sp+1:]), 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, datedUID{uint32(uid), sec})
		}
	}
	slices.SortStableFunc(out, func(a, b datedUID) int {
		return cmp.Compare(a.uid, b.uid)
	})
	return out, lines
}

// appendDates formats date lines for es.
func appendDates(b []byte, es []entry) []byte {
	for i := range es {
		b = strconv.AppendUint(b, uint64(es[i].uid), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, es[i].date, 10)
		b = append(b, '\n')
	}
	return b
}

// cacheDatesLocked appends the dates of es to the cache, starting a new
// file when there is none. Errors only cost stats later.
func (f *Folder) cacheDatesLocked(es []entry) {
	if len(es) == 0 {
		return
	}
	fh, err := os.OpenFile(f.path(datesFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer fh.Close()
	var b []byte
	if st, err := fh.Stat(); err == nil && st.Size() == 0 {
		b = append(b, f.datesHeaderLocked()...)
	}
	fh.Write(appendDates(b, es))
}

// rewriteDatesLocked replaces the cache with the dates of the present
// messages. Errors only cost stats later.
func (f *Folder) rewriteDatesLocked() {
	b := make([]byte, 0, 16+len(f.msgs)*20)
	b = append(b, f.datesHeaderLocked()...)
	replaceCache(f.path(datesFile), appendDates(b, f.msgs))
}

// datesHeaderLocked is the first line of the cache: the UIDVALIDITY its
// UIDs belong to.
func (f *Folder) datesHeaderLocked() string {
	return "V" + strconv.FormatUint(uint64(f.ul.hdr.Validity), 10) + "\n"
}
