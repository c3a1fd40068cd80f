package maildir

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"postern/maildir/dovecot"
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
	stamp, err := stampOf(f.path(dovecot.KeywordsFile))
	if err != nil {
		return ioErr("maildir: read keywords", err)
	}
	data, err := os.ReadFile(f.path(dovecot.KeywordsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return ioErr("maildir: read keywords", err)
	}
	f.kws = dovecot.ParseKeywords(data)
	f.kwStamp = stamp
	return nil
}

// refreshKeywordsLocked reads dovecot-keywords again when another
// process changed it, and publishes EventFlags for messages whose
// keyword names changed with it.
func (f *Folder) refreshKeywordsLocked(publish bool) error {
	stamp, err := stampOf(f.path(dovecot.KeywordsFile))
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
	if !publish || old == nil || *old == *f.kws {
		return nil
	}
	for i := range f.msgs {
		e := &f.msgs[i]
		if e.fl.Keywords != 0 && !slices.Equal(flagNames(e.fl, old), flagNames(e.fl, f.kws)) {
			f.publishLocked(Event{Kind: EventFlags, Message: f.message(e)})
		}
	}
	return nil
}

// lettersFor maps IMAP flags to a dovecot.FlagSet, adding keywords to
// dovecot-keywords as needed: under its dotlock, after reading what other
// processes added, so two writers never give one letter two meanings.
// f.mu must be held.
func (f *Folder) lettersFor(flags []string) (dovecot.FlagSet, error) {
	var fs dovecot.FlagSet
	var missing []string
	for _, fl := range flags {
		if isRecentFlag(fl) {
			continue
		}
		if b := sysFlagByName(fl); b != 0 {
			fs.Sys |= b
			continue
		}
		if strings.HasPrefix(fl, `\`) {
			return fs, fmt.Errorf("%w: unknown system flag %q", ErrBadName, fl)
		}
		if err := dovecot.CheckKeyword(fl); err != nil {
			return fs, fmt.Errorf("%w: %w", ErrBadName, err)
		}
		if i := f.kws.Index(fl); i >= 0 {
			fs.Keywords |= 1 << i
		} else {
			missing = append(missing, fl)
		}
	}
	if len(missing) == 0 {
		return fs, nil
	}
	lock, err := f.takeDotlock(dovecot.KeywordsFile)
	if err != nil {
		return fs, err
	}
	defer lock.Release()
	if err := f.refreshKeywordsLocked(true); err != nil {
		return fs, err
	}
	added := false
	for _, kw := range missing {
		i := f.kws.Index(kw)
		if i < 0 {
			var ok bool
			if i, ok = f.kws.Add(kw); !ok {
				return fs, fmt.Errorf("%w: folder already has %d keywords", ErrBadName, dovecot.MaxKeywords)
			}
			added = true
		}
		fs.Keywords |= 1 << i
	}
	if added {
		if err := replaceFile(f.path(dovecot.KeywordsFile), f.kws.Format()); err != nil {
			return fs, ioErr("maildir: write keywords", err)
		}
		if f.kwStamp, err = stampOf(f.path(dovecot.KeywordsFile)); err != nil {
			return fs, ioErr("maildir: write keywords", err)
		}
	}
	return fs, nil
}
