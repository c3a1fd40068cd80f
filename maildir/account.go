package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"postern/maildir/dovecot"
	"postern/maildir/durable"
)

// maildirFolderFile marks a Maildir++ folder directory, as Dovecot and
// Courier create it.
const maildirFolderFile = "maildirfolder"

// Account is one user's Maildir++ tree. It is safe for concurrent use.
type Account struct {
	st   *Store
	user string
	dir  string

	mu      sync.Mutex // folder create/delete/rename, subscriptions
	folders map[string]*Folder

	quota *quotaState
}

// openAccount opens the account rooted at dir, creating INBOX and the
// default folders if missing.
func openAccount(s *Store, user, dir string) (*Account, error) {
	a := &Account{st: s, user: user, dir: dir, folders: map[string]*Folder{}}
	fresh := false
	if _, err := os.Stat(filepath.Join(dir, "cur")); errors.Is(err, os.ErrNotExist) {
		fresh = true
	}
	if err := makeMaildir(dir, false); err != nil {
		return nil, fmt.Errorf("maildir: account %s: %w", user, err)
	}
	if fresh {
		for _, name := range defaultFolders {
			if err := makeMaildir(filepath.Join(dir, dovecot.DirName(name)), true); err != nil {
				return nil, fmt.Errorf("maildir: account %s: folder %s: %w", user, name, err)
			}
		}
		var subs []string
		subs = append(subs, inboxName)
		subs = append(subs, defaultFolders...)
		if err := writeSubscriptions(dir, subs); err != nil {
			return nil, fmt.Errorf("maildir: account %s: %w", user, err)
		}
		if err := durable.SyncDir(dir); err != nil {
			return nil, err
		}
	}
	q, err := loadQuota(a)
	if err != nil {
		return nil, fmt.Errorf("maildir: account %s: %w", user, err)
	}
	a.quota = q
	return a, nil
}

// makeMaildir creates dir with cur/ new/ tmp/ (and the maildirfolder
// marker for a folder other than INBOX); existing parts are kept.
func makeMaildir(dir string, folder bool) error {
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return ioErr("create maildir", err)
		}
	}
	if folder {
		p := filepath.Join(dir, maildirFolderFile)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if err := durable.WriteFile(p, nil, 0o600); err != nil {
				return ioErr("create maildir", err)
			}
		}
	}
	return nil
}

// FolderInfo describes one folder for LIST.
type FolderInfo struct {
	// Name in UTF-8 with "/" as delimiter; "INBOX" for the inbox.
	Name string
	// SpecialUse is the RFC 6154 role such as `\Sent`, or "".
	SpecialUse string
	// Subscribed reports whether the name is in the subscriptions file.
	Subscribed bool
}

// Folders lists the account's folders, INBOX first, then by name.
func (a *Account) Folders() ([]FolderInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, ioErr("maildir: list folders of "+a.user, err)
	}
	subs, err := readSubscriptions(a.dir)
	if err != nil {
		return nil, err
	}
	roles := readRoles(a.dir)
	names := []string{inboxName}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if n, ok := dovecot.FolderFromDir(e.Name()); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names[1:])
	out := make([]FolderInfo, 0, len(names))
	for _, n := range names {
		out = append(out, FolderInfo{Name: n, SpecialUse: roleOf(n, roles), Subscribed: subs[n]})
	}
	return out, nil
}

// folderDir returns the directory of a checked folder name.
func (a *Account) folderDir(name string) string {
	if name == inboxName {
		return a.dir
	}
	return filepath.Join(a.dir, dovecot.DirName(name))
}

// exists reports whether a checked folder name exists on disk.
func (a *Account) exists(name string) bool {
	if name == inboxName {
		return true
	}
	st, err := os.Stat(a.folderDir(name))
	return err == nil && st.IsDir()
}

// CreateFolder creates a folder (and its missing parents). specialUse
// ("" or a role such as `\Archive`) is remembered for LIST.
func (a *Account) CreateFolder(name, specialUse string) error {
	name, err := checkName(name)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exists(name) {
		return fmt.Errorf("maildir: create %q: %w", name, ErrExists)
	}
	segs := splitName(name)
	for i := 1; i < len(segs); i++ {
		parent := joinName(segs[:i])
		if parent == inboxName || a.exists(parent) {
			continue
		}
		if err := makeMaildir(a.folderDir(parent), true); err != nil {
			return fmt.Errorf("maildir: create parent %q: %w", parent, err)
		}
	}
	if err := makeMaildir(a.folderDir(name), true); err != nil {
		return fmt.Errorf("maildir: create %q: %w", name, err)
	}
	if err := durable.SyncDir(a.dir); err != nil {
		return err
	}
	if specialUse != "" {
		if err := setRole(a.dir, name, specialUse); err != nil {
			return err
		}
	}
	return nil
}

