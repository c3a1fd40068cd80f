package maildir

import (
	"errors"
	"os"

	"postern/maildir/durable"
)

// TakeRecent claims the folder's recent messages for one session (IMAP
// SELECT, not EXAMINE): it returns their UIDs in increasing order and
// clears Recent on them, so no other session sees them as recent. Their
// files move from new/ to cur/, as Dovecot does on SELECT.
func (f *Folder) TakeRecent() ([]uint32, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, err
	}
	var out []uint32
	renamed := false
	start := 0
	if len(f.msgs) > 0 && f.recentBase == &f.msgs[0] {
		start = min(f.recentHint, len(f.msgs))
	}
	for i := start; i < len(f.msgs); i++ {
		e := &f.msgs[i]
		if !e.recent {
			continue
		}
		e.recent = false
		out = append(out, e.uid)
		if !e.inNew {
			continue
		}
		ne := *e
		ne.inNew, ne.info = false, e.fl.Info()
		err := os.Rename(f.path(e.name()), f.path(ne.name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // gone or moved by another process: the next scan tells
		}
		if err != nil {
			return out, ioErr("maildir: move to cur", err)
		}
		*e = ne
		renamed = true
	}
	if renamed {
		for _, sub := range []string{"new", "cur"} {
			if err := durable.SyncDir(f.path(sub)); err != nil {
				return out, ioErr("maildir: take recent", err)
			}
		}
	}
	// Everything is claimed: the next call starts after it (messages
	// added meanwhile are appended after the hint, or lower it).
	f.recentHint, f.recentBase = len(f.msgs), nil
	if len(f.msgs) > 0 {
		f.recentBase = &f.msgs[0]
	}
	return out, nil
}
