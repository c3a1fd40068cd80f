package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"postern/maildir/dovecot"
)

// Maildir++ quota: the account's "maildirsize" file holds the limits on
// its first line ("<bytes>S,<messages>C") and then "<bytes> <messages>"
// lines whose sum is the usage. Each change appends a line; the file is
// recalculated when it grows past maildirsizeMax, as the Maildir++
// specification and Dovecot's quota-maildir do.
const (
	maildirsizeFile = "maildirsize"
	// maildirsizeMax is the size above which the file is rewritten with
	// one total line (Maildir++: 5120 bytes).
	maildirsizeMax = 5120
)

// quotaFlushDelay is how long changes of usage gather in memory before
// one line appends them all to maildirsize.
const quotaFlushDelay = 100 * time.Millisecond

// quotaState keeps an account's usage in memory, mirrored in maildirsize.
type quotaState struct {
	a        *Account
	mu       sync.Mutex
	bytes    int64
	messages int64
	// pendBytes and pendMessages are the changes not yet appended to
	// maildirsize; flushTimer appends them (nil when none is due).
	pendBytes, pendMessages int64
	flushTimer              *time.Timer
	closed                  bool // the store is closed: nothing more is written
}

// loadQuota reads maildirsize, or walks the account once to create it.
func loadQuota(a *Account) (*quotaState, error) {
	q := &quotaState{a: a}
	data, err := os.ReadFile(filepath.Join(a.dir, maildirsizeFile))
	if err == nil {
		if b, m, ok := parseMaildirsize(data); ok {
			q.bytes, q.messages = b, m
			return q, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, ioErr("read maildirsize", err)
	}
	if err := q.recalc(); err != nil {
		return nil, err
	}
	return q, nil
}

// parseMaildirsize sums the usage lines of a maildirsize file. A last
// line without newline (an interrupted append) is ignored.
func parseMaildirsize(data []byte) (bytes_, messages int64, ok bool) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data[nl+1:]))
	complete := bytes.HasSuffix(data, []byte("\n"))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if !complete && len(lines) > 0 {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			return 0, 0, false
		}
		b, err1 := strconv.ParseInt(f[0], 10, 64)
		m, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		bytes_ += b
		messages += m
	}
	if bytes_ < 0 || messages < 0 {
		return 0, 0, false
	}
	return bytes_, messages, true
}

// limits returns the account's quota (0 = unlimited).
func (q *quotaState) limits() (maxBytes, maxMessages int64) {
	if q.a.st.opts.Quota == nil {
		return 0, 0
	}
	return q.a.st.opts.Quota(q.a.user)
}

// limitLine is the first line of maildirsize.
func (q *quotaState) limitLine() string {
	b, m := q.limits()
	return fmt.Sprintf("%dS,%dC\n", b, m)
}

