package maildir

import (
	"errors"
	"os"

	"postern/maildir/durable"
)

// Expunge removes messages and returns the UIDs removed; missing UIDs are
// skipped. Subscribers see an EventExpunge with source as its Source for
// each.
func (f *Folder) Expunge(uids []uint32, source Source) ([]uint32, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, err
	}
	var out, batch []uint32
	var bytes int64
	seen := map[uint32]bool{}
	// done makes the removals of batch durable and publishes them.
	done := func() error {
		if len(batch) == 0 {
			return nil
		}
		for _, sub := range []string{"new", "cur"} {
			if err := durable.SyncDir(f.path(sub)); err != nil {
				return err
			}
		}
		gone := make(map[uint32]bool, len(batch))
		for _, uid := range batch {
			gone[uid] = true
		}
		f.removeLocked(gone)
		f.acct.quota.add(-bytes, -int64(len(batch)))
		for _, uid := range batch {
			f.publishLocked(Event{Kind: EventExpunge, Message: Message{UID: uid}, Source: source})
		}
		out = append(out, batch...)
		batch, bytes = batch[:0], 0
		return nil
	}
	rescanned := false
	for k := 0; k < len(uids); k++ {
		uid := uids[k]
		i := f.find(uid)
		if i < 0 || seen[uid] {
			continue
		}
		e := &f.msgs[i]
		err := os.Remove(f.path(e.name()))
		if errors.Is(err, os.ErrNotExist) && !rescanned {
			// Renamed by another process (a flag change) or removed by
			// it: a rescan finds its new name, or publishes its expunge.
			rescanned = true
			if err := done(); err != nil {
				return out, err
			}
			if err := f.syncLocked(true); err != nil {
				return out, err
			}
			k--
			continue
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			done()
			return out, ioErr("maildir: expunge", err)
		}
		seen[uid] = true
		batch = append(batch, uid)
		bytes += e.vsize
	}
	if err := done(); err != nil {
		return out, err
	}
	return out, nil
}