// DeleteFolder deletes a folder and its messages. Its subfolders stay.
// Deleting INBOX is refused with ErrBadName.
func (a *Account) DeleteFolder(name string) error {
	name, err := checkName(name)
	if err != nil {
		return err
	}
	if name == inboxName {
		return fmt.Errorf("maildir: delete %q: %w: INBOX cannot be deleted", name, ErrBadName)
	}
	var gone []*Folder
	defer func() { deliverAll(gone) }() // after the unlock below
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.exists(name) {
		return fmt.Errorf("maildir: delete %q: %w", name, ErrNotFound)
	}
	if f := a.folders[name]; f != nil {
		f.markGone()
		gone = append(gone, f)
		delete(a.folders, name)
	}
	// Move it out of sight in one rename, then remove at leisure.
	trash := filepath.Join(a.dir, ".."+"postern-deleted."+a.st.nextBase(time.Now()))
	if err := os.Rename(a.folderDir(name), trash); err != nil {
		return ioErr("maildir: delete "+name, err)
	}
	if err := durable.SyncDir(a.dir); err != nil {
		return err
	}
	a.quota.invalidate()
	if err := os.RemoveAll(trash); err != nil {
		a.st.log.Warn("removing deleted folder", "user", a.user, "dir", trash, "err", err)
	}
	return nil
}

// RenameFolder renames a folder and its subfolders. Renaming INBOX moves
// its messages into a new folder of that name and leaves INBOX empty.
func (a *Account) RenameFolder(oldName, newName string) error {
	oldName, err := checkName(oldName)
	if err != nil {
		return err
	}
	newName, err = checkName(newName)
	if err != nil {
		return err
	}
	if oldName == inboxName {
		return a.renameInbox(newName)
	}
	if newName == inboxName {
		return fmt.Errorf("maildir: rename to INBOX: %w", ErrExists)
	}
	var gone []*Folder
	defer func() { deliverAll(gone) }() // after the unlock below
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.exists(oldName) {
		return fmt.Errorf("maildir: rename %q: %w", oldName, ErrNotFound)
	}
	if a.exists(newName) {
		return fmt.Errorf("maildir: rename to %q: %w", newName, ErrExists)
	}
	if isUnder(newName, oldName) {
		return fmt.Errorf("maildir: rename %q into itself: %w", oldName, ErrBadName)
	}
	// The folder and every subfolder, by directory name.
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return ioErr("maildir: rename", err)
	}
	type mv struct{ from, to string }
	var moves []mv
	for _, e := range ents {
		n, ok := dovecot.FolderFromDir(e.Name())
		if !ok || !(n == oldName || isUnder(n, oldName)) {
			continue
		}
		to := newName + n[len(oldName):]
		if _, err := checkName(to); err != nil {
			return err
		}
		if a.exists(to) {
			return fmt.Errorf("maildir: rename to %q: %w", to, ErrExists)
		}
		moves = append(moves, mv{n, to})
	}
	segs := splitName(newName)
	for i := 1; i < len(segs); i++ {
		parent := joinName(segs[:i])
		if parent != inboxName && !a.exists(parent) {
			if err := makeMaildir(a.folderDir(parent), true); err != nil {
				return err
			}
		}
	}
	for _, m := range moves {
		if f := a.folders[m.from]; f != nil {
			f.markGone()
			gone = append(gone, f)
			delete(a.folders, m.from)
		}
		if err := os.Rename(a.folderDir(m.from), a.folderDir(m.to)); err != nil {
			return ioErr("maildir: rename "+m.from, err)
		}
	}
	if err := durable.SyncDir(a.dir); err != nil {
		return err
	}
	if subs, err := readSubscriptions(a.dir); err == nil {
		changed := false
		for _, m := range moves {
			if subs[m.from] {
				delete(subs, m.from)
				subs[m.to] = true
				changed = true
			}
		}
		if changed {
			if err := writeSubscriptions(a.dir, keys(subs)); err != nil {
				return err
			}
		}
	}
	return renameRoles(a.dir, oldName, newName)
}

// renameInbox moves every INBOX message into a new folder newName.
func (a *Account) renameInbox(newName string) error {
	if newName == inboxName {
		return fmt.Errorf("maildir: rename INBOX to itself: %w", ErrExists)
	}
	if err := a.CreateFolder(newName, ""); err != nil {
		return err
	}
	src, err := a.Folder(inboxName)
	if err != nil {
		return err
	}
	dst, err := a.Folder(newName)
	if err != nil {
		return err
	}
	msgs, _, err := src.Messages()
	if err != nil {
		return err
	}
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	_, _, err = src.Move(uids, dst, nil)
	return err
}

// Subscribe adds name to (on) or removes it from the subscriptions.
// Subscribing to a name that does not exist is allowed (RFC 9051 6.3.7).
func (a *Account) Subscribe(name string, on bool) error {
	name, err := checkName(name)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	subs, err := readSubscriptions(a.dir)
	if err != nil {
		return err
	}
	if subs[name] == on {
		return nil
	}
	if on {
		subs[name] = true
	} else {
		delete(subs, name)
	}
	return writeSubscriptions(a.dir, keys(subs))
}

// Folder returns the folder of that name. Every caller in the process
// gets the same *Folder, so change events reach every session.
func (a *Account) Folder(name string) (*Folder, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.folders[name]; f != nil {
		return f, nil
	}
	if !a.exists(name) {
		return nil, fmt.Errorf("maildir: folder %q: %w", name, ErrNotFound)
	}
	f := newFolder(a, name, a.folderDir(name))
	if err := f.load(); err != nil {
		return nil, err
	}
	a.folders[name] = f
	return f, nil
}

// openFolders returns the folders loaded in this process.
func (a *Account) openFolders() []*Folder {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Folder, 0, len(a.folders))
	for _, f := range a.folders {
		out = append(out, f)
	}
	return out
}

// Usage returns the bytes (RFC822.SIZE) and messages of all folders. It
// reads counters kept up to date by every change; no folder is walked.
func (a *Account) Usage() (bytes, messages int64) {
	return a.quota.usage()
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
