package dovecot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Dovecot's dotlock, used around every change of dovecot-uidlist (and
// dovecot-keywords): the lock is the file "<path>.lock" created with
// O_EXCL. It holds "<pid>:<host>" so that a lock left by a dead process on
// this host is broken at once (Dovecot does the same); any other lock is
// stale when it has not been modified for dotlockStale.
const (
	// dotlockStale is MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT in Dovecot's
	// maildir-uidlist.c: two minutes.
	dotlockStale = 2 * time.Minute
	// dotlockTimeout is how long to wait for a lock before giving up; more
	// than dotlockStale so that a stale lock is always broken first.
	dotlockTimeout = dotlockStale + 30*time.Second
	// dotlockMaxPoll bounds the wait between two attempts.
	dotlockMaxPoll = 20 * time.Millisecond
)

// lockSeq numbers the temporary files locks are made from.
var lockSeq atomic.Uint64

// Dotlock is a held dotlock.
type Dotlock struct {
	path string
}

// TakeDotlock takes Dovecot's dotlock for the file at path: it creates
// "<path>.lock" holding "<pid>:<host>", waiting while another process
// holds it and breaking a stale one (untouched for two minutes, or left
// by a process of this host that is gone). host is the machine's real
// host name, as Dovecot writes it. It gives up after two and a half
// minutes. Under the root of an open LockSource the lock is a hard link
// of it; elsewhere it is made from a temporary file beside the lock.
func TakeDotlock(path, host string) (*Dotlock, error) {
	lp := path + ".lock"
	content := []byte(strconv.Itoa(os.Getpid()) + ":" + host)
	deadline := time.Now().Add(dotlockTimeout)
	wait := 100 * time.Microsecond
	// The lock is made whole, then linked into place: a crash can never
	// leave an empty lock that nobody could tell is stale. Under a
	// store's root the whole file is the store's lock source, touched so
	// that the lock is fresh: no file is created per lock.
	tmp := lockSourceFor(lp, host)
	ownTmp := false
	makeTmp := func() error {
		tmp = filepath.Join(filepath.Dir(lp), "."+filepath.Base(lp)+lockTempInfix+strconv.Itoa(os.Getpid())+"."+strconv.FormatUint(lockSeq.Add(1), 10))
		ownTmp = true
		return os.WriteFile(tmp, content, 0o600)
	}
	defer func() {
		if ownTmp {
			os.Remove(tmp)
		}
	}()
	if tmp == "" {
		if err := makeTmp(); err != nil {
			return nil, fmt.Errorf("dotlock %s: %w", lp, err)
		}
	}
	for {
		var err error
		if !ownTmp {
			// The shared source's mtime becomes the lock's: fresh.
			now := time.Now()
			err = os.Chtimes(tmp, now, now)
		}
		if err == nil {
			err = os.Link(tmp, lp)
		}
		if err == nil {
			return &Dotlock{path: lp}, nil
		}
		if !errors.Is(err, os.ErrExist) && !ownTmp {
			// The lock source cannot be linked here (another file
			// system): a temporary file beside the lock can.
			if err := makeTmp(); err != nil {
				return nil, fmt.Errorf("dotlock %s: %w", lp, err)
			}
			continue
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("dotlock %s: %w", lp, err)
		}
		if dotlockIsStale(lp, host) {
			os.Remove(lp)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dotlock %s: held by another process for more than %v", lp, dotlockTimeout)
		}
		time.Sleep(wait + time.Duration(rand.Int64N(int64(wait))))
		if wait < dotlockMaxPoll {
			wait *= 2
		}
	}
}

// dotlockIsStale reports whether the lock at lp can be broken: untouched
// for dotlockStale, or made by a process of this host that is gone.
func dotlockIsStale(lp, host string) bool {
	st, err := os.Stat(lp)
	if err != nil {
		return false // gone already: the next attempt will tell
	}
	if time.Since(st.ModTime()) > dotlockStale {
		return true
	}
	data, err := os.ReadFile(lp)
	if err != nil {
		return false
	}
	pidStr, h, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok || h != host {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	return err == nil && processGone(pid)
}

// Release removes the lock.
func (l *Dotlock) Release() error {
	if err := os.Remove(l.path); err != nil {
		return fmt.Errorf("dovecot: release dotlock: %w", err)
	}
	return nil
}

// LockSource is a file holding "<pid>:<host>" at a store's root, which
// the dotlocks taken under that root are hard links of (see
// TakeDotlock): no file is created and removed per lock.
type LockSource struct {
	root, path, host string
}

// lockSources holds the lock sources of the open stores.
var lockSources struct {
	sync.Mutex
	list []*LockSource
}

// lockSourcePrefix starts the names of lock sources at a store's root.
const lockSourcePrefix = ".postern-dotlock."

// OpenLockSource makes the lock source of a store opened at root (an
// absolute path) for dotlocks naming host, and removes those that dead
// processes of this host left there. It returns nil when the file
// cannot be made: dotlocks are then made from temporary files.
func OpenLockSource(root, host string) *LockSource {
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), lockSourcePrefix)
			pidStr, _, _ := strings.Cut(rest, ".")
			pid, err := strconv.Atoi(pidStr)
			if ok && err == nil && processGone(pid) {
				os.Remove(filepath.Join(root, e.Name()))
			}
		}
	}
	src := &LockSource{root: root + string(filepath.Separator), host: host,
		path: filepath.Join(root, lockSourcePrefix+strconv.Itoa(os.Getpid())+"."+strconv.FormatUint(lockSeq.Add(1), 10))}
	if err := os.WriteFile(src.path, []byte(strconv.Itoa(os.Getpid())+":"+host), 0o600); err != nil {
		return nil
	}
	lockSources.Lock()
	lockSources.list = append(lockSources.list, src)
	lockSources.Unlock()
	return src
}

// Close stops using the lock source and removes it. A nil source does
// nothing.
func (src *LockSource) Close() {
	if src == nil {
		return
	}
	lockSources.Lock()
	for i, x := range lockSources.list {
		if x == src {
			lockSources.list = append(lockSources.list[:i:i], lockSources.list[i+1:]...)
			break
		}
	}
	lockSources.Unlock()
	os.Remove(src.path)
}

// lockSourceFor returns the lock source for a lock at lp naming host,
// or "" when lp is under no open store's root.
func lockSourceFor(lp, host string) string {
	lockSources.Lock()
	defer lockSources.Unlock()
	for _, src := range lockSources.list {
		if src.host == host && strings.HasPrefix(lp, src.root) {
			return src.path
		}
	}
	return ""
}

// lockTempInfix follows the lock's name in the name of the temporary
// file a dotlock is made from: ".<name>.lock.tmp.<pid>.<n>".
const lockTempInfix = ".tmp."

// StaleLockTemp reports whether name (a file name, without directory)
// is the temporary file a dotlock is made from, left by a process of
// this host that is gone (killed while taking a lock): it may be
// removed.
func StaleLockTemp(name string) bool {
	pid, ok := lockTempPID(name)
	return ok && processGone(pid)
}

// lockTempPID returns the process id in the name of a dotlock's
// temporary file.
func lockTempPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	_, rest, ok := strings.Cut(name, ".lock"+lockTempInfix)
	if !ok {
		return 0, false
	}
	pidStr, seq, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, false
	}
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// processGone reports whether pid names another process of this host
// that no longer exists (the owner of a lock or lock file left behind).
func processGone(pid int) bool {
	return pid > 0 && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
}