// recalc walks every folder of the account and rewrites maildirsize.
// Sizes come from W= in file names, else from the file size on disk.
func (q *quotaState) recalc() error {
	var total, count int64
	dirs := []string{q.a.dir}
	ents, err := os.ReadDir(q.a.dir)
	if err != nil {
		return ioErr("quota: list folders", err)
	}
	for _, e := range ents {
		if _, ok := dovecot.FolderFromDir(e.Name()); ok && e.IsDir() {
			dirs = append(dirs, filepath.Join(q.a.dir, e.Name()))
		}
	}
	for _, d := range dirs {
		for _, sub := range []string{"new", "cur"} {
			files, err := os.ReadDir(filepath.Join(d, sub))
			if err != nil {
				continue
			}
			for _, f := range files {
				if strings.HasPrefix(f.Name(), ".") {
					continue
				}
				size := dovecot.ParseFileName(f.Name()).VSize
				if size < 0 {
					if info, err := f.Info(); err == nil {
						size = info.Size()
					}
				}
				if size > 0 {
					total += size
				}
				count++
			}
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes, q.messages = total, count
	q.pendBytes, q.pendMessages = 0, 0 // counted by the walk
	return q.writeLocked()
}

// writeLocked rewrites maildirsize with one total line.
func (q *quotaState) writeLocked() error {
	content := q.limitLine() + fmt.Sprintf("%d %d\n", q.bytes, q.messages)
	if err := replaceFile(filepath.Join(q.a.dir, maildirsizeFile), []byte(content)); err != nil {
		return ioErr("quota: write maildirsize", err)
	}
	return nil
}

// usage returns the current totals.
func (q *quotaState) usage() (int64, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.messages
}

// check returns ErrOverQuota if adding size bytes in n messages would pass
// a limit.
func (q *quotaState) check(size, n int64) error {
	maxB, maxM := q.limits()
	q.mu.Lock()
	defer q.mu.Unlock()
	if maxB > 0 && q.bytes+size > maxB {
		return fmt.Errorf("maildir: %s: %w: %d+%d bytes > %d", q.a.user, ErrOverQuota, q.bytes, size, maxB)
	}
	if maxM > 0 && q.messages+n > maxM {
		return fmt.Errorf("maildir: %s: %w: %d+%d messages > %d", q.a.user, ErrOverQuota, q.messages, n, maxM)
	}
	return nil
}

// add records a change of usage. maildirsize gets it within
// quotaFlushDelay, in one line with the changes made meanwhile (a busy
// folder then appends a line a few times a second, not one per message).
// Lines are not fsynced: after a crash the file is only approximate,
// which the Maildir++ quota scheme tolerates, and it is recalculated when
// it grows.
func (q *quotaState) add(size, n int64) {
	if size == 0 && n == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes = max(q.bytes+size, 0)
	q.messages = max(q.messages+n, 0)
	q.pendBytes += size
	q.pendMessages += n
	switch {
	case q.closed:
		q.flushLocked() // a call in flight at Close: written at once
	case q.flushTimer == nil:
		q.flushTimer = time.AfterFunc(quotaFlushDelay, q.flush)
	}
}

// flush appends the pending changes to maildirsize.
func (q *quotaState) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushLocked()
}

// flushLocked appends the pending changes to maildirsize now, rewriting
// it when it has grown too big or cannot be appended to. q.mu is held.
func (q *quotaState) flushLocked() {
	if q.flushTimer != nil {
		q.flushTimer.Stop()
		q.flushTimer = nil
	}
	size, n := q.pendBytes, q.pendMessages
	if size == 0 && n == 0 {
		return
	}
	q.pendBytes, q.pendMessages = 0, 0
	p := filepath.Join(q.a.dir, maildirsizeFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		q.rewriteLocked()
		return
	}
	_, werr := f.WriteString(strconv.FormatInt(size, 10) + " " + strconv.FormatInt(n, 10) + "\n")
	st, serr := f.Stat()
	f.Close()
	if werr != nil || serr != nil || st.Size() > maildirsizeMax {
		q.rewriteLocked()
	}
}

// close writes the pending changes; later ones are written at once (the
// store is closing: no timer outlives it).
func (q *quotaState) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushLocked()
	q.closed = true
}

// rewriteLocked compacts maildirsize, taking in lines other processes
// appended since the last rewrite.
func (q *quotaState) rewriteLocked() {
	if data, err := os.ReadFile(filepath.Join(q.a.dir, maildirsizeFile)); err == nil {
		if b, m, ok := parseMaildirsize(data); ok {
			q.bytes, q.messages = b, m
		}
	}
	if err := q.writeLocked(); err != nil {
		q.a.st.log.Warn("quota file", "user", q.a.user, "err", err)
	}
}

// invalidate recalculates after a change that is hard to count (a folder
// deleted with its messages).
func (q *quotaState) invalidate() {
	if err := q.recalc(); err != nil {
		q.a.st.log.Warn("quota recalculation", "user", q.a.user, "err", err)
	}
}
