package maildir

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// cleanLockTemps removes the temporary files dotlocks are made from
// (".<name>.lock.tmp.<pid>.<n>") that a process killed while taking a
// lock left in the folder directory: those whose process is gone.
func (f *Folder) cleanLockTemps() {
	d, err := os.Open(f.dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		pid, ok := lockTempPID(n)
		if !ok || !processGone(pid) {
			continue
		}
		if err := os.Remove(f.path(n)); err == nil {
			f.acct.st.log.Info("removed a lock file left by a dead process", "user", f.acct.user, "folder", f.name, "file", n)
		}
	}
}

// processGone reports whether pid names another process of this host
// that no longer exists (the owner of a lock or lock file left behind).
func processGone(pid int) bool {
	return pid > 0 && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
}

// lockTempPID returns the process id in the name of a dotlock's
// temporary file.
func lockTempPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	_, rest, ok := strings.Cut(name, ".lock.tmp.")
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
