package maildir

import (
	"errors"
	"os"

	"postern/maildir/dovecot"
	"postern/maildir/durable"
)

// SetFlags changes the flags of messages and returns their new state.
// UIDs that no longer exist are skipped. A file renamed meanwhile by
// another process (Dovecot changing its flags) is found by a rescan and
// changed from its new state, so no change is lost. Subscribers see an
// EventFlags with source as its Source for each message whose flags
// changed.
func (f *Folder) SetFlags(uids []uint32, op FlagOp, flags []string, source Source) ([]Message, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, err
	}
	fs, err := f.lettersFor(flags)
	if err != nil {
		return nil, err
	}
	var out []Message
	var changed []uint32
	rescanned := false
	for _, uid := range uids {
		for {
			i := f.find(uid)
			if i < 0 {
				break
			}
			flagsChanged, err := f.setFlagsLocked(i, op, fs)
			if errors.Is(err, os.ErrNotExist) && !rescanned {
				rescanned = true
				if err := f.syncLocked(true); err != nil {
					return out, err
				}
				continue
			}
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				return out, err
			}
			if flagsChanged {
				changed = append(changed, uid)
			}
			out = append(out, f.message(&f.msgs[i]))
			break
		}
	}
	if err := durable.SyncDir(f.path("cur")); err != nil {
		return out, err
	}
	for _, uid := range changed {
		if i := f.find(uid); i >= 0 {
			f.publishLocked(Event{Kind: EventFlags, Message: f.message(&f.msgs[i]), Source: source})
		}
	}
	return out, nil
}

// setFlagsLocked applies op with fs to message i, renaming its file into
// cur/. It reports whether the flags changed; os.ErrNotExist when the file
// is not where memory says.
func (f *Folder) setFlagsLocked(i int, op FlagOp, fs dovecot.FlagSet) (bool, error) {
	e := &f.msgs[i]
	nf := e.fl
	switch op {
	case FlagsAdd:
		nf.Sys |= fs.Sys
		nf.Keywords |= fs.Keywords
	case FlagsRemove:
		nf.Sys &^= fs.Sys
		nf.Keywords &^= fs.Keywords
	case FlagsReplace:
		nf.Sys, nf.Keywords = fs.Sys, fs.Keywords
	}
	if nf == e.fl && !e.inNew {
		return false, nil
	}
	ne := *e
	ne.fl, ne.inNew, ne.info = nf, false, nf.Info()
	if err := os.Rename(f.path(e.name()), f.path(ne.name())); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		return false, ioErr("maildir: set flags", err)
	}
	flagsChanged := nf != e.fl
	*e = ne
	return flagsChanged, nil
}
