package maildir

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// fileStamp identifies one version of a file: inode, size, mtime.
type fileStamp struct {
	ino  uint64
	size int64
	mod  time.Time
}

// stampOf returns the stamp of path; the zero stamp when it is missing.
func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{ino: inode(st), size: st.Size(), mod: st.ModTime()}, nil
}

// loadKeywordsLocked reads dovecot-keywords.
func (f *Folder) loadKeywordsLocked() error {
	stamp, err := stampOf(f.path(keywordsFile))
	if err != nil {
		return ioErr("maildir: read keywords", err)
	}
	data, err := os.ReadFile(f.path(keywordsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return ioErr("maildir: read keywords", err)
	}
	f.kws = parseKeywords(data)
	f.kwStamp = stamp
	return nil
}

// refreshKeywordsLocked reads dovecot-keywords again when another
// process changed it, and publishes EventFlags for messages whose
// keyword names changed with it.
func (f *Folder) refreshKeywordsLocked(publish bool) error {
	stamp, err := stampOf(f.path(keywordsFile))
	if err != nil {
		return ioErr("maildir: read keywords", err)
	}
	if stamp == f.kwStamp {
		return nil
	}
	old := f.kws
	if err := f.loadKeywordsLocked(); err != nil {
		return err
	}
	if !publish || old == nil || old.byIndex == f.kws.byIndex {
		return nil
	}
	for i := range f.msgs {
		e := &f.msgs[i]
		if e.fl.kw != 0 && !slices.Equal(e.fl.names(old), e.fl.names(f.kws)) {
			f.publishLocked(Event{Kind: EventFlags, Message: f.message(e)})
		}
	}
	return nil
}

// lettersFor maps IMAP flags to a flagSet, adding keywords to
// dovecot-keywords as needed: under its dotlock, after reading what other
// processes added, so two writers never give one letter two meanings.
// f.mu must be held.
func (f *Folder) lettersFor(flags []string) (flagSet, error) {
	var fs flagSet
	var missing []string
	for _, fl := range flags {
		if isRecentFlag(fl) {
			continue
		}
		if b := sysFlagByName(fl); b != 0 {
			fs.sys |= b
			continue
		}
		if strings.HasPrefix(fl, `\`) {
			return fs, fmt.Errorf("%w: unknown system flag %q", ErrBadName, fl)
		}
		if err := checkKeyword(fl); err != nil {
			return fs, err
		}
		if i := f.kws.index(fl); i >= 0 {
			fs.kw |= 1 << i
		} else {
			missing = append(missing, fl)
		}
	}
	if len(missing) == 0 {
		return fs, nil
	}
	lock, err := takeDotlock(f.path(keywordsFile), f.acct.st.lockHost)
	if err != nil {
		return fs, err
	}
	defer lock.release()
	if err := f.refreshKeywordsLocked(true); err != nil {
		return fs, err
	}
	added := false
	for _, kw := range missing {
		i := f.kws.index(kw)
		if i < 0 {
			var ok bool
			if i, ok = f.kws.add(kw); !ok {
				return fs, fmt.Errorf("%w: folder already has %d keywords", ErrBadName, maxKeywords)
			}
			added = true
		}
		fs.kw |= 1 << i
	}
	if added {
		if err := replaceFile(f.path(keywordsFile), f.kws.format()); err != nil {
			return fs, ioErr("maildir: write keywords", err)
		}
		if f.kwStamp, err = stampOf(f.path(keywordsFile)); err != nil {
			return fs, ioErr("maildir: write keywords", err)
		}
	}
	return fs, nil
}
